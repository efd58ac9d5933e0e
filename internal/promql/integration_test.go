package promql

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// t0 is the start of the backfilled data: well in the past, as an
// incident being investigated is.
var t0 = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// hostilePod is a real label value that, pasted into a query unquoted,
// would add vector(1) to its answer.
const hostilePod = `x"} or vector(1) or up{a="`

// exposition quotes a label value for the Prometheus text format.
func exposition(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

// fixture writes two hours of samples at one-minute intervals from t0:
// request counters for two pods (api-0 at 1/s, api-1 at 2/s, and 500s
// from api-1 at 0.5/s in the second hour only), 120 many_series{i} series
// and two hostile{pod} series.
func fixture() string {
	var b strings.Builder
	for m := 0; m <= 120; m++ {
		ms := t0.Add(time.Duration(m) * time.Minute).UnixMilli()
		fmt.Fprintf(&b, "http_requests_total{job=\"api\",pod=\"api-0\",code=\"200\"} %d %d\n", 60*m, ms)
		fmt.Fprintf(&b, "http_requests_total{job=\"api\",pod=\"api-1\",code=\"200\"} %d %d\n", 120*m, ms)
		if m >= 60 {
			fmt.Fprintf(&b, "http_requests_total{job=\"api\",pod=\"api-1\",code=\"500\"} %d %d\n", 30*(m-60), ms)
		}
		for i := 0; i < 120; i++ {
			fmt.Fprintf(&b, "many_series{i=\"%03d\"} %d %d\n", i, i, ms)
		}
		fmt.Fprintf(&b, "hostile{pod=%s} 1 %d\n", exposition(hostilePod), ms)
		fmt.Fprintf(&b, "hostile{pod=\"x\"} 2 %d\n", ms)
	}
	return b.String()
}

func labelValues(res *Result, name string) []string {
	var out []string
	for _, s := range res.Series {
		out = append(out, s.Labels[name])
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestVictoriaMetrics(t *testing.T) {
	vm := testbackend.StartVictoriaMetrics(t)
	vm.Import(t, fixture())
	ctx := context.Background()
	c := newClient(t, Config{URL: vm.URL})
	at := t0.Add(90 * time.Minute)
	end := t0.Add(2 * time.Hour)

	t.Run("instant", func(t *testing.T) {
		res, err := c.Instant(ctx, `sum by (pod) (rate(http_requests_total[5m]))`, at)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"api-0", "api-1"}, labelValues(res, "pod")); diff != "" {
			t.Fatalf("pods (-want +got):\n%s", diff)
		}
		for i, want := range []float64{1, 2.5} {
			pts := res.Series[i].Points
			if len(pts) != 1 || !near(pts[0].V, want) || !pts[0].T.Equal(at) {
				t.Errorf("series %v: points %v, want one of %v at %s", res.Series[i].Labels, pts, want, at)
			}
		}
		if res.Truncated || len(res.Warnings) > 0 {
			t.Errorf("truncated %v warnings %v, want neither", res.Truncated, res.Warnings)
		}
	})

	t.Run("range with automatic step", func(t *testing.T) {
		res, err := c.Range(ctx, `sum(rate(http_requests_total{code="500"}[5m]))`, t0, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		// 2h in at most 300 points: 24.2s needed, 30s chosen.
		if res.Step != 30*time.Second {
			t.Errorf("step %s, want 30s", res.Step)
		}
		if len(res.Series) != 1 {
			t.Fatalf("got %d series, want 1:\n%s", len(res.Series), res.Text())
		}
		pts := res.Series[0].Points
		if len(pts) < 100 || len(pts) > c.Config().MaxPoints {
			t.Errorf("%d points, want the second hour's ~120 and at most %d", len(pts), c.Config().MaxPoints)
		}
		// The errors start in the second hour: nothing before it.
		if first := pts[0].T; first.Before(t0.Add(time.Hour)) {
			t.Errorf("first point at %s, before the errors began", first)
		}
		if last := pts[len(pts)-1]; !near(last.V, 0.5) {
			t.Errorf("last point %v, want 0.5/s", last)
		}
		for i := 1; i < len(pts); i++ {
			if d := pts[i].T.Sub(pts[i-1].T); d != 30*time.Second {
				t.Fatalf("points %d and %d are %s apart, want the 30s step", i-1, i, d)
			}
		}
	})

	t.Run("range widens a step that gives too many points", func(t *testing.T) {
		res, err := c.Range(ctx, `sum(rate(http_requests_total[5m]))`, t0, end, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if res.Step != 30*time.Second {
			t.Errorf("step %s, want 30s", res.Step)
		}
		want := []string{"step 1s would give 7201 points per series; used 30s to stay within 300"}
		if diff := cmp.Diff(want, res.Warnings); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
		if n := len(res.Series[0].Points); n > 300 {
			t.Errorf("%d points, want at most 300", n)
		}
	})

	t.Run("instant truncated to MaxSeries", func(t *testing.T) {
		res, err := c.Instant(ctx, `many_series`, at)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 0; i < 50; i++ {
			want = append(want, fmt.Sprintf("%03d", i))
		}
		if diff := cmp.Diff(want, labelValues(res, "i")); diff != "" {
			t.Errorf("kept series (-want +got):\n%s", diff)
		}
		if !res.Truncated || res.TotalSeries != 120 {
			t.Errorf("truncated %v total %d, want true 120", res.Truncated, res.TotalSeries)
		}
		wantWarn := "showing 50 of 120 series (first by labels); narrow the selector or aggregate (sum by, topk) to see the rest"
		if diff := cmp.Diff([]string{wantWarn}, res.Warnings); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
		if !strings.Contains(res.Text(), "note: showing 50 of 120 series") {
			t.Errorf("Text does not state the truncation:\n%s", res.Text())
		}
	})

	t.Run("series", func(t *testing.T) {
		res, err := c.Series(ctx, `http_requests_total`, t0, end)
		if err != nil {
			t.Fatal(err)
		}
		want := []Series{
			{Labels: map[string]string{"__name__": "http_requests_total", "code": "200", "job": "api", "pod": "api-0"}},
			{Labels: map[string]string{"__name__": "http_requests_total", "code": "200", "job": "api", "pod": "api-1"}},
			{Labels: map[string]string{"__name__": "http_requests_total", "code": "500", "job": "api", "pod": "api-1"}},
		}
		if diff := cmp.Diff(want, res.Series); diff != "" {
			t.Errorf("series (-want +got):\n%s", diff)
		}
		if res.Truncated {
			t.Errorf("truncated: %v", res.Warnings)
		}
	})

	t.Run("series truncated to MaxSeries", func(t *testing.T) {
		res, err := c.Series(ctx, `many_series`, t0, end)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Series) != 50 || !res.Truncated {
			t.Fatalf("%d series truncated %v, want 50 true", len(res.Series), res.Truncated)
		}
		keys := labelValues(res, "i")
		if !sort.StringsAreSorted(keys) {
			t.Errorf("series not sorted by labels: %v", keys)
		}
		if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], "showing 50 of ") {
			t.Errorf("warnings %q, want one stating the cut", res.Warnings)
		}
	})

	t.Run("label names and values", func(t *testing.T) {
		names, err := c.LabelNames(ctx, t0, end)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"__name__", "code", "i", "job", "pod"}, names.Values); diff != "" {
			t.Errorf("label names (-want +got):\n%s", diff)
		}
		pods, err := c.LabelValues(ctx, "pod", t0, end, `http_requests_total`)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"api-0", "api-1"}, pods.Values); diff != "" {
			t.Errorf("pod values (-want +got):\n%s", diff)
		}
		small := newClient(t, Config{URL: vm.URL, MaxValues: 10})
		is, err := small.LabelValues(ctx, "i", t0, end)
		if err != nil {
			t.Fatal(err)
		}
		if len(is.Values) != 10 || !is.Truncated {
			t.Errorf("values %v truncated %v, want 10 and true", is.Values, is.Truncated)
		}
		if !strings.Contains(is.Text(), "note: showing the first 10 of at least 11 values") {
			t.Errorf("Text does not state the truncation:\n%s", is.Text())
		}
	})

	t.Run("MetricsQL extensions pass validation", func(t *testing.T) {
		// rollup_rate is VictoriaMetrics' own: one series per rollup kind.
		res, err := c.Instant(ctx, `rollup_rate(http_requests_total{pod="api-0"}[5m])`, at)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"avg", "max", "min"}, labelValues(res, "rollup")); diff != "" {
			t.Errorf("rollups (-want +got):\n%s", diff)
		}
		for _, s := range res.Series {
			if !near(s.Points[0].V, 1) {
				t.Errorf("%v = %v, want 1/s", s.Labels, s.Points[0].V)
			}
		}
		res, err = c.Instant(ctx, `WITH (f(sel) = sum(rate(sel[5m]))) f(http_requests_total{job="api"})`, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Series) != 1 || !near(res.Series[0].Points[0].V, 3.5) {
			t.Errorf("WITH template answered %s, want one series of 3.5", res.Text())
		}
	})

	t.Run("invalid expression is not sent", func(t *testing.T) {
		// VictoriaMetrics' /metrics is a snapshot refreshed now and then. A
		// request to another path marks a snapshot as taken after the call.
		queriesAfter := func(mark func()) int {
			before := vmRequests(t, vm.URL)
			mark()
			http.Get(vm.URL + "/api/v1/labels")
			var now map[string]int
			testbackend.Eventually(t, 30*time.Second, func() error {
				if now = vmRequests(t, vm.URL); now["/api/v1/labels"] <= before["/api/v1/labels"] {
					return errors.New("the /metrics snapshot predates the marker")
				}
				return nil
			})
			return now["/api/v1/query"] - before["/api/v1/query"]
		}
		n := queriesAfter(func() {
			if _, err := c.Instant(ctx, `sum(rate(http_requests_total[5m])`, at); !errors.Is(err, ErrInvalidQuery) {
				t.Errorf("error %v, want ErrInvalidQuery", err)
			}
		})
		if n != 0 {
			t.Errorf("VictoriaMetrics served %d query requests during the call, want none", n)
		}
		// The counter does see such a query when it is sent.
		n = queriesAfter(func() {
			resp, err := http.Get(vm.URL + "/api/v1/query?query=" + "sum(rate(x%5B5m%5D)")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		})
		if n != 1 {
			t.Errorf("VictoriaMetrics counted %d query requests after one direct request", n)
		}
	})

	t.Run("backend error names backend and query", func(t *testing.T) {
		// Valid syntax, but VictoriaMetrics cannot compile the regexp.
		q := `label_replace(http_requests_total, "a", "$1", "b", "(")`
		_, err := c.Instant(ctx, q, at)
		var be *BackendError
		if !errors.As(err, &be) {
			t.Fatalf("error %v (%T), want *BackendError", err, err)
		}
		if be.StatusCode != 422 || !strings.Contains(be.Message, "cannot compile regex") || be.Retryable() {
			t.Errorf("status %d message %q retryable %v, want 422, the regexp error, not retryable", be.StatusCode, be.Message, be.Retryable())
		}
		for _, want := range []string{vm.URL, strconv.Quote(q), "HTTP 422"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})

	t.Run("answer over the byte bound", func(t *testing.T) {
		small := newClient(t, Config{URL: vm.URL, MaxResponseBytes: 2 << 10})
		_, err := small.Range(ctx, `many_series`, t0, end, 0)
		if err == nil || !strings.Contains(err.Error(), "answer larger than 2 KiB") {
			t.Errorf("error %v, want one about the 2 KiB bound", err)
		}
	})

	t.Run("hostile label value cannot change the query", func(t *testing.T) {
		res, err := c.Instant(ctx, `hostile{pod=`+QuoteLabelValue(hostilePod)+`}`, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Series) != 1 || res.Series[0].Labels["pod"] != hostilePod || res.Series[0].Points[0].V != 1 {
			t.Errorf("got %s, want only the series whose pod is the hostile value", res.Text())
		}
		// A hostile value that matches nothing yields nothing, where an
		// injected vector(1) would yield a series.
		res, err = c.Instant(ctx, `hostile{pod=`+QuoteLabelValue(`nope"} or vector(1) or up{a="`)+`}`, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Series) != 0 {
			t.Errorf("got %s, want no data", res.Text())
		}
	})

	t.Run("recorded calls", func(t *testing.T) {
		rec := toolcall.NewRecorder(0, nil)
		rc := c.WithRecorder(rec)
		rc.Instant(ctx, `sum by (pod) (rate(http_requests_total[5m]))`, at)
		rc.Instant(ctx, `no_such_metric`, at)
		rc.Range(ctx, `sum(rate(http_requests_total[5m]))`, t0, end, 0)
		rc.Series(ctx, `http_requests_total{pod="api-0"}`, t0, end)
		rc.LabelValues(ctx, "pod", t0, end)
		rc.Instant(ctx, `rate(`, at)
		// The copy records; the original does not.
		c.Instant(ctx, `up`, at)

		type summary struct {
			Tool, Backend, Description string
			Status                     toolcall.Status
		}
		var got []summary
		calls := rec.Calls()
		for _, call := range calls {
			got = append(got, summary{call.Tool, call.Backend, call.Description, call.Status})
		}
		want := []summary{
			{"metrics.query", "prometheus", "query sum by (pod) (rate(http_requests_total[5m])) [@2025-06-01T01:30:00Z]", toolcall.Success},
			{"metrics.query", "prometheus", "query no_such_metric [@2025-06-01T01:30:00Z]", toolcall.NoData},
			{"metrics.query_range", "prometheus", "query_range sum(rate(http_requests_total[5m])) [2025-06-01T00:00:00Z..2025-06-01T02:00:00Z step 30s]", toolcall.Success},
			{"metrics.series", "prometheus", `series http_requests_total{pod="api-0"} [2025-06-01T00:00:00Z..2025-06-01T02:00:00Z]`, toolcall.Success},
			{"metrics.label_values", "prometheus", "label_values pod [2025-06-01T00:00:00Z..2025-06-01T02:00:00Z]", toolcall.Success},
			{"metrics.query", "prometheus", "query rate( [@2025-06-01T01:30:00Z]", toolcall.Error},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("calls (-want +got):\n%s", diff)
		}
		wantExcerpt := "{pod=\"api-0\"} 1 @2025-06-01T01:30:00Z\n{pod=\"api-1\"} 2.5 @2025-06-01T01:30:00Z\n"
		if diff := cmp.Diff(wantExcerpt, calls[0].Excerpt); diff != "" {
			t.Errorf("excerpt (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"query": "no_such_metric", "time": "2025-06-01T01:30:00Z"}, calls[1].Args); diff != "" {
			t.Errorf("args (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(calls[2].Excerpt, "{} last=3.5 min=") {
			t.Errorf("range excerpt %q, want the series summary", calls[2].Excerpt)
		}
		if !strings.Contains(calls[5].Error, "invalid query") {
			t.Errorf("error %q, want the parse error", calls[5].Error)
		}
		// Every rerun link answers the same from the backend.
		for _, call := range calls[:5] {
			status, n := rerun(t, call.URL)
			if status != "success" {
				t.Errorf("%s: rerun %s answered %s", call.Tool, call.URL, status)
			}
			if call.Status == toolcall.NoData && n != 0 || call.Status == toolcall.Success && n == 0 {
				t.Errorf("%s: rerun %s gave %d results, recorded status %s", call.Tool, call.URL, n, call.Status)
			}
		}
	})
}

// rerun GETs a recorded link and returns the status and the number of
// results in it.
func rerun(t *testing.T, u string) (string, int) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("rerun %s: %v", u, err)
	}
	var list []json.RawMessage
	if json.Unmarshal(body.Data, &list) != nil {
		var q struct {
			Result []json.RawMessage `json:"result"`
		}
		json.Unmarshal(body.Data, &q)
		list = q.Result
	}
	return body.Status, len(list)
}

