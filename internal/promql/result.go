package promql

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is the bounded answer of a query or a series look-up.
type Result struct {
	// Query is the expression (or, for Series, the selector) asked.
	Query string
	// Type is the backend's resultType (vector, matrix, scalar, string), or
	// "series" for Series.
	Type string
	// Time is an instant query's evaluation time (zero: the backend's now);
	// Start, End and Step describe a range query or a series look-up.
	Time       time.Time
	Start, End time.Time
	Step       time.Duration
	// Series are sorted by their labels and capped at MaxSeries; each has
	// at most MaxPoints points, the newest ones.
	Series []Series
	// TotalSeries is how many series the backend returned (for Series, at
	// most MaxSeries+1: the look-up asks for one more than it keeps).
	TotalSeries int
	// Truncated says series or points were left out; Warnings say which,
	// along with the backend's own warnings.
	Truncated bool
	Warnings  []string
}

// Series is one time series: its labels (with __name__ if the answer kept
// it) and its points in time order.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Values is a bounded list of label names or label values, sorted.
type Values struct {
	Values    []string
	Truncated bool
	Warnings  []string
}

// expectDelim reads the next token and checks it is the delimiter d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("want %q, got %v", d, tok)
	}
	return nil
}

func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("want an object key, got %v", tok)
	}
	return key, nil
}

// apiPoint is a [unix seconds, "value"] pair.
type apiPoint Point

func (p *apiPoint) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("sample %s: %w", b, err)
	}
	var ts float64
	if err := json.Unmarshal(pair[0], &ts); err != nil {
		return fmt.Errorf("sample time %s: %w", pair[0], err)
	}
	var vs string
	if err := json.Unmarshal(pair[1], &vs); err != nil {
		return fmt.Errorf("sample value %s: %w", pair[1], err)
	}
	// ParseFloat knows NaN, +Inf and -Inf, as the API writes them.
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return fmt.Errorf("sample value %q: %w", vs, err)
	}
	p.T = time.UnixMilli(int64(math.Round(ts * 1000))).UTC()
	p.V = v
	return nil
}

type apiSample struct {
	Metric map[string]string `json:"metric"`
	Value  *apiPoint         `json:"value"`
	Values []apiPoint        `json:"values"`
}

// selector keeps the first max series by label order while any number
// stream past, holding at most 2*max at a time.
type selector struct {
	max, total int
	maxPoints  int
	kept       []keyed
	// pointsCut counts series that lost points; mostPoints is the largest
	// number of points one of them had.
	pointsCut, mostPoints int
}

type keyed struct {
	key string
	s   Series
}

func (sel *selector) add(s Series) {
	sel.total++
	if n := len(s.Points); n > sel.maxPoints {
		// The newest points matter most in an investigation that ends now.
		s.Points = s.Points[n-sel.maxPoints:]
		sel.pointsCut++
		sel.mostPoints = max(sel.mostPoints, n)
	}
	sel.kept = append(sel.kept, keyed{LabelsString(s.Labels), s})
	if len(sel.kept) >= 2*sel.max {
		sel.compact()
	}
}

func (sel *selector) compact() {
	sort.Slice(sel.kept, func(i, j int) bool { return sel.kept[i].key < sel.kept[j].key })
	if len(sel.kept) > sel.max {
		sel.kept = sel.kept[:sel.max]
	}
}

// finish stores the kept series in res with the truncation stated. limit
// is the limit the backend was asked for (0: none).
func (sel *selector) finish(res *Result, limit int) {
	sel.compact()
	res.Series = make([]Series, len(sel.kept))
	for i, k := range sel.kept {
		res.Series[i] = k.s
	}
	res.TotalSeries = sel.total
	if sel.total > sel.max {
		res.Truncated = true
		of := strconv.Itoa(sel.total)
		if limit > 0 && sel.total >= limit {
			of = "at least " + of
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"showing %d of %s series (first by labels); narrow the selector or aggregate (sum by, topk) to see the rest",
			sel.max, of))
	}
	if sel.pointsCut > 0 {
		res.Truncated = true
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"showing the newest %d points of up to %d in %d series; use a larger step or a shorter range",
			sel.maxPoints, sel.mostPoints, sel.pointsCut))
	}
}

