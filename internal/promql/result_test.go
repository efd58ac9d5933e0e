package promql

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestAutoStep(t *testing.T) {
	f := func(r time.Duration, maxPoints int, want time.Duration) {
		t.Helper()
		got := AutoStep(r, maxPoints)
		if got != want {
			t.Errorf("AutoStep(%s, %d) = %s, want %s", r, maxPoints, got, want)
		}
		// Whatever the backend's alignment, the points fit.
		if n := PointsFor(r, got) + 1; n > maxPoints && r > 0 {
			t.Errorf("AutoStep(%s, %d) = %s gives up to %d points", r, maxPoints, got, n)
		}
	}
	f(0, 300, 15*time.Second)
	f(10*time.Minute, 300, 15*time.Second) // the floor
	f(time.Hour, 300, 15*time.Second)      // 12.1s needed
	f(2*time.Hour, 300, 30*time.Second)    // 24.2s
	f(6*time.Hour, 300, 2*time.Minute)     // 72.5s
	f(24*time.Hour, 300, 5*time.Minute)    // 290s
	f(7*24*time.Hour, 300, time.Hour)      // 2030s
	f(30*24*time.Hour, 300, 3*time.Hour)   // 8698s
	f(365*24*time.Hour, 300, 48*time.Hour) // beyond the table: whole days
	f(time.Hour, 3, time.Hour)             // a tiny budget still works
	f(2*time.Hour, 60, 5*time.Minute)      // 124s
	// Exactly on a boundary: 298 steps of 1m fit 300 points with alignment.
	f(298*time.Minute, 300, time.Minute)
	f(298*time.Minute+time.Second, 300, 2*time.Minute)
}

