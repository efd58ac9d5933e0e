package engine

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/logfold"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
)

// This file turns collected evidence into what a reader looks at: the
// metric series for charts, log lines folded into templates, and a
// timeline. Everything is bounded so that a stored report stays small.

// chart keeps the series a range query returned for the report.
func (c *collector) chart(name, query string, res *promql.Result) {
	if res == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range res.Series {
		if len(c.charts) >= report.MaxSeries {
			return
		}
		out := report.Series{Name: name, Query: query, Labels: s.Labels, Unit: unitOf(name), Points: make([][2]float64, 0, len(s.Points))}
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			out.Points = append(out.Points, [2]float64{float64(p.T.Unix()), p.V})
		}
		out.Points = downsample(out.Points, report.MaxSeriesPoints)
		c.charts = append(c.charts, out)
	}
}

func unitOf(purpose string) string {
	switch purpose {
	case analyze.MetricMemoryWorkingSet, analyze.MetricMemoryLimit:
		return report.UnitBytes
	case analyze.MetricCPUUsage, analyze.MetricCPULimit:
		return report.UnitCores
	case analyze.MetricCPUThrottled, analyze.MetricNodeCPU, analyze.MetricFSAvailRatio, analyze.MetricPVCAvailRatio, analyze.MetricHTTP5xxRatio:
		return report.UnitRatio
	case analyze.MetricCertExpiry:
		return report.UnitSeconds
	}
	return ""
}

// limitOf names the instant query holding the limit of a usage series.
var limitOf = map[string]string{
	analyze.MetricMemoryWorkingSet: analyze.MetricMemoryLimit,
	analyze.MetricCPUUsage:         analyze.MetricCPULimit,
}

// withLimits sets each usage series' limit from the matching limit series
// (same pod and container), in a stable order.
func withLimits(charts []report.Series, metrics map[string][]analyze.Series) []report.Series {
	for i := range charts {
		s := &charts[i]
		for _, l := range metrics[limitOf[s.Name]] {
			if l.Labels["pod"] == s.Labels["pod"] && l.Labels["container"] == s.Labels["container"] && len(l.Points) > 0 {
				v := l.Points[len(l.Points)-1].V
				s.Limit = &v
				break
			}
		}
	}
	sort.SliceStable(charts, func(i, j int) bool {
		if charts[i].Name != charts[j].Name {
			return charts[i].Name < charts[j].Name
		}
		return seriesKey(charts[i].Labels) < seriesKey(charts[j].Labels)
	})
	return charts
}

func seriesKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + l[k] + ",")
	}
	return b.String()
}

// downsample keeps at most max points: the lowest and highest of each of
// max/2 equal buckets, in time order, so that a spike or a dip survives.
func downsample(p [][2]float64, max int) [][2]float64 {
	if len(p) <= max || max < 2 {
		return p
	}
	buckets := max / 2
	out := make([][2]float64, 0, max)
	for b := 0; b < buckets; b++ {
		lo, hi := b*len(p)/buckets, (b+1)*len(p)/buckets
		if lo >= hi {
			continue
		}
		mn, mx := lo, lo
		for i := lo; i < hi; i++ {
			if p[i][1] < p[mn][1] {
				mn = i
			}
			if p[i][1] > p[mx][1] {
				mx = i
			}
		}
		switch {
		case mn == mx:
			out = append(out, p[mn])
		case mn < mx:
			out = append(out, p[mn], p[mx])
		default:
			out = append(out, p[mx], p[mn])
		}
	}
	return out
}

// Bounds of the folded logs and the timeline.
const (
	maxLogGroups     = 40
	maxTimeline      = 100
	maxTemplateBytes = 300
)

// foldLogs folds each pod's lines (the previous container's apart) into
// templates, most frequent first.
func foldLogs(lines []analyze.LogLine) []report.LogGroup {
	type key struct {
		ns, pod  string
		previous bool
	}
	var order []key
	byKey := map[key][]logfold.Line{}
	for _, l := range lines {
		k := key{l.Namespace, l.Pod, l.Previous}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], logfold.Line{Time: l.Time, Text: strings.TrimSpace(l.Msg)})
	}
	var out []report.LogGroup
	for _, k := range order {
		for _, g := range logfold.Fold(byKey[k], logfold.Options{Keep: []string{k.pod, k.ns}}) {
			out = append(out, report.LogGroup{Template: clip(g.Template, maxTemplateBytes), Count: g.Count, Example: clip(g.Example, 2*maxTemplateBytes),
				Pod: k.pod, First: g.First, Last: g.Last, Previous: k.previous})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	if len(out) > maxLogGroups {
		out = out[:maxLogGroups]
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// timeline lists the alerts, events, container restarts and rollouts in
// time order, the newest maxTimeline kept.
func timeline(ev *analyze.Evidence, alerts []store.Alert) []report.TimelineEntry {
	var out []report.TimelineEntry
	for _, a := range alerts {
		out = append(out, report.TimelineEntry{Time: a.StartsAt, Kind: report.TimelineAlert,
			Text: a.Labels["alertname"] + " " + a.Status, Warning: a.Status == "firing"})
		if a.Status == "resolved" && !a.EndsAt.IsZero() {
			out = append(out, report.TimelineEntry{Time: a.EndsAt, Kind: report.TimelineAlert, Text: a.Labels["alertname"] + " resolved"})
		}
	}
	for _, e := range ev.Events {
		t := e.LastTimestamp.Time
		if t.IsZero() {
			t = e.EventTime.Time
		}
		if t.IsZero() {
			t = e.FirstTimestamp.Time
		}
		if t.IsZero() {
			continue
		}
		text := e.Reason + ": " + e.Message
		if e.Count > 1 {
			text += fmt.Sprintf(" (x%d)", e.Count)
		}
		out = append(out, report.TimelineEntry{Time: t, Kind: report.TimelineEvent, Text: text, Warning: e.Type == corev1.EventTypeWarning,
			Object: report.Ref{Kind: e.InvolvedObject.Kind, Namespace: e.InvolvedObject.Namespace, Name: e.InvolvedObject.Name}})
	}
	for _, p := range ev.Pods {
		for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if t := cs.LastTerminationState.Terminated; t != nil && !t.FinishedAt.IsZero() {
				out = append(out, report.TimelineEntry{Time: t.FinishedAt.Time, Kind: report.TimelineRestart, Warning: true,
					Object: report.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name},
					Text:   fmt.Sprintf("container %s terminated: %s, exit code %d (restarts: %d)", cs.Name, t.Reason, t.ExitCode, cs.RestartCount)})
			}
		}
	}
	for _, rs := range ev.ReplicaSets {
		if rs.CreationTimestamp.IsZero() {
			continue
		}
		var images []string
		for _, c := range rs.Spec.Template.Spec.Containers {
			images = append(images, c.Image)
		}
		text := "ReplicaSet created"
		if rev := rs.Annotations["deployment.kubernetes.io/revision"]; rev != "" {
			text = "revision " + rev + " rolled out"
		}
		if len(images) > 0 {
			text += ": " + strings.Join(images, ", ")
		}
		out = append(out, report.TimelineEntry{Time: rs.CreationTimestamp.Time, Kind: report.TimelineRollout, Text: text,
			Object: report.Ref{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name}})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if len(out) > maxTimeline {
		out = out[len(out)-maxTimeline:]
	}
	for i := range out {
		out[i].Time = out[i].Time.UTC().Truncate(time.Second)
	}
	return out
}