// vmRequests reads how many requests VictoriaMetrics has served per
// path, from its own metrics.
func vmRequests(t *testing.T, base string) map[string]int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), `vm_http_requests_total{path="`)
		if !ok {
			continue
		}
		path, v, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		counts[path] = n
	}
	return counts
}

const testRules = `
groups:
  - name: sleuth-test
    interval: 1s
    rules:
      - alert: SleuthTestUp
        expr: sleuth_test_up > 0
        labels: {severity: page}
        annotations: {summary: "sleuth_test_up is {{ $value }}"}
      - record: job:sleuth_test_up:sum
        expr: sum by (job) (sleuth_test_up)
`

func TestRulesAndAlertsThroughVMAlertProxy(t *testing.T) {
	ctx := context.Background()
	// Without a vmalert behind it, VictoriaMetrics lists nothing.
	bare := testbackend.StartVictoriaMetrics(t)
	rules, err := newClient(t, Config{URL: bare.URL}).Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Groups) != 0 || rules.Text() != "no rules\n" {
		t.Errorf("rules without vmalert: %s", rules.Text())
	}

	alertAddr := testbackend.FreeAddr(t)
	vm := testbackend.StartVictoriaMetrics(t, "-vmalert.proxyURL=http://"+alertAddr)
	now := time.Now()
	var samples strings.Builder
	for i := 10; i >= 0; i-- {
		fmt.Fprintf(&samples, "sleuth_test_up{job=\"x\"} 1 %d\n", now.Add(-time.Duration(i)*10*time.Second).UnixMilli())
	}
	vm.Import(t, samples.String())
	testbackend.StartVMAlert(t, testbackend.VMAlertConfig{Datasource: vm.URL, Rules: testRules, Addr: alertAddr})

	rec := toolcall.NewRecorder(0, nil)
	c := newClient(t, Config{URL: vm.URL}).WithRecorder(rec)
	var alerts *Alerts
	testbackend.Eventually(t, 30*time.Second, func() error {
		var err error
		alerts, err = c.Alerts(ctx)
		if err != nil {
			return err
		}
		if len(alerts.Alerts) == 0 {
			return errors.New("no alert yet")
		}
		return nil
	})
	al := alerts.Alerts[0]
	if al.State != "firing" || al.Labels["alertname"] != "SleuthTestUp" || al.Labels["severity"] != "page" ||
		al.Annotations["summary"] != "sleuth_test_up is 1" || al.ActiveAt.IsZero() {
		t.Errorf("alert %+v, want SleuthTestUp firing with its labels and summary", al)
	}
	if !strings.HasPrefix(alerts.Text(), `firing SleuthTestUp{alertgroup="sleuth-test",job="x",severity="page"} since `) {
		t.Errorf("alerts Text:\n%s", alerts.Text())
	}

	rules, err = c.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Groups) != 1 || len(rules.Groups[0].Rules) != 2 {
		t.Fatalf("rules:\n%s", rules.Text())
	}
	g := rules.Groups[0]
	if g.Name != "sleuth-test" || g.Interval != time.Second {
		t.Errorf("group %q every %s, want sleuth-test every 1s", g.Name, g.Interval)
	}
	alerting, recording := g.Rules[0], g.Rules[1]
	if alerting.Type != "alerting" || alerting.State != "firing" || alerting.Query != "sleuth_test_up > 0" || len(alerting.Alerts) != 1 {
		t.Errorf("alerting rule %+v", alerting)
	}
	if recording.Type != "recording" || recording.Name != "job:sleuth_test_up:sum" || recording.Health != "ok" {
		t.Errorf("recording rule %+v", recording)
	}
	text := rules.Text()
	for _, want := range []string{"group sleuth-test", "  alerting SleuthTestUp [firing, 1 alerts]: sleuth_test_up > 0\n",
		"  recording job:sleuth_test_up:sum: sum by (job) (sleuth_test_up)\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("rules Text lacks %q:\n%s", want, text)
		}
	}
	calls := rec.Calls()
	last := calls[len(calls)-1]
	if last.Tool != "metrics.rules" || last.Status != toolcall.Success || !strings.Contains(last.Excerpt, "SleuthTestUp") {
		t.Errorf("last call %+v, want a successful metrics.rules", last)
	}
}