func TestShortDuration(t *testing.T) {
	f := func(d time.Duration, want string) {
		t.Helper()
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
	f(15*time.Second, "15s")
	f(90*time.Second, "90s")
	f(2*time.Minute, "2m")
	f(3*time.Hour, "3h")
	f(48*time.Hour, "2d")
	f(1500*time.Millisecond, "1.5s")
}

func TestFormatValue(t *testing.T) {
	f := func(v float64, want string) {
		t.Helper()
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
	f(0, "0")
	f(50, "50")
	f(123456789, "123456789")
	f(1.0/6, "0.1667")
	f(12345.678, "12346")
	f(2.5, "2.5")
	f(-0.25, "-0.25")
	f(0.00012345, "0.0001234")
	f(1e18, "1e+18")
	f(math.NaN(), "NaN")
	f(math.Inf(1), "+Inf")
	f(math.Inf(-1), "-Inf")
}

func TestLabelsString(t *testing.T) {
	f := func(labels map[string]string, want string) {
		t.Helper()
		if got := LabelsString(labels); got != want {
			t.Errorf("LabelsString(%v) = %s, want %s", labels, got, want)
		}
	}
	f(nil, "{}")
	f(map[string]string{"__name__": "up"}, "up")
	f(map[string]string{"__name__": "up", "pod": "a", "job": "api"}, `up{job="api",pod="a"}`)
	f(map[string]string{"pod": "a\"b\n"}, `{pod="a\"b\n"}`)
}

// answer builds a query answer with n matrix series named s000.. of
// points points each, in reverse label order so that sorting shows.
func answer(n, points int) string {
	var res []string
	for i := n - 1; i >= 0; i-- {
		var vals []string
		for j := 0; j < points; j++ {
			vals = append(vals, fmt.Sprintf(`[%d,"%d"]`, 1700000000+60*j, j))
		}
		res = append(res, fmt.Sprintf(`{"metric":{"s":"s%03d"},"values":[%s]}`, i, strings.Join(vals, ",")))
	}
	return `{"status":"success","data":{"resultType":"matrix","result":[` + strings.Join(res, ",") + `]}}`
}

func decodeAnswer(t *testing.T, body string, maxSeries, maxPoints int) (*Result, *envelope) {
	t.Helper()
	res := &Result{}
	env := &envelope{}
	err := decodeEnvelope(strings.NewReader(body), env, func(dec *json.Decoder) error {
		return decodeQuery(dec, res, maxSeries, maxPoints)
	})
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	res.Warnings = append(res.Warnings, env.notes()...)
	return res, env
}

func TestDecodeQueryCapsSeriesAndPoints(t *testing.T) {
	type want struct {
		series    []string // label values of s kept
		points    int      // points of the first kept series
		firstV    float64  // its first value
		truncated bool
		warnings  []string
	}
	f := func(n, points, maxSeries, maxPoints int, w want) {
		t.Helper()
		res, _ := decodeAnswer(t, answer(n, points), maxSeries, maxPoints)
		var got want
		for _, s := range res.Series {
			got.series = append(got.series, s.Labels["s"])
		}
		if len(res.Series) > 0 {
			got.points = len(res.Series[0].Points)
			got.firstV = res.Series[0].Points[0].V
		}
		got.truncated, got.warnings = res.Truncated, res.Warnings
		if diff := cmp.Diff(w, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Errorf("%d series of %d points, max %d/%d (-want +got):\n%s", n, points, maxSeries, maxPoints, diff)
		}
		if res.TotalSeries != n {
			t.Errorf("TotalSeries = %d, want %d", res.TotalSeries, n)
		}
	}
	f(3, 2, 5, 10, want{series: []string{"s000", "s001", "s002"}, points: 2, firstV: 0})
	// The first by labels are kept although they come last, also when the
	// selection compacts several times on the way (7 > 2*2, twice).
	f(7, 2, 2, 10, want{series: []string{"s000", "s001"}, points: 2, truncated: true,
		warnings: []string{"showing 2 of 7 series (first by labels); narrow the selector or aggregate (sum by, topk) to see the rest"}})
	// The newest points are kept.
	f(2, 10, 5, 4, want{series: []string{"s000", "s001"}, points: 4, firstV: 6, truncated: true,
		warnings: []string{"showing the newest 4 points of up to 10 in 2 series; use a larger step or a shorter range"}})
	f(0, 0, 5, 4, want{})
}

func TestDecodeQueryShapes(t *testing.T) {
	ts := time.Unix(1700000000, 0).UTC()
	f := func(body string, wantType string, want []Series, wantWarnings []string) {
		t.Helper()
		res, _ := decodeAnswer(t, body, 50, 300)
		if res.Type != wantType {
			t.Errorf("Type = %q, want %q", res.Type, wantType)
		}
		if diff := cmp.Diff(want, res.Series, cmpopts.EquateEmpty(), cmpopts.EquateNaNs()); diff != "" {
			t.Errorf("%s: series (-want +got):\n%s", body, diff)
		}
		if diff := cmp.Diff(wantWarnings, res.Warnings, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: warnings (-want +got):\n%s", body, diff)
		}
	}
	f(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1700000000,"1"]}]}}`,
		"vector", []Series{{Labels: map[string]string{"__name__": "up", "job": "a"}, Points: []Point{{ts, 1}}}}, nil)
	// Prometheus answers scalar() with a bare pair.
	f(`{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"2.5"]}}`,
		"scalar", []Series{{Labels: map[string]string{}, Points: []Point{{ts.Add(500 * time.Millisecond), 2.5}}}}, nil)
	f(`{"status":"success","data":{"resultType":"string","result":[1700000000,"hello"]}}`,
		"string", nil, []string{`string result: "hello"`})
	// Keys in another order, special values, warnings and a partial answer.
	f(`{"data":{"result":[{"metric":{},"values":[[1700000000,"NaN"],[1700000060,"+Inf"],[1700000120,"-Inf"]]}],"resultType":"matrix"},"warnings":["w1"],"isPartial":true,"status":"success"}`,
		"matrix", []Series{{Labels: map[string]string{}, Points: []Point{{ts, math.NaN()}, {ts.Add(time.Minute), math.Inf(1)}, {ts.Add(2 * time.Minute), math.Inf(-1)}}}},
		[]string{"w1", "partial answer: some storage nodes did not respond"})
	f(`{"status":"success","data":{"resultType":"vector","result":null}}`, "vector", nil, nil)
}

func TestDecodeEnvelopeRejects(t *testing.T) {
	f := func(body, wantErr string) {
		t.Helper()
		err := decodeEnvelope(strings.NewReader(body), &envelope{}, func(dec *json.Decoder) error {
			return decodeQuery(dec, &Result{}, 50, 300)
		})
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("decode %s: error %v, want it to contain %q", body, err, wantErr)
		}
	}
	f(`<html>bad gateway</html>`, "invalid character")
	f(`{"data":{}}`, `no "status"`)
	f(`{"status":"success"}`, `no "data"`)
	f(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}`, `sample value "x"`)
	f(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}`, "EOF")
}

func TestResultText(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	var pts []Point
	for i := 0; i < 10; i++ {
		pts = append(pts, Point{t0.Add(time.Duration(i) * time.Minute), float64(i * i)})
	}
	res := &Result{
		Series: []Series{
			{Labels: map[string]string{"__name__": "up", "pod": "a"}, Points: []Point{{t0, 1}}},
			{Labels: map[string]string{"pod": "b"}, Points: pts},
			{Labels: map[string]string{"pod": "c"}, Points: []Point{{t0, math.NaN()}, {t0.Add(time.Minute), 0.5}}},
			{Labels: map[string]string{"__name__": "only_labels", "x": "y"}},
		},
		Warnings: []string{"showing 4 of 9 series"},
	}
	want := `up{pod="a"} 1 @2026-01-02T03:04:00Z
{pod="b"} last=81 min=0 max=81 n=10: 2026-01-02T03:04:00Z=0 03:05:00=1 … 03:07:00=9 … 03:09:00=25 … 03:11:00=49 … 03:13:00=81
{pod="c"} last=0.5 min=0.5 max=0.5 n=2: 2026-01-02T03:04:00Z=NaN 03:05:00=0.5
only_labels{x="y"}
note: showing 4 of 9 series
`
	if diff := cmp.Diff(want, res.Text()); diff != "" {
		t.Errorf("Text (-want +got):\n%s", diff)
	}
	if got, want := (&Result{}).Text(), "no data\n"; got != want {
		t.Errorf("empty Text = %q, want %q", got, want)
	}
}

func TestValuesCap(t *testing.T) {
	v := &Values{Values: []string{"c", "a", "d", "b"}}
	v.cap(3)
	want := &Values{Values: []string{"a", "b", "c"}, Truncated: true,
		Warnings: []string{"showing the first 3 of at least 4 values; add a series selector to narrow them"}}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("cap (-want +got):\n%s", diff)
	}
	v = &Values{Values: []string{"b", "a"}}
	v.cap(3)
	if diff := cmp.Diff(&Values{Values: []string{"a", "b"}}, v); diff != "" {
		t.Errorf("cap under the bound (-want +got):\n%s", diff)
	}
}
