package ui

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// Charts are SVG drawn here, from numbers: no script, no library, and
// nothing a label could inject, since labels reach the SVG only as text
// that html/template escapes.

// Chart geometry, in SVG user units; the SVG scales to its container.
const (
	chartW      = 600
	chartH      = 250
	padLeft     = 72
	padRight    = 12
	padTop      = 20
	padBottom   = 30
	maxLegend   = 8
	seriesClass = 8 // colour classes s0..s7 in app.css
)

type chartView struct {
	ID     string
	Title  string
	Name   string
	Query  string
	Unit   string
	W, H   int
	PlotX0 float64
	PlotX1 float64
	PlotY0 float64
	PlotY1 float64
	Lines  []lineView
	XTicks []tickView
	YTicks []tickView
	Limits []limitView
	// AlertX is where the alert started; HasAlert says it is inside the window.
	AlertX   float64
	HasAlert bool
	// Summary says in words what the chart shows, for screen readers and
	// for a reader skimming.
	Summary    string
	ExploreURL string
	More       int // series not drawn
}

type lineView struct {
	Class  string
	Points string
	Label  string
	Last   string
	Max    string
	// Single is a lone point, drawn as a dot.
	Single     bool
	SX, SY     float64
	PointCount int
}

type tickView struct {
	Pos   float64
	Label string
}

type limitView struct {
	Y     float64
	Label string
}

// seriesWindow returns the time range the series cover.
func seriesWindow(ss []report.Series) (from, to time.Time) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.Points {
			lo, hi = math.Min(lo, p[0]), math.Max(hi, p[0])
		}
	}
	if math.IsInf(lo, 0) {
		return time.Time{}, time.Time{}
	}
	return time.Unix(int64(lo), 0).UTC(), time.Unix(int64(hi), 0).UTC()
}

// buildCharts draws one chart per query, with a line per series.
func buildCharts(ss []report.Series, alertStart time.Time) []chartView {
	type group struct {
		name, query, unit string
		series            []report.Series
	}
	var groups []*group
	at := map[string]*group{}
	for _, s := range ss {
		k := s.Name + "\x00" + s.Query
		g, ok := at[k]
		if !ok {
			g = &group{name: s.Name, query: s.Query, unit: s.Unit}
			at[k] = g
			groups = append(groups, g)
		}
		g.series = append(g.series, s)
	}
	var out []chartView
	for i, g := range groups {
		out = append(out, drawChart(fmt.Sprintf("chart-%d", i+1), g.name, g.query, g.unit, g.series, alertStart))
	}
	return out
}

func drawChart(id, name, query, unit string, ss []report.Series, alertStart time.Time) chartView {
	c := chartView{ID: id, Name: name, Title: chartTitle(name), Query: query, Unit: unit, W: chartW, H: chartH,
		PlotX0: padLeft, PlotX1: chartW - padRight, PlotY0: padTop, PlotY1: chartH - padBottom}
	if len(ss) > maxLegend {
		c.More = len(ss) - maxLegend
		ss = ss[:maxLegend]
	}
	tmin, tmax := math.Inf(1), math.Inf(-1)
	vmin, vmax := 0.0, math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.Points {
			tmin, tmax = math.Min(tmin, p[0]), math.Max(tmax, p[0])
			vmin, vmax = math.Min(vmin, p[1]), math.Max(vmax, p[1])
		}
	}
	limits := map[float64]bool{}
	for _, s := range ss {
		if s.Limit != nil && !math.IsNaN(*s.Limit) && !math.IsInf(*s.Limit, 0) {
			limits[*s.Limit] = true
			vmax = math.Max(vmax, *s.Limit)
		}
	}
	if math.IsInf(tmin, 0) {
		c.Summary = "No samples in the window."
		return c
	}
	// The window shows the alert's start even if the samples end before it.
	if !alertStart.IsZero() {
		a := float64(alertStart.Unix())
		if a > tmax && a-tmax < (tmax-tmin) {
			tmax = a
		}
	}
	if tmax == tmin {
		tmin, tmax = tmin-300, tmax+300
	}
	if unit == report.UnitRatio && vmax <= 1 {
		vmax = math.Max(vmax, 0.0001)
	}
	if vmax <= vmin {
		vmax = vmin + 1
	}
	// Bytes tick at round binary sizes (256 MiB, not 268 MB).
	scale := 1.0
	if unit == report.UnitBytes {
		for _, f := range []float64{1 << 40, 1 << 30, 1 << 20, 1 << 10} {
			if vmax >= f {
				scale = f
				break
			}
		}
	}
	step := niceStep((vmax-vmin)/scale/4) * scale
	vmax = math.Ceil(vmax*1.05/step) * step
	vmin = math.Floor(vmin/step) * step
	x := func(t float64) float64 { return round1(c.PlotX0 + (t-tmin)/(tmax-tmin)*(c.PlotX1-c.PlotX0)) }
	y := func(v float64) float64 { return round1(c.PlotY1 - (v-vmin)/(vmax-vmin)*(c.PlotY1-c.PlotY0)) }

	for v := vmin; v <= vmax+step/2; v += step {
		c.YTicks = append(c.YTicks, tickView{Pos: y(v), Label: formatValue(v, unit)})
	}
	for _, t := range timeTicks(tmin, tmax) {
		c.XTicks = append(c.XTicks, tickView{Pos: x(t), Label: time.Unix(int64(t), 0).UTC().Format("15:04")})
	}
	var lv []float64
	for l := range limits {
		lv = append(lv, l)
	}
	sort.Float64s(lv)
	for _, l := range lv {
		c.Limits = append(c.Limits, limitView{Y: y(l), Label: "limit " + formatValue(l, unit)})
	}
	if !alertStart.IsZero() {
		a := float64(alertStart.Unix())
		if a >= tmin && a <= tmax {
			c.AlertX, c.HasAlert = x(a), true
		}
	}
	var summary []string
	for i, s := range ss {
		l := lineView{Class: "s" + strconv.Itoa(i%seriesClass), Label: seriesLabel(s), PointCount: len(s.Points)}
		var b strings.Builder
		peak := math.Inf(-1)
		for j, p := range s.Points {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%g,%g", x(p[0]), y(p[1]))
			peak = math.Max(peak, p[1])
		}
		l.Points = b.String()
		if n := len(s.Points); n > 0 {
			l.Last = formatValue(s.Points[n-1][1], unit)
			l.Max = formatValue(peak, unit)
			if n == 1 {
				l.Single, l.SX, l.SY = true, x(s.Points[0][0]), y(s.Points[0][1])
			}
		}
		line := fmt.Sprintf("%s: peak %s, last %s", l.Label, l.Max, l.Last)
		if s.Limit != nil {
			line += fmt.Sprintf(" (limit %s, peak at %.0f%% of it)", formatValue(*s.Limit, unit), 100*peak/math.Max(*s.Limit, 1e-12))
		}
		summary = append(summary, line)
		c.Lines = append(c.Lines, l)
	}
	c.Summary = strings.Join(summary, "; ") + "."
	return c
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// niceStep rounds a raw tick step to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	}
	return 10 * p
}

