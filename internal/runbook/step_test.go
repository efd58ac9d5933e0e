package runbook

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/google/go-cmp/cmp"
)

// loadSteps loads one native runbook with the given steps (YAML list items
// indented by six spaces) and returns it.
func loadSteps(t *testing.T, steps string) *Runbook {
	t.Helper()
	path := writeFile(t, t.TempDir(), "rb.yaml", "sleuth_runbooks:\n  - name: t\n    alertname: A\n    instructions: x\n    steps:\n"+steps)
	set, errs := Load(path)
	if len(errs) > 0 {
		t.Fatalf("Load: %v", errs)
	}
	return set.Runbooks()[0]
}

// hostile are label values that try to break out of a quoted string.
var hostile = []string{
	`x"} or vector(1) or up{a="`,
	`x\`,
	`x\"} or vector(1) #`,
	"x\"}\nor vector(1)",
	"x\r\t\x00\x1b'`#{{",
	`x') or vector(1) or up{a='`,
	"ünïcödé ✓",
	"\xff\xfe", // not UTF-8
}

func TestRenderPromQLEscaping(t *testing.T) {
	r := loadSteps(t, `
      - tool: metrics.query_range
        args:
          query: 'rate(container_cpu_cfs_throttled_periods_total{namespace="{{.Labels.namespace}}",pod="{{.Labels.pod}}"}[5m])'
`)
	step := r.Steps[0]
	for _, v := range hostile {
		data := NewTemplateData(Alert{Labels: map[string]string{"namespace": "shop", "pod": v}}, Object{})
		rs, err := step.Render(data)
		if err != nil {
			t.Fatalf("Render(pod=%q): %v", v, err)
		}
		q := rs.Args["query"]
		filters, ok := rateFilters(t, q)
		if !ok {
			t.Fatalf("pod=%q renders %q: not rate(selector[5m])", v, q)
		}
		want := [][]metricsql.LabelFilter{{
			{Label: "__name__", Value: "container_cpu_cfs_throttled_periods_total"},
			{Label: "namespace", Value: "shop"},
			{Label: "pod", Value: v},
		}}
		if diff := cmp.Diff(want, filters); diff != "" {
			t.Errorf("pod=%q renders %q (-want +got filters):\n%s", v, q, diff)
		}
		if rs.Duration("range") != time.Hour {
			t.Errorf("range = %v, want the default 1h", rs.Duration("range"))
		}
	}

	// Without escaping the first value does change the query: the check
	// above is about something real.
	raw := template.Must(template.New("").Parse(`rate(x{pod="{{.Labels.pod}}"}[5m])`))
	var b strings.Builder
	_ = raw.Execute(&b, map[string]any{"Labels": map[string]string{"pod": hostile[0]}})
	if _, ok := rateFilters(t, b.String()); ok {
		t.Fatalf("the unescaped hostile value %q did not change the query %q", hostile[0], b.String())
	}
}

// rateFilters returns the label filters of q when q is rate(SELECTOR[W]).
func rateFilters(t *testing.T, q string) ([][]metricsql.LabelFilter, bool) {
	t.Helper()
	e, err := metricsql.Parse(q)
	if err != nil {
		t.Fatalf("%q does not parse: %v", q, err)
	}
	fn, ok := e.(*metricsql.FuncExpr)
	if !ok || fn.Name != "rate" || len(fn.Args) != 1 {
		return nil, false
	}
	re, ok := fn.Args[0].(*metricsql.RollupExpr)
	if !ok {
		return nil, false
	}
	me, ok := re.Expr.(*metricsql.MetricExpr)
	if !ok {
		return nil, false
	}
	return me.LabelFilterss, true
}

