package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
)

const payload = `{
  "version": "4", "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}", "truncatedAlerts": 0,
  "status": "firing", "receiver": "sleuth",
  "groupLabels": {"alertname": "KubePodCrashLooping"},
  "commonLabels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "severity": "critical"},
  "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
  "alerts": [
    {"status": "firing", "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "checkout-7d9f8b6c5d-x2k4p", "severity": "critical"},
     "annotations": {"summary": "Pod is crash looping"}, "startsAt": "2026-11-25T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://vmalert/x", "fingerprint": "1a2b3c4d5e6f7a8b"},
    {"status": "firing", "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "checkout-7d9f8b6c5d-q8z7m", "severity": "critical"},
     "annotations": {"summary": "Pod is crash looping"}, "startsAt": "2026-11-25T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://vmalert/x", "fingerprint": "1a2b3c4d5e6f7a8c"}
  ]
}`

type env struct {
	srv    *httptest.Server
	store  *sqlite.Store
	queued int
}

func newEnv(t *testing.T, mutate func(*config.Config)) *env {
	t.Helper()
	cfg := config.Default()
	cfg.Auth = config.Auth{WebhookToken: "hook-secret", WebhookUsername: "am", WebhookPassword: "am-pass", APIToken: "api-secret"}
	if mutate != nil {
		mutate(&cfg)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: st}
	s := New(Options{
		Store: st, Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: telemetry.New(),
		Now: func() time.Time { return time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC) }, Queued: func() { e.queued++ },
	})
	e.srv = httptest.NewServer(s)
	t.Cleanup(func() { e.srv.Close(); st.Close() })
	return e
}

func (e *env) do(t *testing.T, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebhookAuth(t *testing.T) {
	e := newEnv(t, nil)
	f := func(path string, want int, hdr ...string) {
		t.Helper()
		code, body := e.do(t, "POST", path, payload, hdr...)
		if code != want {
			t.Errorf("POST %s %v = %d %s, want %d", path, hdr, code, body, want)
		}
	}
	f("/webhook", 401)
	f("/webhook", 401, "Authorization", "Bearer wrong")
	f("/webhook", 401, "Authorization", "Bearer api-secret") // the API token is not the webhook's
	f("/webhook", 200, "Authorization", "Bearer hook-secret")
	f("/api/alerts", 200, "Authorization", "bearer hook-secret")
	req, _ := http.NewRequest("POST", "/", nil)
	req.SetBasicAuth("am", "am-pass")
	f("/api/alerts", 200, "Authorization", req.Header.Get("Authorization"))
	req.SetBasicAuth("am", "nope")
	f("/api/alerts", 401, "Authorization", req.Header.Get("Authorization"))
}

func TestAPIAuthAndOpenEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	f := func(path string, want int, hdr ...string) {
		t.Helper()
		if code, body := e.do(t, "GET", path, "", hdr...); code != want {
			t.Errorf("GET %s %v = %d %s, want %d", path, hdr, code, body, want)
		}
	}
	f("/api/investigations", 401)
	f("/api/investigations", 401, "Authorization", "Bearer hook-secret")
	f("/api/investigations", 200, "Authorization", "Bearer api-secret")
	f("/api/incidents", 200, "X-API-Key", "api-secret")
	f("/api/incidents", 401, "X-API-Key", "wrong")
	f("/healthz", 200)
	f("/readyz", 200)
	f("/metrics", 200)
}

func TestNoCredentialsConfiguredIsOpen(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Auth = config.Auth{} })
	if code, body := e.do(t, "POST", "/webhook", payload); code != 200 {
		t.Fatalf("POST /webhook = %d %s", code, body)
	}
	if code, _ := e.do(t, "GET", "/api/incidents", ""); code != 200 {
		t.Fatalf("GET /api/incidents = %d", code)
	}
}

