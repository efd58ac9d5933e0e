// Package engine provides the investigation engine: from an incident's
// alerts it resolves the Kubernetes object they are about, collects
// evidence in parallel and bounded (objects, events, rollout history, logs,
// the standard metric series and the matched runbooks' steps), runs the
// deterministic analyzers and writes the report. It needs no LLM.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/logsql"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Name is the investigator name reports carry.
const Name = "sleuth-engine"

// Config tunes the engine. Zero values take the defaults.
type Config struct {
	// LookBack is how far before the alert evidence is read (default 1h).
	LookBack time.Duration
	// MaxPods bounds the pods examined per workload (default 10).
	MaxPods int
	// LogLines bounds the log lines read per pod (default 200).
	LogLines int
	// Parallel bounds the collection calls in flight (default 8).
	Parallel int
	// DNSNamespace, DNSService and DNSSelector locate the cluster DNS
	// (default kube-system, kube-dns and k8s-app=kube-dns, which CoreDNS
	// and kube-dns both use).
	DNSNamespace, DNSService, DNSSelector string
}

func (c Config) withDefaults() Config {
	if c.LookBack <= 0 {
		c.LookBack = time.Hour
	}
	if c.MaxPods <= 0 {
		c.MaxPods = 10
	}
	if c.LogLines <= 0 {
		c.LogLines = 200
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	if c.DNSNamespace == "" {
		c.DNSNamespace = "kube-system"
	}
	if c.DNSService == "" {
		c.DNSService = "kube-dns"
	}
	if c.DNSSelector == "" {
		c.DNSSelector = "k8s-app=kube-dns"
	}
	return c
}

// Engine investigates incidents. Each backend is optional: a nil one is
// reported as not checked.
type Engine struct {
	cfg      Config
	kube     *kube.Client
	prom     *promql.Client
	logs     *logsql.Client
	runbooks *runbook.Set
	kb       KnowledgeBase
	log      *slog.Logger
	now      func() time.Time
	// why explains missing backends in reports.
	why map[string]string
}

// Backends are the engine's collaborators; nil ones are not used.
type Backends struct {
	Kube     *kube.Client
	Prom     *promql.Client
	Logs     *logsql.Client
	Runbooks *runbook.Set
	// KB, when set, finds past postmortems the report cites.
	KB KnowledgeBase
	// Missing says why a nil backend is missing ("prometheus.url is not
	// configured"), keyed by "kubernetes", "metrics", "logs".
	Missing map[string]string
}

// New returns an engine.
func New(cfg Config, b Backends, log *slog.Logger, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	why := map[string]string{}
	for k, v := range b.Missing {
		why[k] = v
	}
	return &Engine{cfg: cfg.withDefaults(), kube: b.Kube, prom: b.Prom, logs: b.Logs, runbooks: b.Runbooks, kb: b.KB, log: log, now: now, why: why}
}

// Investigate implements the queue's Investigator.
func (e *Engine) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	if len(job.Alerts) == 0 {
		return nil, investigate.Permanent(fmt.Errorf("incident %d has no alerts", job.Incident.ID))
	}
	r, err := e.InvestigateAlerts(ctx, job.Alerts)
	if r != nil {
		r.IncidentID = job.Incident.ID
	}
	return r, err
}