// TestRenderEscapesEverySource: annotations, the target and values a
// function computed are escaped like labels; reQuote output is escaped too,
// so that a regex matcher matches the value literally.
func TestRenderEscapesEverySource(t *testing.T) {
	r := loadSteps(t, `
      - tool: metrics.query
        args:
          query: 'up{a="{{.Annotations.summary}}",b="{{.Target.Name}}",c="{{ printf "%s-%s" .Alert.Name .Pod }}",d=~"{{ reQuote .Labels.deployment }}-.*",e="{{ with index .Labels "missing" }}{{ . }}{{ else }}{{ .Node }}{{ end }}"}'
`)
	v := hostile[0]
	a := Alert{Name: v, Labels: map[string]string{"deployment": "a.b" + v, "pod": v, "node": v}, Annotations: map[string]string{"summary": v}}
	rs, err := r.Steps[0].Render(NewTemplateData(a, Object{Kind: "Deployment", Namespace: "shop", Name: v}))
	if err != nil {
		t.Fatal(err)
	}
	e, err := metricsql.Parse(rs.Args["query"])
	if err != nil {
		t.Fatalf("%q: %v", rs.Args["query"], err)
	}
	me, ok := e.(*metricsql.MetricExpr)
	if !ok {
		t.Fatalf("%q is not a selector", rs.Args["query"])
	}
	want := [][]metricsql.LabelFilter{{
		{Label: "__name__", Value: "up"},
		{Label: "a", Value: v},
		{Label: "b", Value: v},
		{Label: "c", Value: v + "-" + v},
		{Label: "d", Value: `a\.b` + strings.NewReplacer(`{`, `\{`, `}`, `\}`, `(`, `\(`, `)`, `\)`).Replace(v) + "-.*", IsRegexp: true},
		{Label: "e", Value: v},
	}}
	if diff := cmp.Diff(want, me.LabelFilterss); diff != "" {
		t.Errorf("%q (-want +got filters):\n%s", rs.Args["query"], diff)
	}
}

// splitLogsQL splits a LogsQL query into its double-quoted strings
// (unquoted, as VictoriaLogs' lexer reads them with strconv.QuotedPrefix)
// and the text between them.
func splitLogsQL(t *testing.T, q string) (skeleton string, strs []string) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(q); {
		if q[i] != '"' {
			b.WriteByte(q[i])
			i++
			continue
		}
		p, err := strconv.QuotedPrefix(q[i:])
		if err != nil {
			t.Fatalf("%q: unterminated string at %d", q, i)
		}
		s, _ := strconv.Unquote(p)
		strs = append(strs, s)
		b.WriteString(`""`)
		i += len(p)
	}
	return b.String(), strs
}

func TestRenderLogsQLEscaping(t *testing.T) {
	r := loadSteps(t, `
      - tool: logs.query
        args:
          query: 'kubernetes.pod_namespace:"{{.Labels.namespace}}" kubernetes.pod_name:"{{.Labels.pod}}"* (error or "connection refused")'
`)
	const skeleton = `kubernetes.pod_namespace:"" kubernetes.pod_name:""* (error or "")`
	for _, v := range append(hostile, `x" or * or "`) {
		rs, err := r.Steps[0].Render(NewTemplateData(Alert{Labels: map[string]string{"namespace": "shop", "pod": v}}, Object{}))
		if err != nil {
			t.Fatalf("Render(pod=%q): %v", v, err)
		}
		sk, strs := splitLogsQL(t, rs.Args["query"])
		if sk != skeleton {
			t.Errorf("pod=%q renders %q: structure %q, want %q", v, rs.Args["query"], sk, skeleton)
		}
		if diff := cmp.Diff([]string{"shop", v, "connection refused"}, strs); diff != "" {
			t.Errorf("pod=%q: strings (-want +got):\n%s", v, diff)
		}
		if rs.Int("limit") != 100 || rs.Duration("range") != time.Hour {
			t.Errorf("defaults: limit %d range %v", rs.Int("limit"), rs.Duration("range"))
		}
	}
}