func TestIntakeErrors(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Auth = config.Auth{}; c.Intake.MaxBodyBytes = 2048 })
	f := func(body string, wantCode int, wantField, wantMsg string) {
		t.Helper()
		code, resp := e.do(t, "POST", "/api/alerts", body)
		var eb errorBody
		_ = json.Unmarshal([]byte(resp), &eb)
		if code != wantCode || eb.Field != wantField || !strings.Contains(eb.Error, wantMsg) {
			t.Errorf("POST %.40q = %d %s, want %d field %q containing %q", body, code, resp, wantCode, wantField, wantMsg)
		}
	}
	f(`{"alerts": [`, 400, "", "truncated")
	f(`not json`, 400, "", "malformed JSON")
	f(``, 400, "", "empty body")
	f(`{"version":"3","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`, 400, "version", "unsupported payload version")
	f(`{"version":"4","alerts":[]}`, 400, "alerts", "at least one alert")
	f(`{"version":"4","alerts":[{"status":"firing","labels":{"severity":"x"}}]}`, 400, "alerts[0].labels.alertname", "required")
	f(`{"version":"4","alerts":[{"status":"firing","labels":["a"]}]}`, 400, "alerts[0].labels", "expected")
	f(`{"alerts":[{"status":"firing","labels":{"alertname":"A","pad":"`+strings.Repeat("x", 4096)+`"}}]}`, 413, "", "max_body_bytes")
	if e.queued != 0 {
		t.Fatalf("rejected payloads queued work")
	}
	_, metrics := e.do(t, "GET", "/metrics", "")
	for _, want := range []string{`sleuth_alerts_rejected_total{reason="malformed"} 7`, `sleuth_alerts_rejected_total{reason="too_large"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestStoreDownIs503(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Auth = config.Auth{} })
	e.store.Close()
	code, body := e.do(t, "POST", "/webhook", payload)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("POST with the store down = %d %s, want 503 so that Alertmanager retries", code, body)
	}
	if code, _ := e.do(t, "GET", "/readyz", ""); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the store down = %d, want 503", code)
	}
	if code, _ := e.do(t, "GET", "/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz with the store down = %d, want 200 (the process is up)", code)
	}
}

func TestIntakeAndReadAPI(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Auth = config.Auth{} })
	code, body := e.do(t, "POST", "/webhook", payload)
	if code != 200 || !strings.Contains(body, `"investigations_queued":1`) || !strings.Contains(body, `"new":2`) {
		t.Fatalf("first delivery = %d %s", code, body)
	}
	code, body = e.do(t, "POST", "/webhook", payload)
	if code != 200 || !strings.Contains(body, `"duplicates":2`) || !strings.Contains(body, `"investigations_queued":0`) {
		t.Fatalf("re-send = %d %s", code, body)
	}
	if e.queued != 1 {
		t.Fatalf("pool notified %d times, want 1", e.queued)
	}

	var incs page[struct {
		ID       int64  `json:"id"`
		Workload string `json:"workload"`
		Alerts   int    `json:"alerts"`
	}]
	_, body = e.do(t, "GET", "/api/incidents?state=open&namespace=shop", "")
	if err := json.Unmarshal([]byte(body), &incs); err != nil || len(incs.Items) != 1 || incs.Items[0].Workload != "checkout" || incs.Items[0].Alerts != 2 {
		t.Fatalf("incidents = %s (%v)", body, err)
	}
	if code, body = e.do(t, "GET", "/api/incidents/1", ""); code != 200 || !strings.Contains(body, `"alert_list":[`) || !strings.Contains(body, "checkout-7d9f8b6c5d-q8z7m") {
		t.Fatalf("incident 1 = %d %s", code, body)
	}
	if _, body = e.do(t, "GET", "/api/incidents?namespace=other", ""); !strings.Contains(body, `"items":[]`) {
		t.Fatalf("filtered incidents = %s", body)
	}
	if code, body = e.do(t, "GET", "/api/investigations?state=queued&since=2026-11-25T09:00:00Z&limit=1", ""); code != 200 || !strings.Contains(body, `"next_before":"1"`) {
		t.Fatalf("investigations = %d %s", code, body)
	}
	f := func(path string, want int) {
		t.Helper()
		if code, body := e.do(t, "GET", path, ""); code != want {
			t.Errorf("GET %s = %d %s, want %d", path, code, body, want)
		}
	}
	f("/api/investigations/1", 200)
	f("/api/investigations/2", 404)
	f("/api/investigations/abc", 400)
	f("/api/investigations?state=bogus", 400)
	f("/api/investigations?since=yesterday", 400)
	f("/api/investigations?since=2h", 200)
	f("/api/investigations?limit=0", 400)
	f("/api/incidents?before=-1", 400)
}
