package logsql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewDefaults(t *testing.T) {
	got := newClient(t, Config{URL: "http://vl:9428/"}).Config()
	got.HTTPClient = nil
	want := Config{URL: "http://vl:9428", Timeout: 30 * time.Second, DefaultLimit: 200, MaxLimit: 2000,
		MaxBytes: 4 << 20, MaxBuckets: 300, MaxValues: 200}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	// A default limit above the maximum is lowered to it.
	if got := newClient(t, Config{URL: "http://vl", MaxLimit: 50}).Config().DefaultLimit; got != 50 {
		t.Errorf("DefaultLimit = %d, want 50", got)
	}
	for _, bad := range []string{"", "vl:9428", "ftp://vl"} {
		if _, err := New(Config{URL: bad}); err == nil {
			t.Errorf("New(URL %q) succeeded, want an error", bad)
		}
	}
}

func TestPodQuery(t *testing.T) {
	f := func(ns, pod, container, extra, want string) {
		t.Helper()
		if got := PodQuery(ns, pod, container, extra); got != want {
			t.Errorf("PodQuery(%q, %q, %q, %q) =\n%s\nwant\n%s", ns, pod, container, extra, got, want)
		}
	}
	f("shop", "checkout-1", "", "",
		`{kubernetes.pod_namespace="shop",kubernetes.pod_name="checkout-1"}`)
	f("shop", "checkout-1", "app", "error",
		`{kubernetes.pod_namespace="shop",kubernetes.pod_name="checkout-1",kubernetes.container_name="app"} (error)`)
	f("shop", "", "", `error OR ~"time(out|d out)" OR level:in("warn", 'err')`,
		`{kubernetes.pod_namespace="shop"} (error OR ~"time(out|d out)" OR level:in("warn", 'err'))`)
	f("", "", "", "", `*`)
	// Values are quoted whatever they hold.
	f(`a"} OR *`, "p\nq", `c\`, "",
		`{kubernetes.pod_namespace="a\"} OR *",kubernetes.pod_name="p\nq",kubernetes.container_name="c\\"}`)
	// An extra that could leave its parentheses is a phrase.
	f("ns", "p", "", `x) OR (*`, `{kubernetes.pod_namespace="ns",kubernetes.pod_name="p"} "x) OR (*"`)
	f("ns", "p", "", `error | stats count()`, `{kubernetes.pod_namespace="ns",kubernetes.pod_name="p"} "error | stats count()"`)
	f("ns", "p", "", "error # comment", `{kubernetes.pod_namespace="ns",kubernetes.pod_name="p"} "error # comment"`)
	f("ns", "p", "", `"\q) OR (*"`, `{kubernetes.pod_namespace="ns",kubernetes.pod_name="p"} "\"\\q) OR (*\""`)
	f("ns", "p", "", "  ", `{kubernetes.pod_namespace="ns",kubernetes.pod_name="p"}`)
}

func TestSelfContained(t *testing.T) {
	f := func(s string, want bool) {
		t.Helper()
		if got := selfContained(s); got != want {
			t.Errorf("selfContained(%q) = %v, want %v", s, got, want)
		}
	}
	f(`error`, true)
	f(`error OR warn`, true)
	f(`(a OR b) AND -c`, true)
	f(`_msg:~"a|b"`, true) // the pipe is quoted
	f(`"quoted ) paren"`, true)
	f("`raw \\ ) string`", true)
	f(`'single \' ) quote'`, true)
	f(`{app="x"} error`, true)
	f(`x:in("a", "b")`, true)
	f(`x) OR (y`, false)
	f(`a OR (b`, false)
	f(`(a]`, false)
	f(`a | limit 1`, false)
	f(`a # ) comment`, false)
	f(`"unterminated`, false)
	f(`"bad \q escape) OR (*"`, false) // VictoriaLogs' lexer would not read it as one string
	f(`'unterminated`, false)
	f("`unterminated", false)
}

func TestQuoteStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", `"`, `\`, "a\nb", "\xff", "`", "'", "} OR *", "ünï ✓"} {
		q := QuoteString(s)
		prefix, err := strconv.QuotedPrefix(q + ` OR *`)
		if err != nil || prefix != q {
			t.Errorf("QuoteString(%q) = %s: VictoriaLogs' lexer reads %q (%v)", s, q, prefix, err)
			continue
		}
		if back, err := strconv.Unquote(prefix); err != nil || back != s {
			t.Errorf("QuoteString(%q) = %s reads back as %q (%v)", s, q, back, err)
		}
	}
}

