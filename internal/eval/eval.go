// Package eval provides the scenario evaluation: for each incident
// scenario it resets the lab, loads the scenario, delivers its alerts to a
// fresh sleuth the way Alertmanager does (or, end to end, lets vmalert and
// Alertmanager do it), waits for the report and scores it.
package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/app"
	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/lab"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/scenario"
	"github.com/sleuth-sre/sleuth/internal/store"
)

// Options configure Run.
type Options struct {
	// Lab is the running lab scenarios are loaded into.
	Lab *lab.Lab
	// Config is the sleuth configuration under test; the lab's backends
	// and a fresh store replace its own for every scenario.
	Config config.Config
	// E2E lets vmalert evaluate the lab's alert rules over the scenario's
	// metrics and Alertmanager deliver what fires, instead of posting the
	// scenario's alerts.
	E2E bool
	// Timeout bounds one scenario (default 3m).
	Timeout time.Duration
	// Out receives a line per scenario and the total (nil: discarded).
	Out io.Writer
	// Log receives sleuth's own logs (nil: discarded).
	Log *slog.Logger
	// OnReport, if set, is called with each finished report.
	OnReport func(s *scenario.Scenario, r *report.Report)
}

// Summary is the JSON the eval writes (docs/scenario-format.md), with
// per-category counts.
type Summary struct {
	Total     int               `json:"total"`
	Passed    int               `json:"passed"`
	Scenarios []scenario.Result `json:"scenarios"`
	// Categories counts passes by expected category (the first one listed).
	Categories map[string]*Count `json:"categories,omitempty"`
	Seconds    float64           `json:"seconds"`
}

// Count is a pass count.
type Count struct {
	Total  int `json:"total"`
	Passed int `json:"passed"`
}

// Files expands paths (files or directories, searched for *.yaml and
// *.yml) into scenario files, sorted within each directory.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out, nil
}

// Run evaluates the scenario files one after another. A scenario that
// fails to parse, load or run is a failed scenario with its error; the
// others still run. Run returns an error only when ctx ends.
func Run(ctx context.Context, o Options, files []string) (*Summary, error) {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	started := time.Now()
	sum := &Summary{Categories: map[string]*Count{}}
	names := map[string]string{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		res, cat := runOne(ctx, o, f, names)
		sum.Total++
		if res.Pass {
			sum.Passed++
		}
		c := sum.Categories[cat]
		if c == nil {
			c = &Count{}
			sum.Categories[cat] = c
		}
		c.Total++
		if res.Pass {
			c.Passed++
		}
		sum.Scenarios = append(sum.Scenarios, res)
		fmt.Fprintln(out, Line(res))
	}
	sum.Seconds = time.Since(started).Seconds()
	fmt.Fprintf(out, "passed %d of %d scenarios (%.0f%%) in %.1fs\n", sum.Passed, sum.Total, percent(sum.Passed, sum.Total), sum.Seconds)
	return sum, nil
}

