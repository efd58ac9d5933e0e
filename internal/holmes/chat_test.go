package holmes

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/kb"
)

// scriptedLLM stands in for the model (LM Studio in the seed), which
// cannot run here: an OpenAI-compatible chat completions server that
// answers the i-th request with the i-th scripted answer. It reports no
// usage: a made-up prompt count would look to the loop like a server that
// truncated the prompt.
type scriptedLLM struct {
	mu       sync.Mutex
	answers  []string
	requests []map[string]any
	status   int
}

func (s *scriptedLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req map[string]any
	json.Unmarshal(body, &req)
	s.mu.Lock()
	s.requests = append(s.requests, req)
	n := len(s.requests) - 1
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if s.status != 0 {
		w.WriteHeader(s.status)
		io.WriteString(w, `{"error":{"message":"scripted failure"}}`)
		return
	}
	io.WriteString(w, s.answers[min(n, len(s.answers)-1)])
}

func completion(message string) string {
	return `{"id":"c","object":"chat.completion","created":0,"model":"qwen3-coder","choices":[{"index":0,"message":` + message +
		`,"finish_reason":"stop"}]}`
}

func chatAgent(t *testing.T, s *scriptedLLM, reg *tools.Registry) *agent.Agent {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := llm.New(llm.Config{URL: srv.URL + "/v1", Model: "qwen3-coder", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return agent.New(c, reg, agent.Config{})
}

// TestChatStreamsTheLoopsSteps runs a chat through the real loop with the
// knowledge-base tool: the model searches, then answers; the stream
// carries each step as HolmesGPT's events and ends with ai_answer_end.
func TestChatStreamsTheLoopsSteps(t *testing.T) {
	base, err := kb.Open("testdata/kb", nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := &tools.Registry{}
	reg.Add(kb.Toolset(base))
	s := &scriptedLLM{answers: []string{
		completion(`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"knowledge_base_search","arguments":"{\"query\":\"checkout OOMKilled\"}"}}]}`),
		completion(`{"role":"assistant","content":"checkout was OOMKilled before: the unbounded product cache (postmortem 2025-11-03)."}`),
	}}
	h := newHarness(t, deterministicEngine(), reg, chatAgent(t, s, reg))
	code, _, body := h.do("POST", "/api/chat", `{"ask":"Has checkout run out of memory before?","stream":true}`)
	if code != 200 {
		t.Fatalf("HTTP %d %s", code, body)
	}
	names, data := events(t, body)
	want := []string{"token_count", "start_tool_calling", "tool_calling_result", "token_count", "ai_message", "ai_answer_end"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v %v", names, data)
	}
	var result map[string]any
	for i, n := range names {
		if n == "tool_calling_result" {
			result = data[i]
		}
	}
	if result == nil || result["name"] != "knowledge_base_search" || !strings.Contains(result["result"].(map[string]any)["data"].(string), "checkout OOMKilled after the cache change") {
		t.Errorf("tool_calling_result = %v", result)
	}
	end := data[len(data)-1]
	if !strings.Contains(end["analysis"].(string), "unbounded product cache") {
		t.Errorf("ai_answer_end = %v", end)
	}
	hist := end["conversation_history"].([]any)
	if hist[0].(map[string]any)["role"] != "system" || hist[len(hist)-1].(map[string]any)["role"] != "assistant" {
		t.Errorf("conversation_history = %v", hist)
	}
	// The history goes back with the next question, plain this time.
	next, _ := json.Marshal(map[string]any{"ask": "And the fix?", "conversation_history": hist})
	s.answers = []string{completion(`{"role":"assistant","content":"Bound the cache: CACHE_MAX_ITEMS=5000."}`)}
	code, _, body = h.do("POST", "/api/chat", string(next))
	var resp ChatResponse
	if err := json.Unmarshal(body, &resp); err != nil || code != 200 || !strings.Contains(resp.Analysis, "CACHE_MAX_ITEMS") {
		t.Fatalf("second turn: HTTP %d %s", code, body)
	}
	last := s.requests[len(s.requests)-1]["messages"].([]any)
	if !strings.Contains(last[len(last)-2].(map[string]any)["content"].(string), "unbounded product cache") {
		t.Errorf("the earlier answer was not sent back to the model: %v", last)
	}
}

func TestChatModelFailuresMapToHolmesStatuses(t *testing.T) {
	for status, want := range map[int]int{401: 401, 429: 429, 500: 500} {
		s := &scriptedLLM{status: status}
		h := newHarness(t, deterministicEngine(), nil, chatAgent(t, s, nil))
		code, _, body := h.do("POST", "/api/chat", `{"ask":"x"}`)
		if code != want || !strings.Contains(string(body), `"detail"`) {
			t.Errorf("model %d: HTTP %d %s, want %d", status, code, body, want)
		}
		code, _, body = h.do("POST", "/api/issue_chat", `{"ask":"x","stream":true,"investigation_result":{"result":"r","tools":[]}}`)
		names, data := events(t, body)
		if code != 200 || len(names) == 0 || names[len(names)-1] != "error" || data[len(data)-1]["error_code"] != float64(want) {
			t.Errorf("streamed, model %d: HTTP %d events %v %v", status, code, names, data)
		}
	}
}

func TestIssueChatCarriesTheInvestigation(t *testing.T) {
	s := &scriptedLLM{answers: []string{completion(`{"role":"assistant","content":"It is the cache."}`)}}
	h := newHarness(t, deterministicEngine(), nil, chatAgent(t, s, nil))
	code, _, body := h.do("POST", "/api/issue_chat", `{"ask":"why?","issue_type":"KubePodCrashLooping","investigation_result":{"result":"checkout OOMKilled at 512Mi","tools":[{"name":"kubectl_describe","description":"describe pod","output":"Last State: OOMKilled"}]}}`)
	if code != 200 || !strings.Contains(string(body), "It is the cache.") {
		t.Fatalf("HTTP %d %s", code, body)
	}
	raw, _ := json.Marshal(s.requests[0])
	for _, want := range []string{"checkout OOMKilled at 512Mi", "Last State: OOMKilled", "KubePodCrashLooping"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the model's prompt lacks %q", want)
		}
	}
}
