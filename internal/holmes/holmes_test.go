package holmes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/engine"
	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/progress"
	"github.com/sleuth-sre/sleuth/internal/queue"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/server"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// epoch is the harness's clock: every time in a golden file derives from it.
var epoch = time.Date(2026, 2, 12, 10, 0, 0, 0, time.UTC)

const token = "test-token"

type harness struct {
	t      *testing.T
	url    string
	st     store.Store
	cfg    config.Config
	broker *progress.Broker
}

// newHarness runs the whole path a request takes in sleuth: the HTTP
// server with its API-token auth, this API, a real SQLite store and the
// queue's worker pool running inv, publishing its progress as in sleuth.
// Each of mutate is a func(*config.Config) or a func(*Options).
func newHarness(t *testing.T, inv queue.Investigator, reg *tools.Registry, ag *agent.Agent, mutate ...any) *harness {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sleuth.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Auth.APIToken = token
	cfg.Queue = config.Queue{Workers: 1, Deadline: 30 * time.Second, MaxAttempts: 2, RetryBackoff: 10 * time.Millisecond}
	for _, m := range mutate {
		if m, ok := m.(func(*config.Config)); ok {
			m(&cfg)
		}
	}
	// The clock starts at epoch and moves with real time, so that a retry's
	// backoff passes; requests arrive within the first second, which the
	// golden files' times (truncated to seconds) rely on.
	start := time.Now()
	now := func() time.Time { return epoch.Add(time.Since(start)) }
	broker := progress.NewBroker(0, 0)
	pool := queue.New(queue.Config{Workers: 1, Deadline: cfg.Queue.Deadline, MaxAttempts: cfg.Queue.MaxAttempts, Backoff: cfg.Queue.RetryBackoff, Poll: 10 * time.Millisecond,
		OnFinish: broker.Finish}, st, broker.Wrap(inv), log, telemetry.New(), now)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); pool.Run(ctx) }()
	opts := Options{Store: st, Config: cfg, Queued: pool.Notify, Registry: reg, Agent: ag, Log: log, Now: now, Poll: 10 * time.Millisecond, Progress: broker}
	for _, m := range mutate {
		if m, ok := m.(func(*Options)); ok {
			m(&opts)
		}
	}
	api := New(opts)
	srv := httptest.NewServer(server.New(server.Options{Store: st, Config: cfg, Log: log, Metrics: telemetry.New(), Now: now,
		Queued: pool.Notify, Routes: api.Routes(), Ready: api.Ready}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		st.Close()
	})
	return &harness{t: t, url: srv.URL, st: st, cfg: cfg, broker: broker}
}

func (h *harness) do(method, path, body string) (int, http.Header, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func request(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "requests", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// golden compares got with testdata/golden/name, rewriting it with -update.
// JSON is compared re-indented so that the files are readable.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if strings.HasSuffix(name, ".sse") {
		// Comments report progress as it happens (queued, running): not
		// part of the contract.
		var keep []string
		for _, block := range strings.SplitAfter(string(got), "\n\n") {
			if !strings.HasPrefix(block, ":") {
				keep = append(keep, block)
			}
		}
		got = []byte(strings.Join(keep, ""))
	}
	if json.Valid(got) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, got, "", "  "); err == nil {
			got = append(buf.Bytes(), '\n')
		}
	}
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", name, diff)
	}
}

func deterministicEngine() *engine.Engine {
	return engine.New(engine.Config{}, engine.Backends{Missing: map[string]string{
		"kubernetes": "kubernetes.enabled is false", "metrics": "prometheus.url is not configured", "logs": "victorialogs.url is not configured",
	}}, slog.New(slog.DiscardHandler), func() time.Time { return epoch })
}

// TestSeedBridgeInvestigate sends the seed's bridge request and checks the
// whole answer, then that the investigation is the one Alertmanager would
// have made: stored, listed, and reused for the same alert.
func TestSeedBridgeInvestigate(t *testing.T) {
	h := newHarness(t, deterministicEngine(), nil, nil)
	code, _, body := h.do("POST", "/api/investigate", request(t, "bridge_investigate.json"))
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	golden(t, "bridge_investigate.json", body)

	var res InvestigationResult
	json.Unmarshal(body, &res)
	if res.Metadata["deduplicated"] != false || res.Metadata["investigation_id"] != float64(1) {
		t.Errorf("metadata = %v", res.Metadata)
	}
	// Listed with the Alertmanager ones.
	code, _, list := h.do("GET", "/api/investigations", "")
	if code != http.StatusOK || !strings.Contains(string(list), `"alertname":"TestAlert"`) || !strings.Contains(string(list), `"state":"done"`) {
		t.Errorf("/api/investigations: HTTP %d: %s", code, list)
	}
	// The same alert again (the bridge re-sends on every group_interval):
	// the same investigation answers, no new one runs.
	code, _, body = h.do("POST", "/api/investigate", request(t, "bridge_investigate.json"))
	json.Unmarshal(body, &res)
	if code != http.StatusOK || res.Metadata["deduplicated"] != true || res.Metadata["investigation_id"] != float64(1) {
		t.Errorf("second request: HTTP %d, metadata %v", code, res.Metadata)
	}
	invs, _ := h.st.Investigations(context.Background(), store.Filter{Limit: 10})
	if len(invs) != 1 {
		t.Errorf("%d investigations stored, want 1", len(invs))
	}
}

