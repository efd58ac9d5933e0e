package holmes

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/engine"
	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/kb"
)

// gatedLLM is scriptedLLM whose answer to request number gateAt (from 0)
// waits until gate is closed: the test decides when the model stage may go
// on, so that what a stream shows before that was sent while the
// investigation ran.
type gatedLLM struct {
	answers []string
	gateAt  int
	gate    chan struct{}
	once    sync.Once

	mu       sync.Mutex
	requests int
	answered int
}

func (g *gatedLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	g.mu.Lock()
	n := g.requests
	g.requests++
	g.mu.Unlock()
	if n == g.gateAt {
		select {
		case <-g.gate:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, g.answers[min(n, len(g.answers)-1)])
	g.mu.Lock()
	g.answered++
	g.mu.Unlock()
}

func (g *gatedLLM) release() { g.once.Do(func() { close(g.gate) }) }

func (g *gatedLLM) count() (requests, answered int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests, g.answered
}

// refusedURL is the URL of a loopback port nothing listens on: a backend
// that is down, which makes the engine's reads fail at once (each one a
// recorded tool call with status error).
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// liveSetup is sleuth's investigator with a model: the real engine (its
// Kubernetes API and Prometheus down), then the real loop with the knowledge-base tool over
// a gated model that first searches, then answers, the answer waiting for
// the gate.
func liveSetup(t *testing.T) (*harness, *gatedLLM) {
	t.Helper()
	prom, err := promql.New(promql.Config{URL: refusedURL(t), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kube.NewForConfig(&rest.Config{Host: refusedURL(t), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Config{}, engine.Backends{Kube: kc, Prom: prom, Missing: map[string]string{
		"logs": "victorialogs.url is not configured",
	}}, slog.New(slog.DiscardHandler), func() time.Time { return epoch })
	base, err := kb.Open("testdata/kb", nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := &tools.Registry{}
	reg.Add(kb.Toolset(base))
	g := &gatedLLM{gateAt: 1, gate: make(chan struct{}), answers: []string{
		completion(`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"knowledge_base_search","arguments":"{\"query\":\"checkout OOMKilled\"}"}}]}`),
		completion(`{"role":"assistant","content":"{\"category\":\"unknown\",\"confidence\":0.3,\"summary\":\"Prometheus is down; checkout was OOMKilled before.\",\"findings\":[],\"remediation\":[]}"}`),
	}}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c, err := llm.New(llm.Config{URL: srv.URL + "/v1", Model: "qwen3-coder", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ag := agent.New(c, reg, agent.Config{})
	h := newHarness(t, &agent.Investigator{Engine: eng, Agent: ag}, reg, ag)
	t.Cleanup(g.release) // a failed test must not leave the model waiting
	return h, g
}

// sseStream reads a Server-Sent Events response as it arrives.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
	// comments are the SSE comments read so far.
	comments []string
}

type sseEvent struct {
	name string
	data map[string]any
}

func (h *harness) stream(body string) *sseStream {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "POST", h.url+"/api/stream/investigate", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("X-API-Key", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		h.t.Fatalf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseStream{t: h.t, resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel}
}

// nextLine reads one line, keeping it when it is a comment; ok is false
// at the end of the stream.
func (s *sseStream) nextLine() (string, bool) {
	s.t.Helper()
	line, err := s.r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", false
		}
		s.t.Fatalf("read the stream: %v", err)
	}
	line = strings.TrimRight(line, "\n")
	if c, ok := strings.CutPrefix(line, ": "); ok {
		s.comments = append(s.comments, c)
	}
	return line, true
}

// next returns the next event; ok is false at the end of the stream.
func (s *sseStream) next() (ev sseEvent, ok bool) {
	s.t.Helper()
	for {
		line, ok := s.nextLine()
		if !ok {
			return ev, false
		}
		switch {
		case line == "" && ev.name != "":
			return ev, true
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[len("data: "):]), &ev.data); err != nil {
				s.t.Fatalf("data %q: %v", line, err)
			}
		}
	}
}

// until reads events up to and including the first that stop accepts.
func (s *sseStream) until(stop func(sseEvent) bool) []sseEvent {
	s.t.Helper()
	var out []sseEvent
	for {
		ev, ok := s.next()
		if !ok {
			s.t.Fatalf("the stream ended after %v", names(out))
		}
		out = append(out, ev)
		if stop(ev) {
			return out
		}
	}
}

func (s *sseStream) rest() []sseEvent {
	var out []sseEvent
	for {
		ev, ok := s.next()
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

func names(evs []sseEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.name)
	}
	return out
}

func isModelsToolResult(ev sseEvent) bool {
	return ev.name == "tool_calling_result" && ev.data["tool_call_id"] == "call_1"
}

const liveRequest = `{"source":"prometheus","title":"KubePodOOM","description":"checkout restarts","context":{"labels":{"namespace":"shop","pod":"checkout-1"}}}`

// TestStreamInvestigateIsLive: the stream shows the deterministic stage's
// tool calls and the model's first step while the model's answer is still
// held back (its request waits for this test), then the rest; the run is
// the queue's stored investigation, which a second request for the same
// alert gets as it was stored.
func TestStreamInvestigateIsLive(t *testing.T) {
	h, g := liveSetup(t)
	s := h.stream(liveRequest)
	before := s.until(isModelsToolResult)
	if _, answered := g.count(); answered > 1 {
		t.Fatalf("the model's answer was given (%d answers) before the stream showed its first step", answered)
	}
	g.release()
	after := s.rest()

	// The engine's calls (Prometheus is down: each failed), one pair each,
	// then the model's steps.
	engineEvents := 0
	for engineEvents < len(before) && before[engineEvents].name != "token_count" {
		engineEvents++
	}
	if engineEvents == 0 || engineEvents%2 != 0 {
		t.Fatalf("events before the model's = %v, want pairs of the engine's tool calls", names(before))
	}
	for i := 0; i < engineEvents; i += 2 {
		start, result := before[i], before[i+1]
		if start.name != "start_tool_calling" || result.name != "tool_calling_result" || start.data["id"] != result.data["tool_call_id"] ||
			result.data["result"].(map[string]any)["status"] != "error" {
			t.Errorf("engine events %d, %d = %v, %v", i, i+1, start, result)
		}
		if want := fmt.Sprintf("call-%d", i/2+1); start.data["id"] != want {
			t.Errorf("engine call %d has id %v, want %s", i/2, start.data["id"], want)
		}
	}
	want := []string{"token_count", "start_tool_calling", "tool_calling_result"}
	if diff := cmp.Diff(want, names(before[engineEvents:])); diff != "" {
		t.Errorf("the model's first step (-want +got):\n%s", diff)
	}
	want = []string{"token_count", "ai_message", "ai_answer_end"}
	if diff := cmp.Diff(want, names(after)); diff != "" {
		t.Fatalf("after the model answered (-want +got):\n%s", diff)
	}
	end := after[len(after)-1].data
	meta := end["metadata"].(map[string]any)
	if meta["investigation_id"] != float64(1) || meta["deduplicated"] != false || meta["llm"].(map[string]any)["outcome"] == report.LLMFailed {
		t.Errorf("ai_answer_end metadata = %v", meta)
	}
	if !strings.Contains(end["analysis"].(string), "Prometheus is down") {
		t.Errorf("ai_answer_end analysis = %q", end["analysis"])
	}

	// What was streamed is what is stored.
	rep := h.finished(1)
	if len(rep.ToolCalls) != engineEvents/2+1 || rep.ToolCalls[len(rep.ToolCalls)-1].ID != "call_1" {
		t.Errorf("stored calls = %d (%v), streamed %d of the engine's and the model's call_1", len(rep.ToolCalls), rep.ToolCalls, engineEvents/2)
	}
	// The same alert again: the stored investigation answers, its steps
	// replayed, and no second run.
	again := h.stream(liveRequest).rest()
	wantNames := []string{}
	for range rep.ToolCalls {
		wantNames = append(wantNames, "start_tool_calling", "tool_calling_result")
	}
	wantNames = append(wantNames, "token_count", "ai_answer_end")
	if diff := cmp.Diff(wantNames, names(again)); diff != "" {
		t.Errorf("second stream (-want +got):\n%s", diff)
	}
	if meta := again[len(again)-1].data["metadata"].(map[string]any); meta["investigation_id"] != float64(1) || meta["deduplicated"] != true {
		t.Errorf("second stream metadata = %v", meta)
	}
	if requests, _ := g.count(); requests != 2 {
		t.Errorf("the model had %d requests, want 2: the second stream ran the investigation again", requests)
	}
}

// TestStreamClientLeavingDoesNotStopTheInvestigation: a client that goes
// away mid-stream ends only its subscription; the queued investigation
// goes on to the model's answer and is stored.
func TestStreamClientLeavingDoesNotStopTheInvestigation(t *testing.T) {
	h, g := liveSetup(t)
	s := h.stream(liveRequest)
	s.until(isModelsToolResult)
	s.cancel()
	// The handler notices and unsubscribes before the model may go on.
	for deadline := time.Now().Add(30 * time.Second); h.broker.Subscribers(1) != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stream's subscription outlived its client")
		}
	}
	g.release()
	rep := h.finished(1)
	if rep.LLM == nil || rep.LLM.Outcome == report.LLMFailed || !strings.Contains(rep.LLM.Analysis+rep.Summary, "Prometheus is down") {
		t.Errorf("the model stage = %+v, want the model's answer", rep.LLM)
	}
	if _, answered := g.count(); answered != 2 {
		t.Errorf("the model answered %d requests, want 2", answered)
	}
}

// stagedInvestigator records one tool call per attempt the way the engine
// does (through a Recorder observing the context), then answers as the
// i-th of outcomes says: nil for a report, else the error.
type stagedInvestigator struct {
	mu       sync.Mutex
	attempts int
	outcomes []error
}

func (s *stagedInvestigator) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	s.mu.Lock()
	n := s.attempts
	s.attempts++
	s.mu.Unlock()
	rec := toolcall.NewRecorder(0, nil).Observe(toolcall.ObserverFrom(ctx))
	rec.Start("kubernetes.get", "kubernetes", map[string]string{"kind": "pod"}, "kubectl get pod -n shop checkout-1").
		Done(toolcall.Success, fmt.Sprintf("attempt %d", n+1), false, nil)
	if err := s.outcomes[min(n, len(s.outcomes)-1)]; err != nil {
		return nil, err
	}
	r, err := fixedInvestigator{}.Investigate(ctx, job)
	r.ToolCalls = rec.Calls()
	return r, err
}

