package logsql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// t0 is the start of the backfilled lines: in the past, as an incident
// being investigated is.
var t0 = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// evilPod is a real pod name (in this test) that, pasted unquoted into a
// stream filter, would select every stream.
const evilPod = `evil"} OR {kubernetes.pod_name=~".*`

func logLine(sec int, ns, pod, container, msg, level string) map[string]string {
	return map[string]string{
		"_time":                     t0.Add(time.Duration(sec) * time.Second).Format(time.RFC3339Nano),
		"_msg":                      msg,
		FieldNamespace:              ns,
		FieldPod:                    pod,
		FieldContainer:              container,
		FieldNode:                   "node-1",
		FieldPodLabelPrefix + "app": strings.Split(pod, "-")[0],
		"level":                     level,
	}
}

// fixture returns lines in an order unlike their times: checkout-1 (five
// from app, two from a sidecar), cart-1 (three), chatty-1 (thirty), a pod
// with a hostile name, and a checkout-1 of the same name in another
// namespace.
func fixture() [][]map[string]string {
	first := []map[string]string{
		logLine(50, "shop", "checkout-1", "app", "order 3 paid", "info"),
		logLine(10, "shop", "checkout-1", "app", "starting checkout", "info"),
		logLine(40, "shop", "checkout-1", "app", "error: db timeout after 5s", "error"),
		logLine(20, "shop", "cart-1", "app", "cart ready", "info"),
		logLine(30, "shop", "checkout-1", "app", "order 1 paid", "info"),
		logLine(35, "shop", "checkout-1", "app", "order 2 paid", "info"),
		logLine(15, "shop", "checkout-1", "istio-proxy", "envoy ready", "info"),
		logLine(45, "shop", "checkout-1", "istio-proxy", "upstream reset", "warn"),
		logLine(25, "shop", "cart-1", "app", "cart error: redis down", "error"),
		logLine(26, "shop", "cart-1", "app", "cart retry", "info"),
		logLine(60, "shop", evilPod, "app", "evil pod line", "info"),
		logLine(61, "other", "checkout-1", "app", "same pod name, other namespace", "info"),
	}
	var chatty []map[string]string
	for i := 29; i >= 0; i-- {
		chatty = append(chatty, logLine(100+i*60, "shop", "chatty-1", "app", fmt.Sprintf("tick %02d", i), "debug"))
	}
	return [][]map[string]string{first, chatty}
}

func msgs(l *Lines) []string {
	var out []string
	for _, e := range l.Entries {
		out = append(out, e.Msg)
	}
	return out
}