func percent(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// Line renders one scenario's result.
func Line(r scenario.Result) string {
	mark := "PASS"
	if !r.Pass {
		mark = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-40s %5.2fs", mark, r.Name, r.Seconds)
	if r.Error != "" {
		fmt.Fprintf(&b, "  error: %s", r.Error)
		return b.String()
	}
	got := r.Category
	if r.Culprit.Kind != "" {
		got += " " + r.Culprit.String()
	}
	fmt.Fprintf(&b, "  got %s", got)
	if !r.Pass {
		fmt.Fprintf(&b, "  want %s", r.Expected)
		if len(r.Missing) > 0 {
			fmt.Fprintf(&b, "  missing mentions %q", r.Missing)
		}
	}
	return b.String()
}

// runOne returns the result and the category it counts under.
func runOne(ctx context.Context, o Options, file string, names map[string]string) (res scenario.Result, category string) {
	started := time.Now()
	res.File = file
	res.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	category = "(unparsed)"
	defer func() { res.Seconds = time.Since(started).Seconds() }()
	fail := func(err error) (scenario.Result, string) {
		res.Error = err.Error()
		return res, category
	}
	parsed, err := scenario.ReadFile(file)
	if err != nil {
		return fail(err)
	}
	s, err := parsed.Resolve(time.Now())
	if err != nil {
		return fail(err)
	}
	res.Name = s.Name
	category = s.Expect.Categories[0]
	if prev, dup := names[s.Name]; dup {
		return fail(fmt.Errorf("%s: name %q is already used by %s", file, s.Name, prev))
	}
	names[s.Name] = file
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ph := &scenario.Phases{}
	rep, err := investigate(ctx, o, s, ph)
	res.Phases = ph
	if err != nil {
		return fail(err)
	}
	scoring := time.Now()
	if o.OnReport != nil {
		o.OnReport(s, rep)
	}
	v := scenario.Verdict{
		Category: rep.RootCause.Category,
		Culprit:  scenario.Object{Kind: rep.RootCause.Object.Kind, Namespace: rep.RootCause.Object.Namespace, Name: rep.RootCause.Object.Name},
		Text:     rep.SearchText(),
	}
	scored := scenario.Score(s.Expect, v)
	scored.Name, scored.File = s.Name, file
	ph.Score = time.Since(scoring).Seconds()
	scored.Phases = ph
	return scored, category
}

// investigate loads the scenario, runs a fresh sleuth against the lab,
// delivers the alerts and returns the report of the first alert's incident.
func investigate(ctx context.Context, o Options, s *scenario.Scenario, ph *scenario.Phases) (*report.Report, error) {
	l := o.Lab
	began := time.Now()
	if err := l.Reset(ctx); err != nil {
		return nil, fmt.Errorf("reset the lab: %w", err)
	}
	if _, err := l.Load(ctx, s); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	ph.Load = time.Since(began).Seconds()
	began = time.Now()
	defer func() { ph.Investigate = time.Since(began).Seconds() }()
	dir, err := os.MkdirTemp("", "sleuth-eval-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg := o.Config
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = "sqlite://" + filepath.Join(dir, "sleuth.db")
	cfg.Auth.WebhookToken = l.WebhookToken
	cfg.Prometheus.URL = l.URLs.VictoriaMetrics
	cfg.VictoriaLogs.URL = l.URLs.VictoriaLogs
	cfg.Kubernetes.Enabled = true
	cfg.Kubernetes.Kubeconfig = l.Kubeconfig
	cfg.Kubernetes.Context = lab.KubeContext

	if o.E2E {
		if s.FixedNow {
			return nil, errors.New("--e2e needs a scenario on the load-time clock: vmalert evaluates rules at the real time, and this one fixes `now`")
		}
		// Alertmanager delivers to the address the lab was started with.
		cfg.Listen = l.SleuthListen
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Serve(sctx, cfg, o.Log, func(addr string) { addrc <- addr }) }()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case err := <-done:
		return nil, fmt.Errorf("start sleuth: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { stop(); <-done }()
	c := &client{base: base, webhookToken: l.WebhookToken, apiToken: cfg.Auth.APIToken}

	want := incident.Key(cfg.Incidents.GroupBy, s.Alerts[0].Labels)
	if o.E2E {
		if err := l.ReplayAlerts(ctx, s.Now); err != nil {
			return nil, err
		}
		firing, err := l.WaitFiring(ctx)
		if err != nil {
			return nil, err
		}
		routed := 0
		for _, a := range firing {
			if sev := a.Labels["severity"]; sev == "critical" || sev == "warning" {
				routed++
			}
		}
		if routed == 0 {
			return nil, fmt.Errorf("no shipped alert rule fired on the scenario's metrics (firing: %d, none critical or warning)", len(firing))
		}
	} else if err := c.post(ctx, s); err != nil {
		return nil, err
	}
	return c.wait(ctx, want, o.E2E)
}

type client struct {
	base         string
	webhookToken string
	apiToken     string
	http         http.Client
}

// post delivers the scenario's alerts as one Alertmanager notification.
func (c *client) post(ctx context.Context, s *scenario.Scenario) error {
	p := alert.Payload{
		Version:     "4",
		Receiver:    "sleuth",
		Status:      alert.StatusFiring,
		GroupLabels: map[string]string{},
		ExternalURL: "http://alertmanager.lab",
		GroupKey:    "{}:{}",
	}
	allResolved := true
	for _, a := range s.Alerts {
		fp := a.Fingerprint
		if fp == "" {
			fp = alert.Fingerprint(a.Labels)
		}
		p.Alerts = append(p.Alerts, alert.Alert{
			Status: a.Status, Labels: a.Labels, Annotations: nonNil(a.Annotations),
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL, Fingerprint: fp,
		})
		allResolved = allResolved && a.Status == alert.StatusResolved
	}
	if allResolved {
		p.Status = alert.StatusResolved
	}
	p.CommonLabels, p.CommonAnnotations = common(s.Alerts)
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/webhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.webhookToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("deliver alerts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("deliver alerts: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// common returns the labels and annotations all alerts share, as
// Alertmanager computes commonLabels and commonAnnotations.
func common(as []scenario.Alert) (labels, annotations map[string]string) {
	inter := func(get func(scenario.Alert) map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range get(as[0]) {
			out[k] = v
		}
		for _, a := range as[1:] {
			m := get(a)
			for k, v := range out {
				if m[k] != v {
					delete(out, k)
				}
			}
		}
		return out
	}
	return inter(func(a scenario.Alert) map[string]string { return a.Labels }),
		inter(func(a scenario.Alert) map[string]string { return a.Annotations })
}

func (c *client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	if c.apiToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiToken)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return json.Unmarshal(raw, v)
}

// settle is how long an end-to-end evaluation waits for more incidents
// after the last new one: Alertmanager delivers each group after its
// group_wait, and vmalert's groups start spread over an interval.
const settle = 8 * time.Second

// wait waits until every queued investigation has finished and returns the
// report of the incident keyed want (in end-to-end mode, of the first
// incident when no incident has that key).
func (c *client) wait(ctx context.Context, want string, e2e bool) (*report.Report, error) {
	anyIncident := e2e
	lastCount, lastChange := -1, time.Now()
	for {
		var incs struct {
			Items []store.Incident `json:"items"`
		}
		var invs struct {
			Items []store.Investigation `json:"items"`
		}
		if err := c.get(ctx, "/api/incidents?limit=1000", &incs); err != nil {
			return nil, err
		}
		if err := c.get(ctx, "/api/investigations?limit=1000", &invs); err != nil {
			return nil, err
		}
		// The webhook answers after the store committed, so whatever the
		// delivery queued is visible now; in end-to-end mode the delivery
		// itself is awaited first (Lab.WaitDelivered).
		busy := false
		if e2e {
			if len(incs.Items) != lastCount {
				lastCount, lastChange = len(incs.Items), time.Now()
			}
			busy = len(incs.Items) == 0 || time.Since(lastChange) < settle
		}
		for _, v := range invs.Items {
			if v.State == store.StateQueued || v.State == store.StateRunning {
				busy = true
			}
		}
		if !busy {
			var target *store.Incident
			for i := range incs.Items {
				if incs.Items[i].Key == want {
					target = &incs.Items[i]
				}
			}
			if target == nil && anyIncident {
				for i := range incs.Items {
					if target == nil || incs.Items[i].ID < target.ID {
						target = &incs.Items[i]
					}
				}
			}
			if target == nil {
				keys := make([]string, 0, len(incs.Items))
				for _, i := range incs.Items {
					keys = append(keys, i.Key)
				}
				return nil, fmt.Errorf("no incident %q among %q", want, keys)
			}
			if target.LastInvestigationID == 0 {
				return nil, fmt.Errorf("incident %q has no investigation (were its alerts delivered resolved?)", want)
			}
			var inv store.Investigation
			if err := c.get(ctx, fmt.Sprintf("/api/investigations/%d", target.LastInvestigationID), &inv); err != nil {
				return nil, err
			}
			if inv.State != store.StateDone {
				return nil, fmt.Errorf("investigation %d %s: %s", inv.ID, inv.State, inv.Error)
			}
			var r report.Report
			if err := json.Unmarshal(inv.Report, &r); err != nil {
				return nil, fmt.Errorf("investigation %d: report: %w", inv.ID, err)
			}
			return &r, nil
		}
		select {
		case <-ctx.Done():
			if e2e && lastCount <= 0 {
				return nil, errors.New("timed out: no alert rule fired on the scenario's metrics (or Alertmanager did not deliver)")
			}
			return nil, errors.New("timed out waiting for the investigation")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
