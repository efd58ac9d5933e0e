package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sleuth-sre/sleuth/internal/llm"
)

// scriptedLLM is an OpenAI-compatible chat completions server that
// replays a scripted conversation over real HTTP: it stands in for LM
// Studio, Ollama, vLLM and llama.cpp's server, which cannot run here, with
// their quirks (tool calls written as text, a small loaded context that
// rejects long prompts, stalls, 500s). It checks what real servers check:
// every tool message answers a tool call of the assistant message before
// it, and with a context limit set, no prompt is longer than the limit.
type scriptedLLM struct {
	t   *testing.T
	srv *httptest.Server

	mu sync.Mutex
	// script answers request i with script[i]; past the end, the last
	// entry answers again.
	script []func(req *chatRequest) reply
	// contextLimit, when set, is the server's loaded context: a longer
	// prompt (by the server's count: its tokenizer's plus a chat
	// template's overhead) gets overflowError.
	contextLimit  int
	overflowError string
	// templateTax is what the server's chat template adds to every prompt
	// beyond sleuth's own count.
	templateTax int
	// counter is the server's tokenizer (nil: llm.CounterFor the model
	// requested).
	counter llm.Counter
	// countPrompt, when set, is the server's whole count of a prompt
	// (rendering its chat template and tokenizing that).
	countPrompt func(req *chatRequest) int
	requests    []*chatRequest
}

// chatRequest is a request as the server decoded it.
type chatRequest struct {
	Raw      string
	Model    string `json:"model"`
	Messages []struct {
		Role       string         `json:"role"`
		Content    any            `json:"content"`
		ToolCalls  []llm.ToolCall `json:"tool_calls"`
		ToolCallID string         `json:"tool_call_id"`
	} `json:"messages"`
	Tools []struct {
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice any `json:"tool_choice"`
	MaxTokens  int `json:"max_tokens"`
	// PromptTokens is the server's count of the prompt.
	PromptTokens int
}

// content returns message i's content as text.
func (r *chatRequest) content(i int) string {
	switch c := r.Messages[i].Content.(type) {
	case string:
		return c
	case nil:
		return ""
	default:
		b, _ := json.Marshal(c)
		return string(b)
	}
}

// last returns the last message's content.
func (r *chatRequest) last() string { return r.content(len(r.Messages) - 1) }

// toolResults returns the contents of the tool messages after the last
// assistant message.
func (r *chatRequest) toolResults() []string {
	var out []string
	for i := len(r.Messages) - 1; i >= 0 && r.Messages[i].Role == "tool"; i-- {
		out = append([]string{r.content(i)}, out...)
	}
	return out
}

// noTools reports whether the request forbids tool calls.
func (r *chatRequest) noTools() bool { return r.ToolChoice == "none" }

// reply is one scripted answer.
type reply struct {
	// status and body make an error answer.
	status int
	body   string
	// content and calls make a chat completion.
	content string
	calls   []llm.ToolCall
	// stall holds the answer until the client gives up.
	stall bool
	// usage overrides the reported usage (nil: the server's count).
	usage *llm.Usage
	// raw replaces the whole 200 body.
	raw string
}

func newScriptedLLM(t *testing.T, script ...func(req *chatRequest) reply) *scriptedLLM {
	s := &scriptedLLM{t: t, script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

// say answers with content.
func say(content string) func(*chatRequest) reply {
	return func(*chatRequest) reply { return reply{content: content} }
}

// call answers with one native tool call.
func call(name, args string) func(*chatRequest) reply {
	return func(*chatRequest) reply {
		return reply{calls: []llm.ToolCall{{ID: "call_" + name, Type: "function", Function: llm.FunctionCall{Name: name, Arguments: args}}}}
	}
}

func (s *scriptedLLM) url() string { return s.srv.URL + "/v1" }

func (s *scriptedLLM) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req := &chatRequest{Raw: string(body)}
	if err := json.Unmarshal(body, req); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	req.PromptTokens = s.promptTokens(req)
	s.mu.Lock()
	s.requests = append(s.requests, req)
	n := len(s.requests) - 1
	var fn func(*chatRequest) reply
	if len(s.script) > 0 {
		fn = s.script[min(n, len(s.script)-1)]
	}
	limit, overflow := s.contextLimit, s.overflowError
	s.mu.Unlock()

	if msg := wellFormed(req); msg != "" {
		s.t.Errorf("request %d is malformed: %s", n+1, msg)
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": msg}})
		return
	}
	if limit > 0 && req.PromptTokens+req.MaxTokens > limit {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, overflow, req.PromptTokens, limit)
		return
	}
	if fn == nil {
		s.t.Errorf("request %d: the script is empty", n+1)
		http.Error(w, "no script", http.StatusInternalServerError)
		return
	}
	rp := fn(req)
	switch {
	case rp.stall:
		<-r.Context().Done()
		return
	case rp.status != 0:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rp.status)
		io.WriteString(w, rp.body)
		return
	case rp.raw != "":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, rp.raw)
		return
	}
	usage := llm.Usage{PromptTokens: req.PromptTokens, CompletionTokens: llm.Estimator().Count(rp.content) + 20*len(rp.calls)}
	if rp.usage != nil {
		usage = *rp.usage
	}
	msg := map[string]any{"role": "assistant", "content": rp.content}
	finish := "stop"
	if len(rp.calls) > 0 {
		msg["tool_calls"] = rp.calls
		finish = "tool_calls"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", n+1), "object": "chat.completion", "created": 1767225600, "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": usage.PromptTokens, "completion_tokens": usage.CompletionTokens, "total_tokens": usage.PromptTokens + usage.CompletionTokens},
	})
}