// timeTicks returns about six round times between tmin and tmax.
func timeTicks(tmin, tmax float64) []float64 {
	span := tmax - tmin
	var step float64 = 60
	for _, s := range []float64{60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400} {
		step = s
		if span/s <= 7 {
			break
		}
	}
	var out []float64
	for t := math.Ceil(tmin/step) * step; t <= tmax; t += step {
		out = append(out, t)
	}
	return out
}

func chartTitle(name string) string {
	switch name {
	case "memory_working_set":
		return "Memory working set"
	case "cpu_usage":
		return "CPU usage"
	case "cpu_throttled_ratio":
		return "CPU throttled periods"
	case "node_cpu_busy":
		return "Node CPU busy"
	case "fs_avail_ratio":
		return "Filesystem space available"
	case "pvc_avail_ratio":
		return "Volume space available"
	case "http_5xx_ratio":
		return "HTTP 5xx ratio"
	case "runbook step":
		return "Runbook query"
	}
	return strings.ReplaceAll(name, "_", " ")
}

// seriesLabel names a series by the labels that tell series apart.
func seriesLabel(s report.Series) string {
	var parts []string
	for _, k := range []string{"pod", "container", "instance", "mountpoint", "persistentvolumeclaim", "ingress", "node"} {
		if v := s.Labels[k]; v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		for _, p := range sortedKV(s.Labels) {
			if p.K != "__name__" {
				parts = append(parts, p.K+"="+p.V)
			}
		}
	}
	if len(parts) == 0 {
		return s.Name
	}
	return strings.Join(parts, " / ")
}

// formatValue renders a value in its unit, short.
func formatValue(v float64, unit string) string {
	switch unit {
	case report.UnitBytes:
		abs := math.Abs(v)
		for _, u := range []struct {
			n string
			f float64
		}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if abs >= u.f {
				return trimFloat(v/u.f) + " " + u.n
			}
		}
		return trimFloat(v) + " B"
	case report.UnitCores:
		if math.Abs(v) < 1 && v != 0 {
			return trimFloat(v*1000) + "m"
		}
		return trimFloat(v) + " cores"
	case report.UnitRatio:
		return trimFloat(v*100) + "%"
	case report.UnitSeconds:
		return (time.Duration(v) * time.Second).String()
	}
	return trimFloat(v)
}

func trimFloat(f float64) string {
	switch a := math.Abs(f); {
	case a == 0:
		return "0"
	case a >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

var funcs = template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"hhmm": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("15:04:05")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"tsp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"pct": func(f float64) string { return strconv.Itoa(int(math.Round(f*100))) + "%" },
	"ms": func(f float64) string {
		if f >= 1000 {
			return trimFloat(f/1000) + " s"
		}
		return trimFloat(f) + " ms"
	},
	"dur": func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.Round(time.Millisecond).String()
	},
	"join": strings.Join,
	// sevClass maps a severity label to one of the stylesheet's classes;
	// the label is the alert's, so it is never used as a class itself.
	"sevClass": func(s string) string {
		switch strings.ToLower(s) {
		case "critical", "error", "page":
			return "sev-critical"
		case "warning", "warn":
			return "sev-warning"
		}
		return "sev-info"
	},
	"add":   func(a, b int) int { return a + b },
	"lower": strings.ToLower,
	"ref":   func(r report.Ref) string { return r.String() },
	"first": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		cut := n
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return s[:cut] + "…"
	},
}