func TestAutoStep(t *testing.T) {
	f := func(r time.Duration, buckets int, want time.Duration) {
		t.Helper()
		if got := AutoStep(r, buckets); got != want {
			t.Errorf("AutoStep(%s, %d) = %s, want %s", r, buckets, got, want)
		}
	}
	f(0, 300, time.Second)
	f(4*time.Minute, 300, time.Second)
	f(5*time.Minute, 300, 5*time.Second) // 1.007s needed
	f(time.Hour, 300, 15*time.Second)
	f(24*time.Hour, 300, 5*time.Minute)
	f(90*24*time.Hour, 300, 12*time.Hour)
	f(365*24*time.Hour, 300, 48*time.Hour)
}

func line(ts, msg string, extra string) string {
	return fmt.Sprintf(`{"_time":%q,"_msg":%q,"_stream_id":"0001","kubernetes.pod_name":"p"%s}`, ts, msg, extra) + "\n"
}

func TestReadLines(t *testing.T) {
	body := line("2025-06-01T00:00:03Z", "third", "") +
		line("2025-06-01T00:00:01Z", "first", `,"n":5`) +
		"\n" +
		line("2025-06-01T00:00:02.5Z", "second\nline two", "")
	type want struct {
		msgs      []string
		truncated bool
		warnings  []string
	}
	f := func(limit int, maxBytes int64, w want) {
		t.Helper()
		res := &Lines{}
		if err := readLines(strings.NewReader(body), res, limit, maxBytes); err != nil {
			t.Fatal(err)
		}
		var got want
		for _, e := range res.Entries {
			got.msgs = append(got.msgs, e.Msg)
		}
		got.truncated, got.warnings = res.Truncated, res.Warnings
		if diff := cmp.Diff(w, got, cmp.AllowUnexported(want{})); diff != "" {
			t.Errorf("limit %d, %d bytes (-want +got):\n%s", limit, maxBytes, diff)
		}
	}
	// Sorted oldest first.
	f(10, 1<<20, want{msgs: []string{"first", "second\nline two", "third"}})
	// More lines than the limit: the newest are kept.
	f(2, 1<<20, want{msgs: []string{"second\nline two", "third"}, truncated: true,
		warnings: []string{"showing the newest 2 lines; more matched: narrow the query or the time range"}})
	// The byte bound cuts at a line end: the second line does not fit.
	first := int64(len(line("2025-06-01T00:00:03Z", "third", "")))
	f(10, first+10, want{msgs: []string{"third"}, truncated: true,
		warnings: []string{fmt.Sprintf("answer cut at %d bytes after 1 lines; narrow the query or the time range", first+10)}})
	// Exactly the whole body fits.
	f(10, int64(len(body)), want{msgs: []string{"first", "second\nline two", "third"}})

	res := &Lines{}
	if err := readLines(strings.NewReader(body), res, 10, 1<<20); err != nil {
		t.Fatal(err)
	}
	wantFirst := Entry{Time: time.Date(2025, 6, 1, 0, 0, 1, 0, time.UTC), Msg: "first",
		Fields: map[string]string{"kubernetes.pod_name": "p", "n": "5"}}
	if diff := cmp.Diff(wantFirst, res.Entries[0]); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
	wantText := "2025-06-01T00:00:01.000Z first\n2025-06-01T00:00:02.500Z second\\nline two\n2025-06-01T00:00:03.000Z third\n"
	if diff := cmp.Diff(wantText, res.Text()); diff != "" {
		t.Errorf("Text (-want +got):\n%s", diff)
	}
	if err := readLines(strings.NewReader("not json\n"), &Lines{}, 10, 1<<20); err == nil {
		t.Error("a line that is not JSON was accepted")
	}
}

