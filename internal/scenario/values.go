package scenario

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metricsql"
)

// Value is one expanded sample value.
type Value struct {
	V float64
	// Missing is a `_`: no sample at this step.
	Missing bool
	// Stale is a `stale`: the series ends here.
	Stale bool
}

// maxSamples bounds one series' expansion (a week at 10s steps): a typo
// such as 1+1x100000000 must fail, not exhaust memory.
const maxSamples = 60480

// ExpandValues expands promtool's notation, the one Prometheus rule unit
// tests use: space-separated items, each a number, `_` (missing), `stale`,
// `a+bxn` or `a-bxn` (n+1 values a, a±b, ..., a±n·b), `axn` (a, n+1
// times) or `_xn` (n missing samples).
func ExpandValues(s string) ([]Value, error) {
	items := strings.Fields(s)
	if len(items) == 0 {
		return nil, fmt.Errorf("values is empty")
	}
	var out []Value
	for _, it := range items {
		vs, err := expandItem(it)
		if err != nil {
			return nil, fmt.Errorf("values item %q: %w", it, err)
		}
		out = append(out, vs...)
		if len(out) > maxSamples {
			return nil, fmt.Errorf("values expand to more than %d samples", maxSamples)
		}
	}
	return out, nil
}

func expandItem(it string) ([]Value, error) {
	switch it {
	case "_":
		return []Value{{Missing: true}}, nil
	case "stale":
		return []Value{{Stale: true}}, nil
	}
	base, count, hasX := cutLast(it, "x")
	if !hasX {
		v, err := parseNumber(it)
		if err != nil {
			return nil, err
		}
		return []Value{{V: v}}, nil
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("want a whole repeat count after x, got %q", count)
	}
	if n > maxSamples {
		return nil, fmt.Errorf("repeat count %d is above %d", n, maxSamples)
	}
	if base == "_" {
		return slices.Repeat([]Value{{Missing: true}}, n), nil
	}
	start, step := base, "0"
	// The operator is the last + or - that is not a sign or an exponent's.
	for i := len(base) - 1; i > 0; i-- {
		c := base[i]
		if (c == '+' || c == '-') && base[i-1] != 'e' && base[i-1] != 'E' {
			start, step = base[:i], base[i:]
			break
		}
	}
	a, err := parseNumber(start)
	if err != nil {
		return nil, err
	}
	b, err := parseNumber(step)
	if err != nil {
		return nil, err
	}
	out := make([]Value, n+1)
	for i := range out {
		out[i] = Value{V: a + float64(i)*b}
	}
	return out, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func parseNumber(s string) (float64, error) {
	switch strings.ToLower(strings.TrimPrefix(s, "+")) {
	case "inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	case "nan":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return v, nil
}

// ParseSelector parses `name{label="value",...}` into the metric name and
// labels. Only equality matchers describe a series.
func ParseSelector(s string) (name string, labels map[string]string, err error) {
	e, err := metricsql.Parse(s)
	if err != nil {
		return "", nil, fmt.Errorf("series %q: %w", s, err)
	}
	me, ok := e.(*metricsql.MetricExpr)
	if !ok || len(me.LabelFilterss) != 1 {
		return "", nil, fmt.Errorf("series %q: want one series such as name{label=\"value\"}", s)
	}
	labels = map[string]string{}
	for _, f := range me.LabelFilterss[0] {
		if f.IsRegexp || f.IsNegative {
			return "", nil, fmt.Errorf("series %q: label %s: a series has exact label values (=), not matchers", s, f.Label)
		}
		if f.Label == "__name__" {
			name = f.Value
			continue
		}
		labels[f.Label] = f.Value
	}
	if name == "" {
		return "", nil, fmt.Errorf("series %q: the metric name is missing", s)
	}
	return name, labels, nil
}

// Sample is one point of a series.
type Sample struct {
	T time.Time
	V float64
}

// Samples expands a series against the scenario's clock: the last value is
// at s.Now and each earlier one an interval before. Missing and stale
// values become gaps.
func (s *Scenario) Samples(ser Series) ([]Sample, error) {
	vals, err := ExpandValues(ser.Values)
	if err != nil {
		return nil, err
	}
	out := make([]Sample, 0, len(vals))
	last := len(vals) - 1
	for i, v := range vals {
		if v.Missing || v.Stale {
			continue
		}
		out = append(out, Sample{T: s.Now.Add(-time.Duration(last-i) * s.Metrics.Interval), V: v.V})
	}
	return out, nil
}

// Field names that VictoriaMetrics' Kubernetes log collector (vlagent)
// writes for container logs.
const (
	FieldNamespace      = "kubernetes.pod_namespace"
	FieldPod            = "kubernetes.pod_name"
	FieldContainer      = "kubernetes.container_name"
	FieldNode           = "kubernetes.pod_node_name"
	FieldPodLabelPrefix = "kubernetes.pod_labels."
)

// StreamFields are vlagent's default stream fields.
var StreamFields = []string{FieldNamespace, FieldPod, FieldContainer}

// shortFields maps the format's short stream keys to vlagent's names.
var shortFields = map[string]string{
	"namespace": FieldNamespace,
	"pod":       FieldPod,
	"container": FieldContainer,
	"node":      FieldNode,
}

// LogRecord is one expanded log line with vlagent's field names.
type LogRecord struct {
	Time   time.Time
	Msg    string
	Fields map[string]string
}

// Records expands the scenario's log lines into records, oldest first.
// Repeated lines stop at s.Now. podLabels, when it knows the pod, adds
// the pod's labels the way vlagent does (kubernetes.pod_labels.<k>) and its
// node.
func (s *Scenario) Records(podLabels func(namespace, pod string) (labels map[string]string, node string)) []LogRecord {
	var out []LogRecord
	for _, st := range s.Logs {
		fields := map[string]string{}
		for k, v := range st.Stream {
			if f, ok := shortFields[k]; ok {
				k = f
			}
			fields[k] = v
		}
		if podLabels != nil {
			labels, node := podLabels(fields[FieldNamespace], fields[FieldPod])
			for k, v := range labels {
				if _, set := fields[FieldPodLabelPrefix+k]; !set {
					fields[FieldPodLabelPrefix+k] = v
				}
			}
			if _, set := fields[FieldNode]; !set && node != "" {
				fields[FieldNode] = node
			}
		}
		for _, l := range st.Lines {
			for i := 0; i < l.Repeat; i++ {
				t := l.At.Add(time.Duration(i) * l.Every)
				if t.After(s.Now) {
					break
				}
				rec := LogRecord{Time: t, Msg: l.Msg, Fields: fields}
				if l.Level != "" {
					rec.Fields = withField(fields, "level", l.Level)
				}
				out = append(out, rec)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b LogRecord) int { return a.Time.Compare(b.Time) })
	return out
}

func withField(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}
