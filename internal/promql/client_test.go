package promql

import (
	"context"
	"errors"
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
	"github.com/sleuth-sre/sleuth/internal/toolcall"
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
	c := newClient(t, Config{URL: "http://vm:8428/"})
	got := c.Config()
	got.HTTPClient = nil
	want := Config{URL: "http://vm:8428", Timeout: 30 * time.Second, MaxSeries: 50, MaxPoints: 300,
		MaxValues: 200, MaxResponseBytes: 64 << 20}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "vm:8428", "ftp://vm", "http://"} {
		if _, err := New(Config{URL: bad}); err == nil {
			t.Errorf("New(URL %q) succeeded, want an error", bad)
		}
	}
}

// refusedURL is an address nothing listens on: a call that reached the
// network would fail with "connection refused".
func refusedURL(t *testing.T) string {
	return "http://" + testbackend.FreeAddr(t)
}

func TestInvalidQueryIsNotSent(t *testing.T) {
	rec := toolcall.NewRecorder(0, nil)
	c := newClient(t, Config{URL: refusedURL(t)}).WithRecorder(rec)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := []struct {
		name, query string
		call        func() error
	}{
		{"instant", "sum(rate(x[5m])", func() error { _, err := c.Instant(ctx, "sum(rate(x[5m])", t0); return err }},
		{"range", "rate(x[5m]) +", func() error { _, err := c.Range(ctx, "rate(x[5m]) +", t0, t0.Add(time.Hour), 0); return err }},
		{"series", `up{job="a"`, func() error { _, err := c.Series(ctx, `up{job="a"`, t0, t0.Add(time.Hour)); return err }},
		{"label values", "up{", func() error { _, err := c.LabelValues(ctx, "job", t0, t0, "up{"); return err }},
		{"empty", "empty expression", func() error { _, err := c.Instant(ctx, "  ", t0); return err }},
	}
	for _, tc := range calls {
		err := tc.call()
		if !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: error %v, want ErrInvalidQuery", tc.name, err)
			continue
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: the query was sent: %v", tc.name, err)
		}
		named := strings.Contains(err.Error(), strconv.Quote(tc.query)) || tc.name == "empty" && strings.Contains(err.Error(), tc.query)
		if !named || !strings.Contains(err.Error(), "not sent") {
			t.Errorf("%s: error %q does not name the query %q and say it was not sent", tc.name, err, tc.query)
		}
	}
	for _, call := range rec.Calls() {
		if call.Status != toolcall.Error || call.Error == "" {
			t.Errorf("recorded %s with status %s error %q, want an error", call.Tool, call.Status, call.Error)
		}
	}
	if n := len(rec.Calls()); n != len(calls) {
		t.Errorf("recorded %d calls, want %d", n, len(calls))
	}
}

func TestConnectionRefused(t *testing.T) {
	u := refusedURL(t)
	c := newClient(t, Config{URL: u})
	_, err := c.Instant(context.Background(), "up", time.Time{})
	var be *BackendError
	if !errors.As(err, &be) {
		t.Fatalf("error %v (%T), want a *BackendError", err, err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) || !be.Retryable() {
		t.Errorf("error %v: want ECONNREFUSED and retryable", err)
	}
	for _, want := range []string{u, `"up"`, "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// brokenBackend answers every request as a failing reverse proxy does:
// an HTML page with the given status, which no real backend sends itself.
func brokenBackend(t *testing.T, status int) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		io.WriteString(w, "<html><body><h1>"+http.StatusText(status)+"</h1>\n upstream   connect error</body></html>")
	}))
	t.Cleanup(s.Close)
	return s
}

// errorInOKBackend answers 200 with an API error body, as some
// Prometheus-compatible proxies do.
func errorInOKBackend(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// stalledBackend accepts requests and never answers, as an overloaded
// vmselect can; it lets go when the client gives up.
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
	t.Cleanup(func() { close(stop) }) // runs first: Close waits for handlers
	return s
}

func TestBackendFaults(t *testing.T) {
	f := func(name string, srv *httptest.Server, cfg Config, wantStatus int, retryable bool, wantIn ...string) {
		t.Helper()
		cfg.URL = srv.URL
		_, err := newClient(t, cfg).Range(context.Background(), "rate(x[5m])",
			time.Unix(1700000000, 0), time.Unix(1700003600, 0), 0)
		var be *BackendError
		if !errors.As(err, &be) {
			t.Errorf("%s: error %v (%T), want a *BackendError", name, err, err)
			return
		}
		if be.StatusCode != wantStatus || be.Retryable() != retryable {
			t.Errorf("%s: status %d retryable %v, want %d %v", name, be.StatusCode, be.Retryable(), wantStatus, retryable)
		}
		for _, want := range append(wantIn, srv.URL, `query_range "rate(x[5m])"`) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not contain %q", name, err, want)
			}
		}
	}
	f("502 page", brokenBackend(t, http.StatusBadGateway), Config{}, 502, true,
		"HTTP 502 Bad Gateway: <html><body><h1>Bad Gateway</h1> upstream connect error</body></html>")
	f("error in a 200", errorInOKBackend(t), Config{}, 200, false,
		"(execution): query processing would load too many samples")
	f("stalled", stalledBackend(t), Config{Timeout: 50 * time.Millisecond}, 0, true,
		"no answer within the 50ms timeout")
}

func TestStalledBackendIsDeadlineExceeded(t *testing.T) {
	c := newClient(t, Config{URL: stalledBackend(t).URL, Timeout: 50 * time.Millisecond})
	_, err := c.Instant(context.Background(), "up", time.Time{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
}
