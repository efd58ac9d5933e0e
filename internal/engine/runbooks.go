package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/store"
)

// maxRunbookSteps bounds the steps run per investigation, whatever the
// matching runbooks ask for.
const maxRunbookSteps = 30

func runbookAlert(a store.Alert) runbook.Alert {
	return runbook.Alert{Labels: a.Labels, Annotations: a.Annotations, Fingerprint: a.Fingerprint, StartsAt: a.StartsAt}
}

// matchRunbooks matches the alert and keeps the matches for their steps.
func (c *collector) matchRunbooks(a store.Alert) []report.Runbook {
	if c.e.runbooks == nil {
		return nil
	}
	c.matches = c.e.runbooks.Match(runbookAlert(a))
	var out []report.Runbook
	for _, m := range c.matches {
		out = append(out, report.Runbook{Name: m.Runbook.String(), Source: m.Source, Instructions: m.Runbook.Instructions})
	}
	return out
}

// runRunbookSteps runs the deterministic steps of the matched runbooks,
// each distinct call once. Their results join the evidence (events and
// log lines) and the report's tool calls.
func (c *collector) runRunbookSteps(ctx context.Context) {
	if len(c.matches) == 0 {
		return
	}
	target := c.ev.Workload
	if target.IsZero() {
		target = c.ev.Target
	}
	alert := runbook.Alert{Labels: c.ev.Alert.Labels, Annotations: c.ev.Alert.Annotations, StartsAt: c.ev.Alert.StartsAt}
	data := runbook.NewTemplateData(alert, runbook.Object{Kind: target.Kind, Namespace: target.Namespace, Name: target.Name})
	if len(c.ev.Pods) > 0 && data.Pod == "" {
		data.Pod = c.ev.Pods[0].Name
		if data.Node == "" {
			data.Node = c.ev.Pods[0].Spec.NodeName
		}
	}
	seen := map[string]bool{}
	var steps []runbook.RenderedStep
	for _, m := range c.matches {
		rendered, errs := m.Runbook.RenderSteps(data)
		for _, err := range errs {
			c.unchecked("a step of runbook "+m.Runbook.String(), err.Error())
		}
		for _, s := range rendered {
			if !seen[s.Key()] && len(steps) < maxRunbookSteps {
				seen[s.Key()] = true
				steps = append(steps, s)
			}
		}
	}
	var fns []func(context.Context)
	for _, s := range steps {
		fns = append(fns, func(ctx context.Context) { c.runStep(ctx, s) })
	}
	c.parallel(ctx, fns...)
}

func (c *collector) runStep(ctx context.Context, s runbook.RenderedStep) {
	a := s.Args
	window := func() (time.Time, time.Time) {
		r := s.Duration("range")
		if r <= 0 {
			r = time.Hour
		}
		return c.end.Add(-r), c.end
	}
	switch s.Tool {
	case runbook.ToolMetricsQuery, runbook.ToolMetricsQueryRange:
		if c.prom == nil {
			c.unchecked("runbook step: "+s.String(), c.e.whyMissing("metrics", "prometheus.url is not configured"))
			return
		}
		if s.Tool == runbook.ToolMetricsQuery {
			_, err := c.prom.Instant(ctx, a["query"], c.end)
			c.stepErr(s, err)
			return
		}
		start, end := window()
		res, err := c.prom.Range(ctx, a["query"], start, end, s.Duration("step"))
		if c.stepErr(s, err) {
			c.chart("runbook step", a["query"], res)
		}
	case runbook.ToolLogsQuery, runbook.ToolLogsPod:
		if c.logs == nil {
			c.unchecked("runbook step: "+s.String(), c.e.whyMissing("logs", "victorialogs.url is not configured"))
			return
		}
		start, end := window()
		limit := s.Int("limit")
		if limit <= 0 {
			limit = 100
		}
		if s.Tool == runbook.ToolLogsQuery {
			_, err := c.logs.Query(ctx, a["query"], start, end, limit)
			c.stepErr(s, err)
			return
		}
		lines, err := c.logs.PodLogs(ctx, a["namespace"], a["pod"], a["container"], start, end, limit)
		if c.stepErr(s, err) {
			var out []analyze.LogLine
			for _, e := range lines.Entries {
				out = append(out, analyze.LogLine{Time: e.Time, Namespace: a["namespace"], Pod: a["pod"], Container: e.Fields["kubernetes.container_name"], Msg: e.Msg})
			}
			c.addLogs(out)
		}
	case runbook.ToolKubernetesGet, runbook.ToolKubernetesEvents, runbook.ToolKubernetesLogs:
		if c.kube == nil {
			c.unchecked("runbook step: "+s.String(), c.e.whyMissing("kubernetes", "no cluster access is configured"))
			return
		}
		switch s.Tool {
		case runbook.ToolKubernetesGet:
			_, err := c.kube.Get(ctx, a["kind"], a["namespace"], a["name"])
			c.stepErr(s, err)
		case runbook.ToolKubernetesEvents:
			evs, err := c.kube.Events(ctx, a["namespace"], a["kind"], a["name"])
			if c.stepErr(s, err) {
				c.addEvents(evs)
			}
		default:
			_, err := c.kube.Logs(ctx, a["namespace"], a["pod"], a["container"], kube.LogOptions{Previous: s.Bool("previous"), TailLines: int64(s.Int("tail"))})
			c.stepErr(s, err)
		}
	default:
		c.unchecked("runbook step: "+s.String(), fmt.Sprintf("unknown tool %q", s.Tool))
	}
}

// stepErr notes a failed step; it reports whether the step succeeded.
// A missing object is an answer, not a failure.
func (c *collector) stepErr(s runbook.RenderedStep, err error) bool {
	if err == nil {
		return true
	}
	if !notFound(err) {
		c.unchecked("runbook step: "+s.String(), err.Error())
	}
	return false
}
