package holmes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
)

// scriptedHolmesGPT stands in for an external HolmesGPT (the seed's
// holmesgpt-holmes service), which cannot run here: it records each
// /api/investigate request and answers with the next scripted status.
type scriptedHolmesGPT struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
	keys     []string
}

func (s *scriptedHolmesGPT) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	s.keys = append(s.keys, r.Header.Get("X-API-Key"))
	status := s.statuses[min(len(s.bodies)-1, len(s.statuses)-1)]
	s.mu.Unlock()
	if r.URL.Path != "/api/investigate" {
		status = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/json")
	if status != http.StatusOK {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"detail":"scripted %d"}`, status)
		return
	}
	io.WriteString(w, `{"analysis":"# Alert Explanation\nThe checkout pod is OOMKilled.","sections":{"Next Steps":"Raise the limit."},
		"tool_calls":[{"tool_call_id":"t1","tool_name":"kubectl_describe","description":"kubectl describe pod checkout-1 -n shop",
		"result":{"schema_version":"robusta:v1.0.0","status":"success","error":null,"return_code":0,"data":"Last State: OOMKilled","url":null,"invocation":"kubectl describe pod checkout-1 -n shop","params":{"name":"checkout-1"}},"size":21}],
		"instructions":[],"metadata":{}}`)
}

// alertmanager posts a webhook delivery as VMAlertmanager would.
func (h *harness) alertmanager(alertname string) {
	h.t.Helper()
	body := `{"version":"4","status":"firing","receiver":"holmesgpt","alerts":[{"status":"firing","labels":{"alertname":"` + alertname +
		`","severity":"warning","namespace":"shop","pod":"checkout-1"},"annotations":{"description":"checkout restarts"},"startsAt":"2026-02-12T09:55:00Z"}]}`
	code, _, raw := h.do("POST", "/webhook", body)
	if code != http.StatusOK {
		h.t.Fatalf("webhook: HTTP %d %s", code, raw)
	}
}

func (h *harness) finished(id int64) *report.Report {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		inv, err := h.st.Investigation(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if inv.State == store.StateDone || inv.State == store.StateFailed {
			if inv.State == store.StateFailed {
				h.t.Fatalf("investigation %d failed: %s", id, inv.Error)
			}
			var r report.Report
			if err := json.Unmarshal(inv.Report, &r); err != nil {
				h.t.Fatal(err)
			}
			return &r
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("investigation %d still %s", id, inv.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestForwardMode runs the seed's topology: Alertmanager -> sleuth ->
// HolmesGPT's /api/investigate, with sleuth's queue retrying a HolmesGPT
// that answered 503, and the answer stored next to the deterministic
// findings.
func TestForwardMode(t *testing.T) {
	hg := &scriptedHolmesGPT{statuses: []int{http.StatusServiceUnavailable, http.StatusOK}}
	srv := httptest.NewServer(hg)
	defer srv.Close()
	fw := &Forwarder{Engine: deterministicEngine(), URL: srv.URL, APIKey: "holmes-key", MaxAttempts: 2}
	h := newHarness(t, fw, nil, nil)
	h.alertmanager("KubePodCrashLooping")
	r := h.finished(1)

	if len(hg.bodies) != 2 || hg.keys[1] != "holmes-key" {
		t.Fatalf("HolmesGPT got %d requests (keys %q), want a retry after the 503", len(hg.bodies), hg.keys)
	}
	golden(t, "forward_request.json", []byte(hg.bodies[1]))
	if r.Investigator != "sleuth-engine" || r.RootCause.Category == "" {
		t.Errorf("the deterministic report is missing: %+v", r.RootCause)
	}
	if r.LLM == nil || r.LLM.Outcome != report.LLMCommentary || !strings.Contains(r.LLM.Analysis, "The checkout pod is OOMKilled.") {
		t.Fatalf("llm stage = %+v", r.LLM)
	}
	last := r.ToolCalls[len(r.ToolCalls)-1]
	if last.ID != "holmes-1" || last.Backend != "holmesgpt" || last.Excerpt != "Last State: OOMKilled" {
		t.Errorf("HolmesGPT's tool call = %+v", last)
	}
	// The HolmesGPT API of sleuth serves the forwarded analysis.
	code, _, body := h.do("POST", "/api/investigate", `{"source":"prometheus","title":"KubePodCrashLooping","description":"x","context":{"labels":{"alertname":"KubePodCrashLooping","severity":"warning","namespace":"shop","pod":"checkout-1"}}}`)
	if code != 200 || !strings.Contains(string(body), "The checkout pod is OOMKilled.") || !strings.Contains(string(body), `"deduplicated":true`) {
		t.Errorf("HTTP %d %s", code, body)
	}
}

func TestForwardFailureKeepsTheDeterministicReport(t *testing.T) {
	hg := &scriptedHolmesGPT{statuses: []int{http.StatusInternalServerError}}
	srv := httptest.NewServer(hg)
	defer srv.Close()
	h := newHarness(t, &Forwarder{Engine: deterministicEngine(), URL: srv.URL, MaxAttempts: 2}, nil, nil)
	h.alertmanager("KubePodCrashLooping")
	r := h.finished(1)
	if len(hg.bodies) != 2 {
		t.Errorf("%d attempts, want 2 (queue.max_attempts)", len(hg.bodies))
	}
	if r.LLM == nil || r.LLM.Outcome != report.LLMFailed || !strings.Contains(r.LLM.Note, "HTTP 500") || r.Investigator != "sleuth-engine" {
		t.Errorf("report = %+v / %+v", r.RootCause, r.LLM)
	}
	// A 4xx is not retried: it will not change.
	hg2 := &scriptedHolmesGPT{statuses: []int{http.StatusUnprocessableEntity}}
	srv2 := httptest.NewServer(hg2)
	defer srv2.Close()
	h2 := newHarness(t, &Forwarder{Engine: deterministicEngine(), URL: srv2.URL, MaxAttempts: 3}, nil, nil)
	h2.alertmanager("KubePodCrashLooping")
	if r := h2.finished(1); len(hg2.bodies) != 1 || r.LLM == nil || r.LLM.Outcome != report.LLMFailed {
		t.Errorf("422: %d attempts, llm %+v", len(hg2.bodies), r.LLM)
	}
}
