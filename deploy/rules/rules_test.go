package rules

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
	"go.yaml.in/yaml/v3"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// docsURL is where every alert's runbook_url points, followed by
// "#" and the alert's name in lower case: its section in docs/alert-rules.md.
const docsURL = "https://github.com/sleuth-sre/sleuth/blob/main/docs/alert-rules.md"

// docsPath is docs/alert-rules.md from this package's directory, where go
// test runs.
const docsPath = "../../docs/alert-rules.md"

var severities = []string{"critical", "warning", "info"}

// ruleFile is the part of the Prometheus/vmalert rule file format these
// files use; decoding with KnownFields rejects anything else, so a typo such
// as `anotations` cannot hide a rule's annotations.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// alertRule is one alerting rule and where it is defined.
type alertRule struct {
	rule
	file, group string
}

// loadRules decodes every embedded rule file.
func loadRules(t *testing.T) []alertRule {
	t.Helper()
	names, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no rule files embedded")
	}
	var out []alertRule
	for _, name := range names {
		data, err := FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f ruleFile
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(f.Groups) == 0 {
			t.Errorf("%s: no groups", name)
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					continue
				}
				out = append(out, alertRule{rule: r, file: name, group: g.Name})
			}
		}
	}
	return out
}

// unitTestFile is the part of vmalert-tool's test file format that the
// coverage checks read.
type unitTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name           string `yaml:"name"`
		AlertRuleTests []struct {
			EvalTime  string `yaml:"eval_time"`
			GroupName string `yaml:"groupname"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("tests", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no test files in tests/")
	}
	return files
}

func TestRuleFilesWellFormed(t *testing.T) {
	alerts := loadRules(t)
	groupFile := map[string]string{}
	seen := map[string]bool{} // alert name + severity
	nameRe := regexp.MustCompile(`^[A-Z][A-Za-z0-9]+$`)
	for _, a := range alerts {
		where := fmt.Sprintf("%s: group %s: alert %q", a.file, a.group, a.Alert)
		if f, ok := groupFile[a.group]; ok && f != a.file {
			t.Errorf("%s: group name also used in %s; vmalert and VMRule need unique group names", where, f)
		}
		groupFile[a.group] = a.file
		if !nameRe.MatchString(a.Alert) {
			t.Errorf("%s: alert names are CamelCase, like the kube-prometheus ones", where)
		}
		if _, err := metricsql.Parse(a.Expr); err != nil {
			t.Errorf("%s: expr does not parse: %v", where, err)
		}
		sev := a.Labels["severity"]
		if !slices.Contains(severities, sev) {
			t.Errorf("%s: severity %q, want one of %v", where, sev, severities)
		}
		key := a.Alert + "/" + sev
		if seen[key] {
			t.Errorf("%s: two rules with the same name and severity", where)
		}
		seen[key] = true
		for _, k := range []string{"summary", "description"} {
			if strings.TrimSpace(a.Annotations[k]) == "" {
				t.Errorf("%s: no %s annotation", where, k)
			}
		}
		if want := docsURL + "#" + strings.ToLower(a.Alert); a.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", where, a.Annotations["runbook_url"], want)
		}
	}
}

// TestEveryAlertIsUnitTested fails for an alert without a unit test that
// sees it fire (for each of its severities) and one that sees it stay quiet,
// and for a test case naming an alert or group that does not exist: for
// those vmalert-tool finds no alert, so an expectation of none would pass
// without testing anything.
func TestEveryAlertIsUnitTested(t *testing.T) {
	alerts := loadRules(t)
	groupOf := map[string]string{}
	for _, a := range alerts {
		groupOf[a.Alert] = a.group
	}
	fired := map[string]bool{} // alert name + severity
	quiet := map[string]bool{} // alert name
	ruleFilesTested := map[string]bool{}
	for _, path := range testFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f unitTestFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, rf := range f.RuleFiles {
			if _, err := os.Stat(filepath.Join("tests", rf)); err != nil {
				t.Errorf("%s: rule file %s: %v", path, rf, err)
			}
			ruleFilesTested[filepath.Base(rf)] = true
		}
		for _, tg := range f.Tests {
			for _, c := range tg.AlertRuleTests {
				where := fmt.Sprintf("%s: test %q: %s at %s", path, tg.Name, c.Alertname, c.EvalTime)
				g, ok := groupOf[c.Alertname]
				if !ok {
					t.Errorf("%s: no rule defines this alert", where)
					continue
				}
				if c.GroupName != g {
					t.Errorf("%s: groupname %q, but the alert is in group %q", where, c.GroupName, g)
					continue
				}
				if len(c.ExpAlerts) == 0 {
					quiet[c.Alertname] = true
				}
				for _, e := range c.ExpAlerts {
					fired[c.Alertname+"/"+e.ExpLabels["severity"]] = true
				}
			}
		}
	}
	for _, a := range alerts {
		if !fired[a.Alert+"/"+a.Labels["severity"]] {
			t.Errorf("%s: alert %s (severity %s) has no test case in tests/ where it fires", a.file, a.Alert, a.Labels["severity"])
		}
		if !quiet[a.Alert] {
			t.Errorf("%s: alert %s has no test case in tests/ where it stays quiet", a.file, a.Alert)
		}
		if !ruleFilesTested[a.file] {
			t.Errorf("%s: no test file in tests/ lists it in rule_files", a.file)
		}
	}
}

// TestDocsListEveryAlert fails for an alert missing from docs/alert-rules.md,
// where its runbook_url points.
func TestDocsListEveryAlert(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, a := range loadRules(t) {
		if !strings.Contains(doc, "\n### "+a.Alert+"\n") {
			t.Errorf("%s: no section \"### %s\" in %s (its runbook_url's anchor)", a.file, a.Alert, docsPath)
		}
		if !strings.Contains(doc, "| ["+a.Alert+"](#"+strings.ToLower(a.Alert)+") |") {
			t.Errorf("%s: no row for %s in the table of %s", a.file, a.Alert, docsPath)
		}
	}
}

// TestVmalertAcceptsRules loads the files as WriteDir writes them into the
// real vmalert, whose -dryRun parses the rules, their expressions and their
// annotation templates the way a running vmalert does.
func TestVmalertAcceptsRules(t *testing.T) {
	vmalert := testbackend.Binary(t, "vmalert")
	dir := t.TempDir()
	paths, err := WriteDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := Files()
	if len(paths) != len(names) || len(paths) == 0 {
		t.Fatalf("WriteDir wrote %v for files %v", paths, names)
	}
	out, err := exec.Command(vmalert, "-dryRun", "-rule="+filepath.Join(dir, "*.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("vmalert -dryRun: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("found %d files", len(paths)); !strings.Contains(string(out), want) {
		t.Fatalf("vmalert -dryRun did not report %q:\n%s", want, out)
	}
}

// runUnitTest runs `vmalert-tool unittest` on one test file. The tool keeps
// its temporary storage under TMPDIR, which the test removes.
func runUnitTest(t *testing.T, tool, file string) (string, error) {
	t.Helper()
	cmd := exec.Command(tool, "unittest", "-files="+file)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestUnit runs the alert rules' unit tests in tests/ with the real
// vmalert-tool: vmalert's rule engine over an embedded VictoriaMetrics. Each
// file runs on its own, because the tool stops at the first failing file.
func TestUnit(t *testing.T) {
	tool := testbackend.Binary(t, "vmalert-tool")
	for _, file := range testFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			out, err := runUnitTest(t, tool, file)
			if err != nil || !strings.Contains(out, "SUCCESS") {
				t.Fatalf("vmalert-tool unittest -files=%s: %v\n%s", file, err, out)
			}
		})
	}
}

// TestUnitCatchesWrongExpectation makes sure a failing case fails TestUnit:
// a test that expects no KubePodCrashLooping for a crash-looping container
// must make vmalert-tool exit non-zero and name the alert.
func TestUnitCatchesWrongExpectation(t *testing.T) {
	tool := testbackend.Binary(t, "vmalert-tool")
	dir := t.TempDir()
	if _, err := WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "wrong_test.yaml")
	const wrong = `rule_files: [kubernetes-pods.yaml]
evaluation_interval: 1m
tests:
  - name: wrong expectation
    input_series:
      - series: 'kube_pod_container_status_waiting_reason{namespace="shop",pod="checkout-7d4b9c-9xk2p",container="app",reason="CrashLoopBackOff"}'
        values: '1x30'
    alert_rule_test:
      - eval_time: 20m
        groupname: kubernetes-pods
        alertname: KubePodCrashLooping
        exp_alerts: []
`
	if err := os.WriteFile(file, []byte(wrong), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runUnitTest(t, tool, file)
	if err == nil {
		t.Fatalf("vmalert-tool passed a test that expects the wrong result:\n%s", out)
	}
	if !strings.Contains(out, "FAILED") || !strings.Contains(out, `alertname="KubePodCrashLooping"`) {
		t.Fatalf("vmalert-tool failed without naming the failing alert: %v\n%s", err, out)
	}
}