func TestHitsText(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var buckets []Bucket
	for i := 0; i < 20; i++ {
		n := uint64(0)
		if i%2 == 0 {
			n = uint64(i)
		}
		buckets = append(buckets, Bucket{T: t0.Add(time.Duration(i) * time.Minute), Count: n})
	}
	h := &HitsResult{Groups: []HitsGroup{
		{Fields: map[string]string{"level": "error"}, Buckets: buckets, Total: 90},
		{Fields: map[string]string{}, Buckets: []Bucket{{t0, 0}, {t0.Add(time.Minute), 3}}, Total: 3},
		{Fields: map[string]string{"level": "debug"}, Buckets: []Bucket{{t0, 0}}, Total: 0},
	}, Warnings: []string{"step 1s would give 3601 buckets; used 15s"}}
	want := `{level="error"} total=90 peak=18@2025-06-01T00:18:00Z buckets=9/20: 2025-06-01T00:02:00Z=2 2025-06-01T00:04:00Z=4 2025-06-01T00:06:00Z=6 2025-06-01T00:08:00Z=8 … 2025-06-01T00:12:00Z=12 2025-06-01T00:14:00Z=14 2025-06-01T00:16:00Z=16 2025-06-01T00:18:00Z=18
{} total=3 peak=3@2025-06-01T00:01:00Z buckets=1/2: 2025-06-01T00:01:00Z=3
note: step 1s would give 3601 buckets; used 15s
`
	if diff := cmp.Diff(want, h.Text()); diff != "" {
		t.Errorf("Text (-want +got):\n%s", diff)
	}
}

// refusedURL is an address nothing listens on.
func refusedURL(t *testing.T) string { return "http://" + testbackend.FreeAddr(t) }

// brokenBackend answers every request as a failing reverse proxy does: an
// HTML page with the given status, which VictoriaLogs never sends itself.
func brokenBackend(t *testing.T, status int) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		io.WriteString(w, "<html><body>"+http.StatusText(status)+"</body></html>")
	}))
	t.Cleanup(s.Close)
	return s
}

// stalledBackend accepts requests and never answers; it lets go when the
// client hangs up or the test ends.
func stalledBackend(t *testing.T) *httptest.Server {
	stop := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client hanging up only once the body is read.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(stop) })
	return s
}

func TestFaults(t *testing.T) {
	refused := refusedURL(t)
	f := func(name, u string, timeout time.Duration, is error, status int, retryable bool, wantIn string) {
		t.Helper()
		_, err := newClient(t, Config{URL: u, Timeout: timeout}).Query(context.Background(), "error", time.Time{}, time.Time{}, 0)
		var le *Error
		if !errors.As(err, &le) {
			t.Errorf("%s: error %v (%T), want *Error", name, err, err)
			return
		}
		if is != nil && !errors.Is(err, is) {
			t.Errorf("%s: error %v, want it to wrap %v", name, err, is)
		}
		if le.StatusCode != status || le.Retryable() != retryable {
			t.Errorf("%s: status %d retryable %v, want %d %v", name, le.StatusCode, le.Retryable(), status, retryable)
		}
		for _, want := range []string{u, `query "error"`, wantIn} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not contain %q", name, err, want)
			}
		}
	}
	f("refused", refused, 0, syscall.ECONNREFUSED, 0, true, "connection refused")
	f("502 page", brokenBackend(t, http.StatusBadGateway).URL, 0, nil, 502, true, "HTTP 502 Bad Gateway: <html><body>Bad Gateway</body></html>")
	f("stalled", stalledBackend(t).URL, 50*time.Millisecond, context.DeadlineExceeded, 0, true, "no answer within the 50ms timeout")

	// PodLogs refuses to read every pod's logs.
	_, err := newClient(t, Config{URL: refused}).PodLogs(context.Background(), "", "p", "", time.Time{}, time.Time{}, 0)
	if err == nil || !strings.Contains(err.Error(), "namespace and pod are required") {
		t.Errorf("PodLogs without a namespace: %v", err)
	}
}
