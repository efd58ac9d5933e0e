package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/eval"
	"github.com/sleuth-sre/sleuth/internal/lab"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/scenario"
	"github.com/sleuth-sre/sleuth/scenarios"
)

// demoCategories are the root causes the demo shows, one scenario each:
// the everyday failures, one dependency chain and one node problem.
var demoCategories = []string{"oom-killed", "crash-loop", "config-error", "dependency-failure", "node-failure"}

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "play every shipped scenario, not one per demo category")
	full := fs.Bool("full", false, "print whole reports (what was checked, every tool call)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "sleuth demo:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "sleuth-demo-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	files, err := demoScenarios(dir, *all)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "sleuth demo: starting a local lab of real backends (Kubernetes API server, VictoriaMetrics, VictoriaLogs, Alertmanager)\n")
	l, err := lab.Start(ctx, lab.Options{Progress: stderr})
	if err != nil {
		return fail(err)
	}
	defer l.Stop()
	fmt.Fprintf(stderr, "sleuth demo: playing %d incidents through sleuth (no LLM)\n\n", len(files))
	var progress strings.Builder
	sum, err := eval.Run(ctx, eval.Options{
		Lab: l, Config: config.Default(), Out: &progress,
		OnReport: func(s *scenario.Scenario, r *report.Report) {
			fmt.Fprintf(stdout, "━━━ incident: %s ━━━\n", strings.Join(alertNames(s), ", "))
			text := r.Text()
			if !*full {
				// The answer and its evidence; the checks and the tool
				// calls are in the API and in --full.
				text, _, _ = strings.Cut(text, "\nCHECKED AND HEALTHY")
				text += fmt.Sprintf("\n(%d checks passed, %d tool calls; --full shows them)", len(r.Checked), len(r.ToolCalls))
			}
			fmt.Fprintln(stdout, strings.TrimSpace(text))
			fmt.Fprintln(stdout)
		},
	}, files)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(stdout, "━━━ scores against what each scenario expects ━━━")
	fmt.Fprint(stdout, progress.String())
	fmt.Fprintf(stdout, `
Everything the demo started is stopped again. Next:
  sleuth lab up                            keep a lab running; it prints a sleuth config for it
  sleuth serve --config LAB/sleuth.yaml    sleuth on it; the API is at http://127.0.0.1:8080/api/investigations
  sleuth lab load scenarios/FILE.yaml      load an incident; its alerts reach sleuth through Alertmanager
  sleuth eval scenarios/                   score every scenario (%d here, and the hold-out sets)
Investigate your own cluster instead: write a config with prometheus.url,
victorialogs.url and kubernetes.kubeconfig (README.md), run sleuth serve, and
point Alertmanager's webhook receiver at http://SLEUTH:8080/webhook.
`, len(mustList()))
	_ = sum // the scores are printed; a failed one is news, not an error of the demo
	return 0
}

func alertNames(s *scenario.Scenario) []string {
	var out []string
	for _, a := range s.Alerts {
		n := a.Labels["alertname"]
		if ns := a.Labels["namespace"]; ns != "" {
			n += " in " + ns
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func mustList() []string {
	names, _ := fs.Glob(scenarios.FS, "*.yaml")
	return names
}

// demoScenarios writes the demo's scenarios, embedded in the binary, into
// dir and returns their paths: the first (by file name) of each demo
// category, or all of them.
func demoScenarios(dir string, all bool) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, name := range mustList() {
		data, err := scenarios.FS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if !all {
			s, err := scenario.Parse(name, data)
			if err != nil {
				return nil, err
			}
			r, err := s.Resolve(time.Now())
			if err != nil {
				return nil, err
			}
			cat := r.Expect.Categories[0]
			if !slices.Contains(demoCategories, cat) || seen[cat] {
				continue
			}
			seen[cat] = true
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
		out = append(out, path)
	}
	if len(out) == 0 {
		return nil, errors.New("no demo scenarios are embedded in this binary")
	}
	return out, nil
}