// InvestigateAlerts investigates a group of alerts about one problem.
func (e *Engine) InvestigateAlerts(ctx context.Context, alerts []store.Alert) (*report.Report, error) {
	if len(alerts) == 0 {
		return nil, investigate.Permanent(errors.New("no alerts to investigate"))
	}
	start := e.now()
	primary := pickPrimary(alerts)
	rec := toolcall.NewRecorder(0, e.now).Observe(toolcall.ObserverFrom(ctx))
	c := &collector{
		e: e, rec: rec, ev: &analyze.Evidence{
			Alert:   toAnalyzeAlert(primary),
			Calls:   map[string][]string{},
			Metrics: map[string][]analyze.Series{},
			Objects: map[string]map[string]any{},
		},
		sem: make(chan struct{}, e.cfg.Parallel),
	}
	for _, a := range alerts {
		c.ev.Alerts = append(c.ev.Alerts, toAnalyzeAlert(a))
	}
	c.window(alerts)
	if e.kube != nil {
		c.kube = e.kube.WithRecorder(rec)
	}
	if e.prom != nil {
		c.prom = e.prom.WithRecorder(rec)
	}
	if e.logs != nil {
		c.logs = e.logs.WithRecorder(rec)
	}
	matched := c.matchRunbooks(primary)
	c.collect(ctx)
	collected := e.now()
	if err := ctx.Err(); err != nil {
		// The deadline passed mid-collection: report what was gathered
		// rather than nothing; the queue retries only real failures.
		c.unchecked("part of the evidence", "the investigation deadline passed: "+err.Error())
	}
	out := analyze.Run(c.ev)
	rc := analyze.Decide(c.ev, out)
	analyzed := e.now()

	r := &report.Report{
		Investigator: Name,
		Generated:    analyzed.UTC(),
		RootCause:    rc,
		Target:       c.ev.Target,
		Findings:     nonNilFindings(out.Findings),
		Checked:      nonNilChecks(out.Checked),
		Unchecked:    nonNilUnchecked(c.ev.Unchecked),
		Runbooks:     matched,
		ToolCalls:    rec.Calls(),
	}
	if c.targetNote != "" {
		r.Findings = append(r.Findings, report.Finding{Analyzer: "target", Category: "unknown", Object: c.ev.Target,
			Title: "How the target was found", Detail: c.targetNote})
	}
	r.Summary = analyze.Summary(c.ev, rc, out)
	r.Remediation = remediation(out.Findings)
	for _, a := range alerts {
		r.Alerts = append(r.Alerts, report.Alert{
			Name: a.Labels["alertname"], Status: a.Status, Fingerprint: a.Fingerprint, StartsAt: a.StartsAt,
			Labels: a.Labels, Annotations: a.Annotations, GeneratorURL: a.GeneratorURL,
		})
	}
	if r.ToolCalls == nil {
		r.ToolCalls = []toolcall.Call{}
	}
	if e.kb != nil {
		r.References = e.kb.Postmortems(ctx, primary.Labels["alertname"], c.ev.Target.Namespace, workloadNames(primary, c.ev))
	}
	r.FillSections(relatedLogs(c.ev, out))
	r.Series = withLimits(c.charts, c.ev.Metrics)
	r.Logs = foldLogs(c.ev.Logs)
	r.Timeline = timeline(c.ev, alerts)
	r.Timing = report.Timing{
		TotalMS:   ms(analyzed.Sub(start)),
		CollectMS: ms(collected.Sub(start)),
		AnalyzeMS: ms(analyzed.Sub(collected)),
		Calls:     len(r.ToolCalls),
	}
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func nonNilFindings(f []report.Finding) []report.Finding {
	if f == nil {
		return []report.Finding{}
	}
	return f
}

func nonNilChecks(c []report.Check) []report.Check {
	if c == nil {
		return []report.Check{}
	}
	return c
}

func nonNilUnchecked(u []report.Unchecked) []report.Unchecked {
	if u == nil {
		return []report.Unchecked{}
	}
	return u
}

// remediation merges the findings' steps, the root cause's first.
func remediation(findings []report.Finding) []string {
	var out []string
	seen := map[string]bool{}
	for i, f := range findings {
		if i > 2 {
			break
		}
		for _, s := range f.Remediation {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// relatedLogs returns the log lines the findings rest on.
func relatedLogs(ev *analyze.Evidence, out *analyze.Output) []string {
	var lines []string
	for _, d := range ev.Dependencies {
		lines = append(lines, d.Errors...)
	}
	n := 0
	for i := len(ev.Logs) - 1; i >= 0 && n < 10; i-- {
		l := ev.Logs[i]
		lines = append(lines, fmt.Sprintf("%s %s/%s: %s", l.Time.UTC().Format("15:04:05"), l.Namespace, l.Pod, strings.TrimSpace(l.Msg)))
		n++
	}
	return lines
}

// KnowledgeBase finds the write-ups of past incidents.
type KnowledgeBase interface {
	// Postmortems returns past postmortems of the alert on one of the
	// workloads (by name), best first.
	Postmortems(ctx context.Context, alertname, namespace string, workloads []string) []report.Reference
}

// workloadNames are the names a write-up would use for what the alert is
// about: the workload from the labels, and the resolved workload and
// target.
func workloadNames(a store.Alert, ev *analyze.Evidence) []string {
	var out []string
	for _, n := range []string{incident.Workload(a.Labels), ev.Workload.Name, ev.Target.Name} {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// pickPrimary returns the most urgent firing alert, the first on ties.
func pickPrimary(alerts []store.Alert) store.Alert {
	best := alerts[0]
	rank := func(a store.Alert) int {
		r := 0
		if a.Status == "firing" {
			r += 10
		}
		switch a.Labels["severity"] {
		case "critical":
			r += 2
		case "warning":
			r++
		}
		if a.Labels["pod"] != "" || a.Labels["deployment"] != "" || a.Labels["node"] != "" || a.Labels["horizontalpodautoscaler"] != "" {
			r++ // names an object: a better entry point
		}
		return r
	}
	for _, a := range alerts[1:] {
		if rank(a) > rank(best) {
			best = a
		}
	}
	return best
}

func toAnalyzeAlert(a store.Alert) analyze.Alert {
	return analyze.Alert{Name: a.Labels["alertname"], Status: a.Status, Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt}
}

// collector gathers the evidence of one investigation.
type collector struct {
	e    *Engine
	rec  *toolcall.Recorder
	kube *kube.Client
	prom *promql.Client
	logs *logsql.Client
	sem  chan struct{}

	// matches are the runbooks that matched the primary alert.
	matches []runbook.Match
	// charts are the series range queries returned, for the report.
	charts []report.Series
	// targetNote says how the target was chosen when the alert named no
	// Kubernetes object (label values, the broken-now scan).
	targetNote string

	mu sync.Mutex
	ev *analyze.Evidence
	// start and end bound what is read: from LookBack before the first
	// alert to the evaluation time.
	start, end time.Time
}

// window sets the time range from the alerts. The end is the real now,
// but no more than an hour after the newest alert started: alerts replayed
// from the past (a scenario, a late re-send) are read around their time.
func (c *collector) window(alerts []store.Alert) {
	first, last := alerts[0].StartsAt, alerts[0].StartsAt
	for _, a := range alerts {
		if a.StartsAt.Before(first) {
			first = a.StartsAt
		}
		if a.StartsAt.After(last) {
			last = a.StartsAt
		}
	}
	now := c.e.now()
	if first.IsZero() || first.After(now) {
		first, last = now, now
	}
	c.end = now
	if limit := last.Add(time.Hour); c.end.After(limit) {
		c.end = limit
	}
	c.start = first.Add(-c.e.cfg.LookBack)
	c.ev.Now = c.end
}

func (c *collector) unchecked(what, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range c.ev.Unchecked {
		if u.What == what && u.Why == why {
			return
		}
	}
	c.ev.Unchecked = append(c.ev.Unchecked, report.Unchecked{What: what, Why: why})
}

// cite links the calls recorded since mark to an evidence key.
func (c *collector) cite(key string, mark int) {
	calls := c.rec.Calls()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, call := range calls[min(mark, len(calls)):] {
		c.ev.Calls[key] = append(c.ev.Calls[key], call.ID)
	}
}

// parallel runs the functions with at most Parallel in flight and waits.
func (c *collector) parallel(ctx context.Context, fns ...func(context.Context)) {
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case c.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-c.sem }()
			fn(ctx)
		}()
	}
	wg.Wait()
}