// decodeQuery decodes the "data" of /api/v1/query and /api/v1/query_range.
func decodeQuery(dec *json.Decoder, res *Result, maxSeries, maxPoints int) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	sel := &selector{max: maxSeries, maxPoints: maxPoints}
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		switch key {
		case "resultType":
			err = dec.Decode(&res.Type)
		case "result":
			err = decodeResult(dec, res, sel)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	sel.finish(res, 0)
	return nil
}

// decodeResult reads "result": an array of samples for vectors and
// matrices, or one [time, "value"] pair for scalars and strings.
func decodeResult(dec *json.Decoder, res *Result, sel *selector) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil // null: no result
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf(`"result": want an array, got %v`, tok)
	}
	if !dec.More() {
		return expectDelim(dec, ']')
	}
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return err
	}
	if len(first) == 0 || first[0] != '{' {
		return decodeScalar(dec, res, sel, first)
	}
	raw := first
	for {
		var s apiSample
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		ser := Series{Labels: s.Metric}
		if ser.Labels == nil {
			ser.Labels = map[string]string{}
		}
		if s.Value != nil {
			ser.Points = []Point{Point(*s.Value)}
		}
		for _, p := range s.Values {
			ser.Points = append(ser.Points, Point(p))
		}
		sel.add(ser)
		if !dec.More() {
			break
		}
		raw = nil
		if err := dec.Decode(&raw); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

func decodeScalar(dec *json.Decoder, res *Result, sel *selector, first json.RawMessage) error {
	var second json.RawMessage
	if err := dec.Decode(&second); err != nil {
		return err
	}
	if err := expectDelim(dec, ']'); err != nil {
		return err
	}
	pair := []byte("[" + string(first) + "," + string(second) + "]")
	var p apiPoint
	if err := p.UnmarshalJSON(pair); err != nil {
		if res.Type != "string" {
			return err
		}
		// A string result: keep its text where a reader sees it.
		var s string
		_ = json.Unmarshal(second, &s)
		res.Warnings = append(res.Warnings, "string result: "+strconv.Quote(s))
		return nil
	}
	sel.add(Series{Labels: map[string]string{}, Points: []Point{Point(p)}})
	return nil
}

// decodeSeries decodes the "data" of /api/v1/series: an array of label sets.
func decodeSeries(dec *json.Decoder, res *Result, maxSeries int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	sel := &selector{max: maxSeries, maxPoints: math.MaxInt}
	if tok != nil {
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return fmt.Errorf(`"data": want an array, got %v`, tok)
		}
		for dec.More() {
			var labels map[string]string
			if err := dec.Decode(&labels); err != nil {
				return err
			}
			sel.add(Series{Labels: labels})
		}
		if err := expectDelim(dec, ']'); err != nil {
			return err
		}
	}
	sel.finish(res, maxSeries+1)
	return nil
}

func (v *Values) cap(maxValues int) {
	sort.Strings(v.Values)
	if n := len(v.Values); n > maxValues {
		v.Values = v.Values[:maxValues]
		v.Truncated = true
		v.Warnings = append(v.Warnings, fmt.Sprintf(
			"showing the first %d of at least %d values; add a series selector to narrow them", maxValues, n))
	}
}

// Text renders the values one per line, then any warnings.
func (v *Values) Text() string {
	var b strings.Builder
	if len(v.Values) == 0 {
		b.WriteString("no values\n")
	}
	for _, s := range v.Values {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	writeNotes(&b, v.Warnings)
	return b.String()
}

// LabelsString renders labels as the Prometheus text format does:
// name{a="1",b="2"} with the other labels sorted and values quoted.
func LabelsString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(labels["__name__"])
	if len(keys) > 0 || b.Len() == 0 {
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(strconv.Quote(labels[k]))
		}
		b.WriteByte('}')
	}
	return b.String()
}