func TestStreamFailuresAndRetries(t *testing.T) {
	f := func(name string, outcomes []error, wantNames []string, wantData []string, wantComment string) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, &stagedInvestigator{outcomes: outcomes}, nil, nil)
			s := h.stream(`{"source":"prometheus","title":"KubePodOOM","description":"d","context":{}}`)
			evs := s.rest()
			if diff := cmp.Diff(wantNames, names(evs)); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
			var data []string
			for _, ev := range evs {
				if ev.name == "tool_calling_result" {
					data = append(data, ev.data["result"].(map[string]any)["data"].(string))
				}
			}
			if diff := cmp.Diff(wantData, data); diff != "" {
				t.Errorf("tool results (-want +got):\n%s", diff)
			}
			last := evs[len(evs)-1].data
			if wantNames[len(wantNames)-1] == "error" && (last["success"] != false || last["error_code"] != float64(500) ||
				!strings.Contains(last["description"].(string), "investigation 1 failed: the engine broke")) {
				t.Errorf("error event = %v", last)
			}
			if wantComment != "" && !strings.Contains(strings.Join(s.comments, "\n"), wantComment) {
				t.Errorf("comments = %q, want one with %q", s.comments, wantComment)
			}
		})
	}
	broke := investigate.Permanent(errors.New("the engine broke"))
	f("failure", []error{broke}, []string{"start_tool_calling", "tool_calling_result", "error"}, []string{"attempt 1"}, "")
	f("retry then failure", []error{errors.New("prometheus: connection refused"), broke},
		[]string{"start_tool_calling", "tool_calling_result", "start_tool_calling", "tool_calling_result", "error"},
		[]string{"attempt 1", "attempt 2"}, "the attempt ended without an answer (retry: prometheus: connection refused)")
	f("retry then answer", []error{errors.New("prometheus: connection refused"), nil},
		[]string{"start_tool_calling", "tool_calling_result", "start_tool_calling", "tool_calling_result", "ai_answer_end"},
		[]string{"attempt 1", "attempt 2"}, "the next attempt's events follow")
}

// TestStreamKeepAlive: a stream whose investigation is silent gets
// comments, so that proxies keep it open; the investigation here waits
// until the test has read one.
func TestStreamKeepAlive(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	inv := scriptedInvestigator(func(ctx context.Context, job investigate.Job) (*report.Report, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return fixedInvestigator{}.Investigate(ctx, job)
	})
	h := newHarness(t, inv, nil, nil, func(o *Options) { o.KeepAlive = 20 * time.Millisecond })
	t.Cleanup(open)
	s := h.stream(`{"source":"prometheus","title":"KubePodOOM","description":"d","context":{}}`)
	for !slices.Contains(s.comments, "keep-alive") {
		if _, ok := s.nextLine(); !ok {
			t.Fatalf("the stream ended without a keep-alive comment: %q", s.comments)
		}
	}
	open()
	if evs := s.rest(); len(evs) == 0 || evs[len(evs)-1].name != "ai_answer_end" {
		t.Errorf("events = %v", names(evs))
	}
}

// scriptedInvestigator runs fn for each job.
type scriptedInvestigator func(ctx context.Context, job investigate.Job) (*report.Report, error)

func (f scriptedInvestigator) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	return f(ctx, job)
}