// TestRenderNames: Kubernetes names are not escaped but validated, so a
// label cannot turn a get into another path or a selector.
func TestRenderNames(t *testing.T) {
	r := loadSteps(t, `
      - tool: kubernetes.get
        args: {kind: '{{.Target.Kind}}', namespace: '{{.Labels.namespace}}', name: '{{.Labels.pod}}'}
      - tool: kubernetes.logs
        args: {namespace: shop, pod: '{{.Pod}}', container: '{{ index .Labels "container" }}', previous: true}
`)
	f := func(step int, labels map[string]string, target Object, want map[string]string, wantErr string) {
		t.Helper()
		rs, err := r.Steps[step].Render(NewTemplateData(Alert{Labels: labels}, target))
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("Render(%v) = %v, want an error containing %q", labels, err, wantErr)
			}
			var re *RenderError
			if err != nil && !errors.As(err, &re) {
				t.Errorf("error %T is not a *RenderError", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Render(%v): %v", labels, err)
		}
		if diff := cmp.Diff(want, rs.Args); diff != "" {
			t.Errorf("Render(%v) args (-want +got):\n%s", labels, diff)
		}
	}
	pod := Object{Kind: "Pod"}
	f(0, map[string]string{"namespace": "shop", "pod": "checkout-7d4b9c-9xk2p"}, pod,
		map[string]string{"kind": "Pod", "namespace": "shop", "name": "checkout-7d4b9c-9xk2p"}, "")
	f(0, map[string]string{"namespace": "shop", "pod": "../../secrets/x"}, pod, nil,
		`runbook t step 1 (kubernetes.get) arg name: "../../secrets/x" is not a valid Kubernetes name`)
	f(0, map[string]string{"namespace": "shop", "pod": "a,b=c"}, pod, nil, "not a valid Kubernetes name")
	f(0, map[string]string{"namespace": "shop x", "pod": "a"}, pod, nil, "arg namespace")
	f(0, map[string]string{"namespace": "shop", "pod": "a"}, Object{Kind: "Pod/exec"}, nil, "not a valid Kubernetes kind")
	// A missing key is an error naming the key, not a panic.
	f(0, map[string]string{"namespace": "shop"}, pod, nil, `map has no entry for key "pod"`)
	f(0, map[string]string{"namespace": "shop", "pod": "a"}, Object{}, nil, "arg kind: rendered empty")
	// An optional argument that renders empty is left out; defaults fill in.
	f(1, map[string]string{"pod": "a"}, pod, map[string]string{"namespace": "shop", "pod": "a", "previous": "true", "tail": "100"}, "")
	f(1, map[string]string{"pod": "a", "container": "app"}, pod, map[string]string{"namespace": "shop", "pod": "a", "container": "app", "previous": "true", "tail": "100"}, "")

	// Zero TemplateData (nil maps) errors too.
	if _, err := r.Steps[0].Render(TemplateData{Target: pod}); err == nil || !strings.Contains(err.Error(), `map has no entry for key`) {
		t.Errorf("Render(zero data) = %v", err)
	}
}

func TestRenderBounded(t *testing.T) {
	r := loadSteps(t, `
      - tool: metrics.query
        args: {query: 'up{a="{{.Labels.a}}"}'}
`)
	_, err := r.Steps[0].Render(NewTemplateData(Alert{Labels: map[string]string{"a": strings.Repeat("x", maxRenderedBytes)}}, Object{}))
	if !errors.Is(err, errTooLong) {
		t.Errorf("Render(huge label) = %v, want %v", err, errTooLong)
	}
}

func TestRenderSteps(t *testing.T) {
	r := loadSteps(t, `
      - tool: metrics.query
        description: needs pod
        args: {query: 'up{pod="{{.Labels.pod}}"}'}
      - tool: metrics.query
        description: needs nothing
        args: {query: 'up'}
      - tool: metrics.query_range
        args: {query: 'up', range: 2d, step: 1h}
`)
	steps, errs := r.RenderSteps(NewTemplateData(Alert{}, Object{}))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "step 1 (metrics.query) arg query") {
		t.Errorf("errs = %v, want step 1's missing pod", errs)
	}
	if len(steps) != 2 || steps[0].Description != "needs nothing" {
		t.Fatalf("steps = %+v", steps)
	}
	if got := steps[1].String(); got != `metrics.query_range query="up" range="2d" step="1h"` {
		t.Errorf("String() = %s", got)
	}
	if steps[1].Duration("range") != 48*time.Hour || steps[1].Duration("step") != time.Hour {
		t.Errorf("durations: %v %v", steps[1].Duration("range"), steps[1].Duration("step"))
	}
}

