package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseTextToolCalls(t *testing.T) {
	f := func(content, wantName, wantArgs, wantText string) {
		t.Helper()
		tc := ParseTextToolCalls(content)
		if wantName == "" {
			if len(tc.Calls) != 0 || tc.Text != content {
				t.Errorf("%q: calls %+v, want none and the text unchanged", content, tc.Calls)
			}
			return
		}
		if len(tc.Calls) != 1 {
			t.Fatalf("%q: %d calls, want 1", content, len(tc.Calls))
		}
		c := tc.Calls[0].Function
		if c.Name != wantName || c.Arguments != wantArgs || tc.Text != wantText {
			t.Errorf("%q:\n got %s %s text %q\nwant %s %s text %q", content, c.Name, c.Arguments, tc.Text, wantName, wantArgs, wantText)
		}
	}
	f(`<tool_call>{"name": "kubectl_events", "arguments": {"namespace": "shop"}}</tool_call>`, "kubectl_events", `{"namespace": "shop"}`, "")
	f("Checking.\n<tool_call>\n{\"name\": \"kubectl_events\", \"arguments\": {\"namespace\": \"shop\"}}\n", "kubectl_events", `{"namespace": "shop"}`, "Checking.")
	f("<tool_call>\n<function=execute_prometheus_instant_query>\n<parameter=query>\nup{job=\"x\"} == 0\n</parameter>\n</function>\n</tool_call>",
		"execute_prometheus_instant_query", `{"query":"up{job=\"x\"} == 0"}`, "")
	f("<function=kubectl_logs><parameter=pod_name>a</parameter><parameter=tail>50</parameter></function>", "kubectl_logs", `{"pod_name":"a","tail":"50"}`, "")
	f("```json\n{\"name\": \"kubectl_events\", \"arguments\": {}}\n```", "kubectl_events", `{}`, "")
	f(`{"function": {"name": "kubectl_events", "arguments": "{\"namespace\":\"a\"}"}}`, "kubectl_events", `{"namespace":"a"}`, "")
	f(`{"name": "fetch_runbook"}`, "fetch_runbook", `{}`, "")
	f(`<|python_tag|>{"name": "kubectl_events", "parameters": {"namespace": "a"}}`, "kubectl_events", `{"namespace": "a"}`, "")
	// Malformed JSON keeps the name and invalid arguments.
	tc := ParseTextToolCalls(`<tool_call>{"name": "kubectl_events", "arguments": {"namespace": "a",}}</tool_call>`)
	if len(tc.Calls) != 1 || tc.Calls[0].Function.Name != "kubectl_events" || json.Valid([]byte(tc.Calls[0].Function.Arguments)) {
		t.Errorf("malformed: %+v", tc.Calls)
	}
	// Not calls: prose, a final answer, JSON without a name.
	f("The pod is OOMKilled.", "", "", "")
	f(`{"category": "oom-killed", "culprit": {"kind": "Deployment", "name": "x"}}`, "", "", "")
	f("```json\n{\"category\": \"crash-loop\"}\n```", "", "", "")
}

func TestMessageUnmarshal(t *testing.T) {
	var msgs []Message
	err := json.Unmarshal([]byte(`[{"role":"system","content":"s"},{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"x","arguments":"{}"}}]},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"u"}},{"type":"text","text":"b"}]}]`), &msgs)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[1].Content != "" || len(msgs[1].ToolCalls) != 1 || msgs[2].Content != "a\nb" {
		t.Errorf("%+v", msgs)
	}
}

// The error bodies of real servers are classified by what the caller can
// do, and the context size read where the server gives it.
func TestErrorClassification(t *testing.T) {
	f := func(status int, body string, kind Kind, limit int) {
		t.Helper()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, body)
		}))
		defer srv.Close()
		c, _ := New(Config{URL: srv.URL + "/v1", Model: "m", Retries: -1})
		_, err := c.Complete(context.Background(), Request{Messages: []Message{{Role: RoleUser, Content: "hi"}}})
		var e *Error
		if !errors.As(err, &e) || e.Kind != kind || e.ContextLimit != limit || e.Status != status {
			t.Errorf("%d %s: got %#v, want kind %s limit %d", status, body, e, kind, limit)
		}
	}
	f(400, `{"error":"Trying to keep the first 5000 tokens when context the overflows. However, the model is loaded with context length of only 4096 tokens, which is not enough."}`, KindContextOverflow, 4096)
	f(400, `{"object":"error","message":"This model's maximum context length is 8192 tokens. However, you requested 9000 tokens","code":400}`, KindContextOverflow, 8192)
	f(400, `{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}`, KindContextOverflow, 4096)
	f(400, `{"error":{"message":"model 'qwen3' not found"}}`, KindBadRequest, 0)
	f(401, `{"error":{"message":"Incorrect API key"}}`, KindAuth, 0)
	f(429, `{"error":{"message":"slow down"}}`, KindRateLimit, 0)
	f(500, `{"detail":"boom"}`, KindServer, 0)
	f(502, `<html>Bad Gateway</html>`, KindServer, 0)
}

// Retries honour the backoff, doubling, and stop at a non-retryable
// error.
func TestRetries(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n < 3 {
			http.Error(w, `{"error":{"message":"busy"}}`, 503)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok","reasoning_content":"thinking"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	}))
	defer srv.Close()
	var waits []time.Duration
	var attempts []Attempt
	c, _ := New(Config{URL: srv.URL + "/v1", Model: "m", Retries: 3, Backoff: time.Second,
		Sleep:   func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
		Observe: func(a Attempt) { attempts = append(attempts, a) }})
	resp, err := c.Complete(context.Background(), Request{Messages: []Message{{Role: RoleUser, Content: "hi"}}})
	if err != nil || resp.Message.Content != "ok" || resp.Message.Reasoning != "thinking" || resp.Attempts != 3 || resp.Usage.PromptTokens != 5 {
		t.Fatalf("%v %+v", err, resp)
	}
	if fmt.Sprint(waits) != "[1s 2s]" || len(attempts) != 3 || attempts[2].Err != nil || attempts[0].Err == nil {
		t.Errorf("waits %v, attempts %+v", waits, attempts)
	}
}

func TestResolveKey(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/key"
	if err := writeFile(path, "sk-from-file\n"); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{"LLM_KEY": "sk-from-env"}[k] }
	for in, want := range map[string]string{"sk-plain": "sk-plain", "file:" + path: "sk-from-file", "env:LLM_KEY": "sk-from-env"} {
		if got, err := ResolveKey(in, env); err != nil || got != want {
			t.Errorf("ResolveKey(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ResolveKey("env:MISSING", env); err == nil || !strings.Contains(err.Error(), "MISSING") {
		t.Errorf("missing variable: %v", err)
	}
}
