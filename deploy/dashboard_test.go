package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
)

// grafanaVars stand in for the variables Grafana substitutes before it
// sends a query.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h",
	"$job", ".*", "$instance", ".*",
)

// metricNames returns the metric names a MetricsQL expression reads; it
// fails on an expression the MetricsQL parser refuses.
func metricNames(expr string) ([]string, error) {
	e, err := metricsql.Parse(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	metricsql.VisitAll(e, func(e metricsql.Expr) {
		me, ok := e.(*metricsql.MetricExpr)
		if !ok {
			return
		}
		for _, lfs := range me.LabelFilterss {
			for _, lf := range lfs {
				if lf.Label == "__name__" && !lf.IsRegexp && !lf.IsNegative {
					names = append(names, lf.Value)
				}
			}
		}
	})
	return names, nil
}

// exportedMetrics are the metric names sleuth's /metrics has, taken from
// the real telemetry package after every labelled series was touched once.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	m := telemetry.New()
	m.Rejected("unauthorized")
	m.Finished("done", time.Second)
	m.InvestigationFinished("oom-killed")
	m.ToolCall("kubernetes", "success", time.Second)
	m.LLMRequest("qwen3", "ok", time.Second, 100, 10)
	m.LLMStage("accepted", false)
	var buf bytes.Buffer
	m.WritePrometheus(&buf, store.Stats{Investigations: map[string]int{store.StateQueued: 1}, OldestQueued: time.Now()}, time.Now())
	names := map[string]bool{}
	name := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	for _, line := range strings.Split(buf.String(), "\n") {
		if n := name.FindString(line); n != "" {
			names[n] = true
		}
	}
	return names
}

// TestDashboard: the dashboard is JSON Grafana can import, and every query
// parses with the MetricsQL parser and reads only metrics sleuth exports
// today.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(sleuthChart, "dashboards", "sleuth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
			GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("dashboard without uid or title")
	}
	exported := exportedMetrics(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d repeated", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q is wider than the grid", p.Title)
		}
		for _, target := range p.Targets {
			names, err := metricNames(grafanaVars.Replace(target.Expr))
			if err != nil {
				t.Errorf("panel %q: %q: %v", p.Title, target.Expr, err)
			}
			for _, n := range names {
				used[n] = true
				if !exported[n] {
					t.Errorf("panel %q reads %s, which sleuth does not export", p.Title, n)
				}
			}
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition == "" {
			continue
		}
		q := regexp.MustCompile(`^label_values\((.*), *\w+\)$`).FindStringSubmatch(v.Definition)
		if q == nil {
			t.Errorf("variable %s: %q", v.Name, v.Definition)
			continue
		}
		if _, err := metricNames(grafanaVars.Replace(q[1])); err != nil {
			t.Errorf("variable %s: %v", v.Name, err)
		}
	}
	// The list: alerts in and rejected, incidents, investigations by
	// state, durations; root-cause categories, tool calls and errors by
	// backend, the model's calls and tokens.
	for _, want := range []string{
		"sleuth_alerts_received_total", "sleuth_alerts_rejected_total", "sleuth_incidents_open",
		"sleuth_incidents_created_total", "sleuth_investigations", "sleuth_investigation_attempts_total",
		"sleuth_investigation_duration_seconds_bucket", "sleuth_queue_depth",
		"sleuth_investigations_finished_total", "sleuth_tool_calls_total", "sleuth_tool_call_duration_seconds_bucket",
		"sleuth_llm_requests_total", "sleuth_llm_prompt_tokens_total", "sleuth_llm_completion_tokens_total",
		"sleuth_llm_request_duration_seconds_bucket", "sleuth_llm_stages_total",
	} {
		if !used[want] {
			t.Errorf("no panel reads %s", want)
		}
	}
}

// TestVMRulesAreTheRuleFiles: the rules chart renders one VMRule per rule
// file of deploy/rules whose groups are the file's groups, unchanged (one
// source of truth, generated at render time), and every expression parses
// with the MetricsQL parser.
func TestVMRulesAreTheRuleFiles(t *testing.T) {
	files, err := filepath.Glob("rules/*.y*ml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if groups, ok := doc["groups"]; ok {
			want["deploy/"+filepath.ToSlash(f)] = groups
		}
	}
	if len(want) == 0 {
		t.Fatal("no rule files in deploy/rules")
	}
	got := map[string]any{}
	objs := render(t, rulesChart, "sleuth-rules", "monitoring")
	for _, o := range objs {
		if o.GetKind() != "VMRule" {
			t.Errorf("rendered a %s", o.GetKind())
			continue
		}
		got[o.GetAnnotations()["sleuth.dev/source"]] = o.Object["spec"].(map[string]any)["groups"]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("VMRules differ from deploy/rules (-files +rendered):\n%s", diff)
	}
	for _, o := range objs {
		var spec struct {
			Groups []struct {
				Name  string
				Rules []struct{ Alert, Record, Expr string }
			}
		}
		into(t, o.Object["spec"], &spec)
		for _, g := range spec.Groups {
			for _, r := range g.Rules {
				if _, err := metricNames(r.Expr); err != nil {
					t.Errorf("%s %s%s: %v", g.Name, r.Alert, r.Record, err)
				}
			}
		}
	}

	// alertLabels reach every alert, and only alerts.
	labelled := render(t, rulesChart, "sleuth-rules", "monitoring", "--set", "alertLabels.cluster=prod")
	for _, o := range labelled {
		var spec struct {
			Groups []struct {
				Rules []struct {
					Alert  string
					Labels map[string]string
				}
			}
		}
		into(t, o.Object["spec"], &spec)
		for _, g := range spec.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" && r.Labels["cluster"] != "prod" || r.Alert == "" && slices.Contains(keys(r.Labels), "cluster") {
					t.Errorf("%s: labels %v", r.Alert, r.Labels)
				}
			}
		}
	}
}
