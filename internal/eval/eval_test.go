package eval_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/deploy/rules"
	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/eval"
	"github.com/sleuth-sre/sleuth/internal/lab"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/scenario"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

func TestRun(t *testing.T) {
	for _, b := range lab.Backends[:len(lab.Backends)-1] {
		testbackend.Binary(t, b)
	}
	l, err := lab.Start(context.Background(), lab.Options{BinDir: testbackend.BinDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()

	files := []string{"testdata/a-crashloop.yaml", "testdata/b-malformed.yaml", "testdata/c-resolved.yaml"}
	// The crash loop twice: the second run must see a reset lab and a
	// fresh sleuth, and the repeated name is refused.
	files = append(files, "testdata/a-crashloop.yaml")
	var out bytes.Buffer
	var reports []*report.Report
	sum, err := eval.Run(context.Background(), eval.Options{
		Lab: l, Config: config.Default(), Out: &out,
		OnReport: func(_ *scenario.Scenario, r *report.Report) { reports = append(reports, r) },
	}, files)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	if sum.Total != 4 || len(sum.Scenarios) != 4 {
		t.Fatalf("total %d, %d results", sum.Total, len(sum.Scenarios))
	}
	crash, bad, resolved, dup := sum.Scenarios[0], sum.Scenarios[1], sum.Scenarios[2], sum.Scenarios[3]
	if !crash.Pass || crash.Category != "crash-loop" || crash.Culprit.Name != "web" || crash.Error != "" {
		t.Errorf("crash loop: %+v", crash)
	}
	if bad.Pass || !strings.Contains(bad.Error, "b-malformed.yaml:5: alerts[0].severity: unknown key") {
		t.Errorf("malformed: %+v", bad)
	}
	if resolved.Pass || !strings.Contains(resolved.Error, "no incident") {
		t.Errorf("resolved only: %+v", resolved)
	}
	if dup.Pass || !strings.Contains(dup.Error, "already used") {
		t.Errorf("duplicate: %+v", dup)
	}
	if sum.Passed != 1 || sum.Categories["crash-loop"].Passed != 1 {
		t.Errorf("summary %+v", sum)
	}
	if len(reports) != 1 || len(reports[0].Alerts) != 1 {
		t.Errorf("reports: %d", len(reports))
	}
	if !strings.Contains(out.String(), "passed 1 of 4 scenarios") || !strings.Contains(out.String(), "PASS crashloop-after-panic") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestRunE2E lets the shipped rules fire on a scenario's metrics in
// vmalert and the real Alertmanager deliver them to sleuth.
func TestRunE2E(t *testing.T) {
	for _, b := range lab.Backends {
		testbackend.Binary(t, b)
	}
	rs, err := rules.Contents()
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(context.Background(), lab.Options{BinDir: testbackend.BinDir(t), Rules: rs, SleuthListen: testbackend.FreeAddr(t), EvaluationInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	var out bytes.Buffer
	sum, err := eval.Run(context.Background(), eval.Options{Lab: l, Config: config.Default(), Out: &out, E2E: true},
		[]string{"testdata/e2e/crashloop.yaml", "testdata/b-malformed.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	r := sum.Scenarios[0]
	if !r.Pass || r.Category != "crash-loop" || r.Culprit.Name != "web" {
		t.Errorf("end to end: %+v", r)
	}
	alerts, err := l.RuleAlerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fired := false
	for _, a := range alerts {
		fired = fired || (a.Name == "KubePodCrashLooping" && a.State == "firing")
	}
	if !fired {
		t.Errorf("KubePodCrashLooping is not firing in vmalert: %+v", alerts)
	}
}