func TestSeedCurlChecks(t *testing.T) {
	h := newHarness(t, deterministicEngine(), &tools.Registry{}, nil, func(c *config.Config) {
		c.LLM.URL, c.LLM.Model = "http://127.0.0.1:9/v1", "openai/qwen3-coder-30b-a3b-instruct-mlx"
	})
	// curl -s http://holmesgpt-holmes.holmesgpt.svc:80/api/model
	code, _, body := h.do("GET", "/api/model", "")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	golden(t, "model.json", body)
	// Without a model client wired, the seed's chat check gets the
	// deterministic answer, not an error.
	h2 := newHarness(t, deterministicEngine(), nil, nil)
	code, _, body = h2.do("POST", "/api/chat", request(t, "seed_chat.json"))
	if code != http.StatusOK {
		t.Fatalf("chat: HTTP %d: %s", code, body)
	}
	golden(t, "seed_chat_no_model.json", body)
}

func TestErrors(t *testing.T) {
	h := newHarness(t, deterministicEngine(), nil, nil)
	f := func(method, path, body string, wantCode int, wantIn string) {
		t.Helper()
		code, _, got := h.do(method, path, body)
		if code != wantCode || !strings.Contains(string(got), wantIn) {
			t.Errorf("%s %s %s: HTTP %d %s, want %d with %q", method, path, body, code, got, wantCode, wantIn)
		}
	}
	f("POST", "/api/investigate", `{"source":"x","title":"t","description":"d","context":{},"model":"gpt-9"}`, 400, `unknown model \"gpt-9\"`)
	f("POST", "/api/investigate", `{"title":"t"}`, 422, `"loc":["body","source"]`)
	f("POST", "/api/investigate", `{"title":"t"}`, 422, `"loc":["body","context"]`)
	f("POST", "/api/investigate", `{not json`, 422, `json_invalid`)
	f("POST", "/api/chat", `{}`, 422, `"loc":["body","ask"]`)
	f("POST", "/api/chat", `{"ask":"x","conversation_history":[{"role":"user","content":"hi"}]}`, 422, "system message")
	f("POST", "/api/chat", `{"ask":"x","model":"nope"}`, 400, "unknown model")
	f("POST", "/api/stream/investigate", `{"source":"x","title":"t","description":"d","context":{},"model":"nope"}`, 400, "unknown model")

	// The API token guards the API; health is open.
	for _, p := range []string{"/api/model", "/api/chat"} {
		resp, err := http.Post(h.url+p, "application/json", strings.NewReader(`{"ask":"x"}`))
		if p == "/api/model" {
			resp, err = http.Get(h.url + p)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a token: HTTP %d", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(h.url + p)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: HTTP %d", p, resp.StatusCode)
		}
		if p == "/readyz" && !strings.Contains(string(raw), `"models":[]`) {
			t.Errorf("/readyz = %s, want HolmesGPT's models list", raw)
		}
	}
}

// fixedInvestigator answers every job with a report holding two tool
// calls, or fails it.
type fixedInvestigator struct{ fail error }

func (f fixedInvestigator) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	r := &report.Report{Investigator: "fixed", IncidentID: job.Incident.ID, Generated: epoch,
		RootCause: report.RootCause{Category: report.OOMKilled, Object: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "checkout"}, Confidence: 0.9},
		Summary:   "checkout is OOMKilled.", Findings: []report.Finding{}, Remediation: []string{"Raise the memory limit."},
		Runbooks: []report.Runbook{{Name: "oom", Source: "sre-runbooks.yaml", Instructions: "Check the previous logs."}},
		ToolCalls: []toolcall.Call{
			{ID: "call-1", Tool: "kubernetes.get", Backend: "kubernetes", Description: "kubectl get pod -n shop checkout-1", Status: toolcall.Success, Excerpt: "status: OOMKilled", Bytes: 17, Args: map[string]string{"kind": "pod"}},
			{ID: "call-2", Tool: "logs.query", Backend: "victorialogs", Description: "LogsQL: _stream:{} error", Status: toolcall.Error, Error: "timeout"},
		}}
	r.Alerts = []report.Alert{{Name: job.Alerts[0].Labels["alertname"], Status: "firing", StartsAt: job.Alerts[0].StartsAt, Labels: job.Alerts[0].Labels}}
	r.FillSections([]string{"10:00:00 shop/checkout-1: out of memory"})
	return r, nil
}