// TestParseArgContexts covers where a value may be substituted.
func TestParseArgContexts(t *testing.T) {
	f := func(typ argType, src, wantErr string) {
		t.Helper()
		_, err := parseArg("query", src, typ)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("parseArg(%q): %v", src, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("parseArg(%q) = %v, want an error containing %q", src, err, wantErr)
		}
	}
	const outside = "must sit inside a double-quoted string"
	f(argPromQL, `up{pod="{{.Pod}}"}`, "")
	f(argPromQL, `up{pod={{.Pod}}}`, outside)
	f(argPromQL, `up{pod='{{.Pod}}'}`, "is in a single-quoted string")
	f(argPromQL, "up{pod=`{{.Pod}}`}", "is in a backquoted string")
	f(argPromQL, `up{pod="\{{.Pod}}"}`, outside) // after a backslash the value's first byte would be escaped
	f(argPromQL, `up{pod="\\{{.Pod}}"}`, "")     // an escaped backslash is done
	f(argPromQL, `up{pod="a\"{{.Pod}}"}`, "")    // \" does not end the string
	f(argPromQL, "up # {{.Pod}}\n", "is in a # comment")
	f(argPromQL, "up{a=\"#\",pod=\"{{.Pod}}\"} # note\n", "")
	f(argPromQL, `up{pod="{{.Pod}}`, "template ends inside a double-quoted string")
	// Control structures output nothing themselves; their arms must agree.
	f(argPromQL, `up{a="b"{{ if .Pod }},pod="{{ .Pod }}"{{ end }}}`, "")
	f(argPromQL, `up{a="{{ if .Pod }}{{ .Pod }}{{ else }}x{{ end }}"}`, "")
	f(argPromQL, `up{a="b{{ if .Pod }}"{{ end }}}`, "the branches of if end in different contexts (query and double-quoted string)")
	f(argPromQL, `{{ $p := .Pod }}up{pod="{{ $p }}"}`, "")
	f(argPromQL, `up{pod="{{ range .Labels }}{{ . }}{{ end }}"}`, "range is not allowed")
	f(argPromQL, `{{ define "x" }}y{{ end }}up`, "define and block are not allowed")
	f(argPromQL, `up{pod="{{ template "x" }}"}`, "template is not allowed")
	// Field names are checked when the runbook loads.
	f(argPromQL, `up{pod="{{ .Target.Nmae }}"}`, "Object has no field Nmae")
	f(argPromQL, `up{pod="{{ $.Alert.StartsAt.Unix }}"}`, "")
	f(argPromQL, `up{pod="{{ .Alert.Fingerprnt }}"}`, "Alert has no field Fingerprnt")
	f(argPromQL, `up{pod="{{ .Pod.Name }}"}`, "cannot read field Name of a string")
	f(argPromQL, `up{pod="{{ with .Target }}{{ .Name }}{{ end }}"}`, "")
	f(argPromQL, `up{pod="{{ nosuchfunc .Pod }}"}`, `function "nosuchfunc" not defined`)
	// LogsQL has the same rules.
	f(argLogsQL, `kubernetes.pod_name:"{{.Pod}}" error`, "")
	f(argLogsQL, `kubernetes.pod_name:{{.Pod}} error`, outside)
	// Names are validated after rendering, so any context is fine.
	f(argName, `{{.Pod}}-{{.Container}}`, "")
}

// FuzzRenderPromQL: whatever a label holds, the rendered query parses to
// the template's selector with the label's exact value.
func FuzzRenderPromQL(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	path := writeFile(f, f.TempDir(), "rb.yaml", `
sleuth_runbooks:
  - name: t
    alertname: A
    instructions: x
    steps:
      - tool: metrics.query_range
        args: {query: 'rate(container_cpu_cfs_throttled_periods_total{namespace="{{.Labels.namespace}}",pod="{{.Labels.pod}}"}[5m])'}
`)
	set, errs := Load(path)
	if len(errs) > 0 {
		f.Fatal(errs)
	}
	step := set.Runbooks()[0].Steps[0]
	f.Fuzz(func(t *testing.T, v string) {
		rs, err := step.Render(NewTemplateData(Alert{Labels: map[string]string{"namespace": "shop", "pod": v}}, Object{}))
		if errors.Is(err, errTooLong) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		filters, ok := rateFilters(t, rs.Args["query"])
		if !ok || len(filters) != 1 || len(filters[0]) != 3 || filters[0][2].Value != v || filters[0][1].Value != "shop" {
			t.Fatalf("pod=%q renders %q: filters %+v", v, rs.Args["query"], filters)
		}
	})
}