// textPoints is how many points a series line shows: enough to see a
// trend, few enough that fifty series fit in a recorded excerpt.
const textPoints = 6

// Text renders the result compactly, one line per series: labels, then for
// several points last/min/max and a few of the points evenly spread, the
// first with its full time; then the warnings, each as "note: ...".
func (r *Result) Text() string {
	var b strings.Builder
	if len(r.Series) == 0 {
		b.WriteString("no data\n")
	}
	for _, s := range r.Series {
		b.WriteString(LabelsString(s.Labels))
		switch len(s.Points) {
		case 0:
		case 1:
			p := s.Points[0]
			fmt.Fprintf(&b, " %s @%s", FormatValue(p.V), p.T.UTC().Format(time.RFC3339))
		default:
			writeSeriesSummary(&b, s.Points)
		}
		b.WriteByte('\n')
	}
	writeNotes(&b, r.Warnings)
	return b.String()
}

func writeSeriesSummary(b *strings.Builder, pts []Point) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		if !math.IsNaN(p.V) {
			lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
		}
	}
	fmt.Fprintf(b, " last=%s", FormatValue(pts[len(pts)-1].V))
	if !math.IsInf(lo, 1) {
		fmt.Fprintf(b, " min=%s max=%s", FormatValue(lo), FormatValue(hi))
	}
	fmt.Fprintf(b, " n=%d:", len(pts))
	short := "15:04:05"
	if pts[len(pts)-1].T.Sub(pts[0].T) >= 24*time.Hour {
		short = "01-02T15:04"
	}
	k := min(len(pts), textPoints)
	prev := -1
	for i := 0; i < k; i++ {
		idx := i * (len(pts) - 1) / (k - 1)
		if idx == prev {
			continue
		}
		if prev >= 0 && idx > prev+1 {
			b.WriteString(" …")
		}
		prev = idx
		p := pts[idx]
		layout := short
		if i == 0 {
			layout = time.RFC3339
		}
		fmt.Fprintf(b, " %s=%s", p.T.UTC().Format(layout), FormatValue(p.V))
	}
}

func writeNotes(b *strings.Builder, notes []string) {
	for _, w := range notes {
		b.WriteString("note: ")
		b.WriteString(w)
		b.WriteByte('\n')
	}
}

// FormatValue renders v with four significant digits, in plain notation
// between 0.001 and 1e15 (integers in full), so that rates and counters
// both read naturally.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == 0:
		return "0"
	}
	a := math.Abs(v)
	if a >= 1e15 || a < 1e-3 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	digits := int(math.Floor(math.Log10(a))) + 1
	return strconv.FormatFloat(v, 'g', max(4, digits), 64)
}

// niceSteps are the steps a person would pick, in increasing order.
var niceSteps = []time.Duration{
	15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour,
}

// AutoStep returns the smallest readable step (15s, 30s, 1m, 2m, 5m, 10m,
// 15m, 30m, 1h, 2h, 3h, 6h, 12h, then whole days) at which a range of
// length r gives each series at most maxPoints points. 15s is the floor:
// a finer step than the usual scrape interval only repeats samples.
func AutoStep(r time.Duration, maxPoints int) time.Duration {
	// Backends align the first point down to a multiple of the step, which
	// can add one point at the start: leave room for it and for the
	// inclusive end.
	div := time.Duration(max(maxPoints-2, 1))
	need := (r + div - 1) / div
	for _, s := range niceSteps {
		if s >= need {
			return s
		}
	}
	day := 24 * time.Hour
	return (need + day - 1) / day * day
}

// PointsFor returns how many points a range of length r has at step.
func PointsFor(r, step time.Duration) int {
	if step <= 0 {
		return 0
	}
	return int(r/step) + 1
}

// shortDuration renders d in the largest whole unit: 1m, 2h, 1d, 90s.
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return d.String()
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