func TestIncludeToolCallsIsHonoured(t *testing.T) {
	h := newHarness(t, fixedInvestigator{}, nil, nil)
	f := func(flags string, wantCalls int, wantData bool) {
		t.Helper()
		body := `{"source":"prometheus","title":"KubePodOOM","description":"d","context":{"labels":{"namespace":"shop"}}` + flags + `}`
		code, _, raw := h.do("POST", "/api/investigate", body)
		var res InvestigationResult
		if err := json.Unmarshal(raw, &res); err != nil || code != 200 {
			t.Fatalf("HTTP %d %s", code, raw)
		}
		if len(res.ToolCalls) != wantCalls {
			t.Errorf("%s: %d tool calls, want %d", flags, len(res.ToolCalls), wantCalls)
		}
		for _, c := range res.ToolCalls {
			if (c.Result.Data != nil) != wantData {
				t.Errorf("%s: call %s data = %v", flags, c.ToolCallID, c.Result.Data)
			}
		}
		if len(res.Instructions) != 1 || res.Instructions[0] != "Check the previous logs." {
			t.Errorf("instructions = %q", res.Instructions)
		}
	}
	f(``, 0, false) // HolmesGPT's defaults are false; it sends the calls anyway
	f(`,"include_tool_calls":true`, 2, false)
	f(`,"include_tool_calls":true,"include_tool_call_results":true`, 2, true)
}

func TestCustomSectionsAreNullUntilWritten(t *testing.T) {
	h := newHarness(t, fixedInvestigator{}, nil, nil)
	_, _, raw := h.do("POST", "/api/investigate", `{"source":"p","title":"KubePodOOM","description":"d","context":{},"sections":{"Next Steps":"what to do","Blast radius":"who is affected"}}`)
	var res struct {
		Sections map[string]*string `json:"sections"`
	}
	json.Unmarshal(raw, &res)
	if len(res.Sections) != 2 || res.Sections["Next Steps"] == nil || *res.Sections["Next Steps"] != "1. Raise the memory limit." || res.Sections["Blast radius"] != nil {
		t.Errorf("sections = %s", raw)
	}
}

// events parses a Server-Sent Events body.
func events(t *testing.T, body []byte) (names []string, data []map[string]any) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "event: "); ok {
			names = append(names, n)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			var m map[string]any
			if err := json.Unmarshal([]byte(d), &m); err != nil {
				t.Fatalf("data %q: %v", d, err)
			}
			data = append(data, m)
		}
	}
	return names, data
}

func TestStreamInvestigate(t *testing.T) {
	h := newHarness(t, fixedInvestigator{}, nil, nil)
	code, hdr, body := h.do("POST", "/api/stream/investigate", `{"source":"prometheus","title":"KubePodOOM","description":"d","context":{},"include_tool_calls":true,"include_tool_call_results":true}`)
	if code != 200 || hdr.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HTTP %d %s", code, hdr.Get("Content-Type"))
	}
	golden(t, "stream_investigate.sse", body)
	names, data := events(t, body)
	want := []string{"start_tool_calling", "tool_calling_result", "start_tool_calling", "tool_calling_result", "ai_answer_end"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if end := data[len(data)-1]; end["analysis"] == "" || end["sections"] == nil {
		t.Errorf("ai_answer_end = %v", end)
	}
}

func TestFailingStreamEndsWithAnErrorEvent(t *testing.T) {
	h := newHarness(t, fixedInvestigator{fail: investigate.Permanent(fmt.Errorf("the engine broke"))}, nil, nil)
	code, _, body := h.do("POST", "/api/stream/investigate", `{"source":"prometheus","title":"KubePodOOM","description":"d","context":{}}`)
	if code != 200 {
		t.Fatalf("HTTP %d", code)
	}
	names, data := events(t, body)
	if len(names) == 0 || names[len(names)-1] != "error" {
		t.Fatalf("events = %v, want the stream to end with error", names)
	}
	last := data[len(data)-1]
	if last["success"] != false || !strings.Contains(last["description"].(string), "the engine broke") || last["error_code"] != float64(500) {
		t.Errorf("error event = %v", last)
	}
	// The plain endpoint says it with a 500 and HolmesGPT's detail.
	code, _, body = h.do("POST", "/api/investigate", `{"source":"prometheus","title":"Other","description":"d","context":{}}`)
	if code != 500 || !strings.Contains(string(body), `"detail":"investigation 2 failed: the engine broke"`) {
		t.Errorf("HTTP %d %s", code, body)
	}
}