// promptTokens counts the prompt the way a server does: every message's
// text and calls with the model's tokenizer (Qwen3's for the Qwen model the
// tests name), the tool schemas, and its chat template's overhead.
func (s *scriptedLLM) promptTokens(req *chatRequest) int {
	if s.countPrompt != nil {
		return s.countPrompt(req)
	}
	c := s.counter
	if c == nil {
		c = llm.CounterFor(req.Model)
	}
	n := s.templateTax
	for i, m := range req.Messages {
		n += llm.MessageOverhead + c.Count(req.content(i))
		for _, tc := range m.ToolCalls {
			n += llm.ToolCallOverhead + c.Count(tc.Function.Name) + c.Count(tc.Function.Arguments)
		}
	}
	var specs []llm.ToolSpec
	for _, t := range req.Tools {
		specs = append(specs, llm.ToolSpec{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	return n + llm.ToolsTokens(c, specs)
}

// wellFormed checks the conversation as vLLM and OpenAI do: tool
// messages answer the calls of the assistant message before them, and
// every call is answered before the next user or assistant message.
func wellFormed(req *chatRequest) string {
	if len(req.Messages) == 0 || req.Messages[0].Role != "system" {
		return "the first message is not the system prompt"
	}
	pending := map[string]bool{}
	for i, m := range req.Messages {
		switch m.Role {
		case "tool":
			if !pending[m.ToolCallID] {
				return fmt.Sprintf("message %d answers tool call %q, which is not pending", i, m.ToolCallID)
			}
			delete(pending, m.ToolCallID)
		case "assistant", "user":
			if len(pending) > 0 {
				return fmt.Sprintf("message %d (%s) comes before tool calls %v are answered", i, m.Role, pending)
			}
			for _, tc := range m.ToolCalls {
				pending[tc.ID] = true
			}
		}
	}
	if len(pending) > 0 {
		return fmt.Sprintf("tool calls %v are never answered", pending)
	}
	return ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// got returns the requests received so far.
func (s *scriptedLLM) got() []*chatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*chatRequest(nil), s.requests...)
}

// allText is every request body, for checks that something never reached
// the model.
func (s *scriptedLLM) allText() string {
	var b strings.Builder
	for _, r := range s.got() {
		b.WriteString(r.Raw)
	}
	return b.String()
}