func TestVictoriaLogs(t *testing.T) {
	vl := testbackend.StartVictoriaLogs(t)
	for _, batch := range fixture() {
		vl.Ingest(t, batch)
	}
	ctx := context.Background()
	c := newClient(t, Config{URL: vl.URL})
	start, end := t0, t0.Add(time.Hour)

	t.Run("pod logs in time order", func(t *testing.T) {
		l, err := c.PodLogs(ctx, "shop", "checkout-1", "", start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"starting checkout", "envoy ready", "order 1 paid", "order 2 paid",
			"error: db timeout after 5s", "upstream reset", "order 3 paid"}
		if diff := cmp.Diff(want, msgs(l)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		for _, e := range l.Entries {
			if e.Fields[FieldNamespace] != "shop" || e.Fields[FieldPod] != "checkout-1" || e.Fields[FieldNode] != "node-1" {
				t.Errorf("line %q has fields %v", e.Msg, e.Fields)
			}
		}
		if l.Truncated {
			t.Errorf("truncated: %v", l.Warnings)
		}
		app, err := c.PodLogs(ctx, "shop", "checkout-1", "app", start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		want = []string{"starting checkout", "order 1 paid", "order 2 paid", "error: db timeout after 5s", "order 3 paid"}
		if diff := cmp.Diff(want, msgs(app)); diff != "" {
			t.Errorf("app container lines (-want +got):\n%s", diff)
		}
		wantText := "2025-06-01T00:00:10.000Z starting checkout\n2025-06-01T00:00:30.000Z order 1 paid\n"
		if !strings.HasPrefix(app.Text(), wantText) {
			t.Errorf("Text:\n%s\nwant it to start with\n%s", app.Text(), wantText)
		}
	})

	t.Run("extra filter narrows", func(t *testing.T) {
		l, err := c.Query(ctx, PodQuery("shop", "", "", `error OR level:warn`), start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"cart error: redis down", "error: db timeout after 5s", "upstream reset"}
		if diff := cmp.Diff(want, msgs(l)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})

	t.Run("hostile values cannot widen the query", func(t *testing.T) {
		// The hostile pod's own lines come back, and nothing else.
		l, err := c.PodLogs(ctx, "shop", evilPod, "", start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"evil pod line"}, msgs(l)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		// The same value pasted between quotes unescaped selects every
		// stream: the value is hostile.
		raw := `{kubernetes.pod_namespace="shop",kubernetes.pod_name="` + evilPod + `"}`
		all, err := c.Query(ctx, raw, start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Entries) <= 1 {
			t.Fatalf("unquoted, %s selected %d lines; want it to select more than the pod's", raw, len(all.Entries))
		}
		for _, tc := range []struct{ ns, pod, container, extra string }{
			{"shop", `nope"} OR {kubernetes.pod_name=~".*`, "", ""},
			{`nope"} OR *`, "checkout-1", "", ""},
			{"shop", "checkout-1", `x"} OR * #`, ""},
			{"shop", "nope", "", `x) OR (*`},
			{"shop", "nope", "", `"\q) OR (*"`},
			{"shop", "nope", "", "* # comment\n"},
			{"shop", "nope", "", `* | stats count()`},
			{"shop", "nope\n", "", ""},
			{"shop", "nope\\", "", ""},
		} {
			q := PodQuery(tc.ns, tc.pod, tc.container, tc.extra)
			l, err := c.Query(ctx, q, start, end, 0)
			if err != nil {
				t.Errorf("%s: %v", q, err)
				continue
			}
			if len(l.Entries) != 0 {
				t.Errorf("%s selected %d lines, want none:\n%s", q, len(l.Entries), l.Text())
			}
		}
		// Quoted, a value reads back exactly: the namespace filter keeps
		// the other namespace's checkout-1 out.
		other, err := c.PodLogs(ctx, "other", "checkout-1", "", start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"same pod name, other namespace"}, msgs(other)); diff != "" {
			t.Errorf("other namespace (-want +got):\n%s", diff)
		}
	})

	t.Run("limit keeps the newest lines", func(t *testing.T) {
		l, err := c.PodLogs(ctx, "shop", "chatty-1", "", start, end, 10)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 20; i < 30; i++ {
			want = append(want, fmt.Sprintf("tick %02d", i))
		}
		if diff := cmp.Diff(want, msgs(l)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		if !l.Truncated || !strings.Contains(l.Text(), "note: showing the newest 10 lines; more matched") {
			t.Errorf("truncated %v, Text:\n%s", l.Truncated, l.Text())
		}
		// Exactly as many lines as the limit is not a cut.
		l, err = c.PodLogs(ctx, "shop", "chatty-1", "", start, end, 30)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Entries) != 30 || l.Truncated {
			t.Errorf("%d lines truncated %v, want 30 false", len(l.Entries), l.Truncated)
		}
	})

	t.Run("limit capped at MaxLimit", func(t *testing.T) {
		small := newClient(t, Config{URL: vl.URL, MaxLimit: 5})
		l, err := small.Query(ctx, PodQuery("shop", "chatty-1", "", ""), start, end, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Entries) != 5 || l.Entries[4].Msg != "tick 29" {
			t.Errorf("lines %q, want the newest 5", msgs(l))
		}
		if len(l.Warnings) == 0 || l.Warnings[0] != "limit 100 lowered to 5" {
			t.Errorf("warnings %q", l.Warnings)
		}
		// No limit means the default, which is lowered to the maximum.
		l, err = small.Query(ctx, "*", start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Entries) != 5 || !l.Truncated {
			t.Errorf("%d lines truncated %v, want 5 true", len(l.Entries), l.Truncated)
		}
	})

	t.Run("byte bound", func(t *testing.T) {
		small := newClient(t, Config{URL: vl.URL, MaxBytes: 2 << 10})
		l, err := small.Query(ctx, PodQuery("shop", "chatty-1", "", ""), start, end, 30)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Entries) == 0 || len(l.Entries) >= 30 || !l.Truncated {
			t.Fatalf("%d lines truncated %v, want some of the 30 and true", len(l.Entries), l.Truncated)
		}
		for _, e := range l.Entries {
			if !strings.HasPrefix(e.Msg, "tick ") || e.Time.IsZero() {
				t.Errorf("entry %+v is not a whole line", e)
			}
		}
		if !strings.Contains(l.Text(), "note: answer cut at 2 KiB after") {
			t.Errorf("Text:\n%s", l.Text())
		}
	})

	t.Run("hits", func(t *testing.T) {
		h, err := c.Hits(ctx, PodQuery("shop", "chatty-1", "", ""), start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h.Step != 15*time.Second {
			t.Errorf("step %s, want 15s", h.Step)
		}
		if len(h.Groups) != 1 || h.Groups[0].Total != 30 {
			t.Fatalf("hits:\n%s", h.Text())
		}
		var sum uint64
		for _, b := range h.Groups[0].Buckets {
			sum += b.Count
			if b.Count > 0 && (b.T.Before(start) || !b.T.Before(end)) {
				t.Errorf("bucket %v outside the range", b)
			}
		}
		if sum != 30 || len(h.Groups[0].Buckets) > 300 {
			t.Errorf("%d hits in %d buckets, want 30 in at most 300", sum, len(h.Groups[0].Buckets))
		}

		byPod, err := c.Hits(ctx, PodQuery("shop", "", "", ""), start, end, time.Second, FieldPod)
		if err != nil {
			t.Fatal(err)
		}
		if byPod.Step != 15*time.Second || len(byPod.Warnings) != 1 || byPod.Warnings[0] != "step 1s would give 3601 buckets; used 15s" {
			t.Errorf("step %s warnings %q, want 15s and a note", byPod.Step, byPod.Warnings)
		}
		var got []string
		for _, g := range byPod.Groups {
			got = append(got, fmt.Sprintf("%s=%d", g.Fields[FieldPod], g.Total))
		}
		want := []string{"chatty-1=30", "checkout-1=7", "cart-1=3", evilPod + "=1"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("groups, biggest first (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(byPod.Text(), `{kubernetes.pod_name="chatty-1"} total=30 peak=`) {
			t.Errorf("Text:\n%s", byPod.Text())
		}
	})

	t.Run("field names and values", func(t *testing.T) {
		names, err := c.FieldNames(ctx, PodQuery("shop", "checkout-1", "", ""), start, end)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range names.Values {
			got = append(got, v.Value)
		}
		sort.Strings(got)
		want := []string{"_msg", "_stream", "_stream_id", "_time", FieldContainer, FieldPodLabelPrefix + "app",
			FieldPod, FieldNamespace, FieldNode, "level"}
		sort.Strings(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("field names (-want +got):\n%s", diff)
		}
		levels, err := c.FieldValues(ctx, PodQuery("shop", "checkout-1", "", ""), "level", start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantLevels := []ValueHits{{"info", 5}, {"error", 1}, {"warn", 1}}
		if diff := cmp.Diff(wantLevels, levels.Values); diff != "" {
			t.Errorf("level values (-want +got):\n%s", diff)
		}
		if levels.Text() != "info (5)\nerror (1)\nwarn (1)\n" {
			t.Errorf("Text:\n%s", levels.Text())
		}
		two, err := c.FieldValues(ctx, PodQuery("shop", "", "", ""), FieldPod, start, end, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(two.Values) != 2 || !two.Truncated {
			t.Errorf("values %v truncated %v, want 2 and true", two.Values, two.Truncated)
		}
	})

	t.Run("streams", func(t *testing.T) {
		s, err := c.Streams(ctx, PodQuery("shop", "checkout-1", "", ""), start, end, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []ValueHits{
			{`{kubernetes.container_name="app",kubernetes.pod_name="checkout-1",kubernetes.pod_namespace="shop"}`, 5},
			{`{kubernetes.container_name="istio-proxy",kubernetes.pod_name="checkout-1",kubernetes.pod_namespace="shop"}`, 2},
		}
		if diff := cmp.Diff(want, s.Values); diff != "" {
			t.Errorf("streams (-want +got):\n%s", diff)
		}
		one, err := c.Streams(ctx, PodQuery("shop", "", "", ""), start, end, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(one.Values) != 1 || !one.Truncated {
			t.Errorf("streams %v truncated %v, want 1 and true", one.Values, one.Truncated)
		}
	})

	t.Run("backend error names backend and query", func(t *testing.T) {
		_, err := c.Query(ctx, `level:(`, start, end, 0)
		var le *Error
		if !errors.As(err, &le) {
			t.Fatalf("error %v (%T), want *Error", err, err)
		}
		if le.StatusCode != 400 || !strings.Contains(le.Message, "cannot parse") || le.Retryable() {
			t.Errorf("status %d message %q retryable %v", le.StatusCode, le.Message, le.Retryable())
		}
		for _, want := range []string{vl.URL, `query "level:("`, "HTTP 400"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})

	t.Run("recorded calls", func(t *testing.T) {
		rec := toolcall.NewRecorder(0, nil)
		rc := c.WithRecorder(rec)
		rc.PodLogs(ctx, "shop", "cart-1", "", start, end, 0)
		rc.PodLogs(ctx, "shop", "nope", "", start, end, 5)
		rc.Hits(ctx, PodQuery("shop", "cart-1", "", ""), start, end, time.Minute)
		rc.Streams(ctx, PodQuery("shop", "cart-1", "", ""), start, end, 0)
		rc.FieldNames(ctx, PodQuery("shop", "cart-1", "", ""), start, end)
		rc.FieldValues(ctx, PodQuery("shop", "cart-1", "", ""), "level", start, end, 0)
		rc.Query(ctx, `level:(`, start, end, 0)
		c.Query(ctx, `*`, start, end, 0) // the original client records nothing

		cart := `{kubernetes.pod_namespace="shop",kubernetes.pod_name="cart-1"}`
		rng := "2025-06-01T00:00:00Z..2025-06-01T01:00:00Z"
		type summary struct {
			Tool, Backend, Description string
			Status                     toolcall.Status
		}
		want := []summary{
			{"logs.query", "victorialogs", cart + " [" + rng + " limit 200]", toolcall.Success},
			{"logs.query", "victorialogs", `{kubernetes.pod_namespace="shop",kubernetes.pod_name="nope"} [` + rng + " limit 5]", toolcall.NoData},
			{"logs.hits", "victorialogs", "hits " + cart + " [" + rng + " step 1m]", toolcall.Success},
			{"logs.streams", "victorialogs", "streams " + cart + " [" + rng + " limit 200]", toolcall.Success},
			{"logs.field_names", "victorialogs", "field_names " + cart + " [" + rng + "]", toolcall.Success},
			{"logs.field_values", "victorialogs", "field_values level " + cart + " [" + rng + " limit 200]", toolcall.Success},
			{"logs.query", "victorialogs", "level:( [" + rng + " limit 200]", toolcall.Error},
		}
		calls := rec.Calls()
		var got []summary
		for _, call := range calls {
			got = append(got, summary{call.Tool, call.Backend, call.Description, call.Status})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("calls (-want +got):\n%s", diff)
		}
		wantExcerpt := "2025-06-01T00:00:20.000Z cart ready\n2025-06-01T00:00:25.000Z cart error: redis down\n2025-06-01T00:00:26.000Z cart retry\n"
		if diff := cmp.Diff(wantExcerpt, calls[0].Excerpt); diff != "" {
			t.Errorf("excerpt (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"query": cart, "start": "2025-06-01T00:00:00Z", "end": "2025-06-01T01:00:00Z", "limit": "200"}, calls[0].Args); diff != "" {
			t.Errorf("args (-want +got):\n%s", diff)
		}
		if !strings.Contains(calls[6].Error, "cannot parse") {
			t.Errorf("recorded error %q", calls[6].Error)
		}
		// The rerun link gives the same lines.
		resp, err := http.Get(calls[0].URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		n := 0
		for dec.More() {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if resp.StatusCode != 200 || n != 3 {
			t.Errorf("rerun %s: HTTP %d, %d lines, want 3", calls[0].URL, resp.StatusCode, n)
		}
		if !strings.Contains(calls[0].URL, "limit="+strconv.Itoa(200)) {
			t.Errorf("rerun link %s does not keep the limit", calls[0].URL)
		}
	})
}
