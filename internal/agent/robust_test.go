package agent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// A server that stalls past the timeout is retried; one that always
// stalls leaves the deterministic report standing, with a note.
func TestInvestigateStallingServer(t *testing.T) {
	stall := func(*chatRequest) reply { return reply{stall: true} }
	s := newScriptedLLM(t, stall, say(finalJSON(report.CrashLoop, "Deployment", "shop", "checkout")))
	a := New(testClient(t, s, 50*time.Millisecond), registry(t), Config{})
	out := a.Investigate(context.Background(), detReport(), InvestigateOptions{})
	if out.LLM.Outcome != report.LLMAccepted || len(s.got()) != 2 {
		t.Errorf("after one stall: outcome %s, %d requests; want accepted after a retry", out.LLM.Outcome, len(s.got()))
	}

	s = newScriptedLLM(t, stall)
	a = New(testClient(t, s, 50*time.Millisecond), registry(t), Config{})
	det := detReport()
	out = a.Investigate(context.Background(), det, InvestigateOptions{})
	if out.LLM.Outcome != report.LLMFailed || !strings.Contains(out.LLM.Note, "timeout") || !strings.Contains(out.LLM.Note, "3 attempts") {
		t.Errorf("always stalling: stage %+v; want failed with the timeout after 3 attempts noted", out.LLM)
	}
	if out.RootCause != det.RootCause || out.Summary != det.Summary {
		t.Errorf("the deterministic answer did not stand: %+v", out.RootCause)
	}
}

func TestInvestigateServerErrors(t *testing.T) {
	internal := func(*chatRequest) reply {
		return reply{status: 500, body: `{"error":{"message":"Model crashed: unexpected EOF","type":"server_error"}}`}
	}
	s := newScriptedLLM(t, internal, say(finalJSON(report.CrashLoop, "Deployment", "shop", "checkout")))
	out := newAgent(t, s, registry(t), Config{}).Investigate(context.Background(), detReport(), InvestigateOptions{})
	if out.LLM.Outcome != report.LLMAccepted {
		t.Errorf("after one 500: outcome %s (%s)", out.LLM.Outcome, out.LLM.Note)
	}
	s = newScriptedLLM(t, internal)
	out = newAgent(t, s, registry(t), Config{}).Investigate(context.Background(), detReport(), InvestigateOptions{})
	if out.LLM.Outcome != report.LLMFailed || !strings.Contains(out.LLM.Note, "Model crashed") || !strings.Contains(out.LLM.Note, "HTTP 500") {
		t.Errorf("always 500: stage note %q", out.LLM.Note)
	}
	// A refused key is not retried.
	s = newScriptedLLM(t, func(*chatRequest) reply { return reply{status: 401, body: `{"error":"invalid api key"}`} })
	out = newAgent(t, s, registry(t), Config{}).Investigate(context.Background(), detReport(), InvestigateOptions{})
	if len(s.got()) != 1 || !strings.Contains(out.LLM.Note, "llm auth") {
		t.Errorf("401: %d requests, note %q; want 1 request and an auth note", len(s.got()), out.LLM.Note)
	}
	// A 200 whose body is not a completion (a proxy's HTML page).
	s = newScriptedLLM(t, func(*chatRequest) reply { return reply{raw: "<html>502 Bad Gateway</html>"} })
	out = newAgent(t, s, registry(t), Config{}).Investigate(context.Background(), detReport(), InvestigateOptions{})
	if out.LLM.Outcome != report.LLMFailed {
		t.Errorf("garbage 200: outcome %s", out.LLM.Outcome)
	}
}

// bigTool returns a large answer: a chatty log.
func bigTool(name string, lines int) *recordingTool {
	return &recordingTool{name: name, answer: func(args map[string]any) (string, error) {
		var b strings.Builder
		for i := range lines {
			fmt.Fprintf(&b, "2026-03-01T11:%02d:%02dZ ERROR request %d to http://payments.shop.svc:8080/v1/charge failed after %dms: upstream reset (trace %08x)\n",
				i/60%60, i%60, i, 100+i%900, i*7919)
		}
		return b.String(), nil
	}}
}

// The servers that load a model with a small context and refuse a longer
// prompt (LM Studio's 4K default, vLLM's max_model_len, llama.cpp's
// n_ctx) say so each in their words; the loop lowers its budget to what
// the server says and goes on.
func TestInvestigateAdaptsToTheServersContext(t *testing.T) {
	f := func(server, overflow string) {
		t.Helper()
		logs := bigTool("kubectl_logs", 3000)
		// Three chatty logs: the conversation outgrows the 4K the server
		// loaded, though not the 8K sleuth was told.
		s := newScriptedLLM(t,
			call("kubectl_logs", `{"name":"checkout-7d4b9c-9xk2p"}`),
			call("kubectl_logs", `{"name":"checkout-7d4b9c-2bq8z"}`),
			call("kubectl_logs", `{"name":"checkout-7d4b9c-m4k1x"}`),
			func(req *chatRequest) reply {
				if res := req.toolResults(); len(res) == 0 || !strings.Contains(res[0], "upstream reset") {
					t.Errorf("%s: the log did not reach the model: %q", server, res)
				}
				return reply{content: finalJSON(report.DependencyFailure, "Deployment", "shop", "checkout")}
			})
		s.contextLimit, s.overflowError = 4096, overflow
		s.templateTax = 250 // Qwen3-Coder's template renders tools verbosely
		out := newAgent(t, s, registry(t, logs), Config{ContextTokens: 8192, MaxOutputTokens: 1024}).Investigate(context.Background(), detReport(), InvestigateOptions{})
		if out.LLM.Outcome != report.LLMAccepted {
			t.Errorf("%s: outcome %s (%s)", server, out.LLM.Outcome, out.LLM.Note)
		}
		if !strings.Contains(out.LLM.Note, "context is 4096 tokens") {
			t.Errorf("%s: note %q does not say the server's context", server, out.LLM.Note)
		}
		reqs := s.got()
		lastOK := reqs[len(reqs)-1]
		if lastOK.PromptTokens+lastOK.MaxTokens > 4096 {
			t.Errorf("%s: the accepted request is %d+%d tokens, over 4096", server, lastOK.PromptTokens, lastOK.MaxTokens)
		}
	}
	f("LM Studio", `{"error":"Trying to keep the first %d tokens when context the overflows. However, the model is loaded with context length of only %d tokens, which is not enough. Try to load the model with a larger context length, or provide a shorter input"}`)
	f("vLLM", `{"object":"error","message":"This model's maximum context length is %[2]d tokens. However, you requested %[1]d tokens in the messages, Please reduce the length of the messages.","type":"BadRequestError","param":null,"code":400}`)
	f("llama.cpp", `{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":%d,"n_ctx":%d}}`)
	f("unsized", `{"error":{"message":"prompt of %d tokens is too long for the context length (%d)"}}`)
}

// Ollama cuts a prompt longer than num_ctx silently and answers from the
// rest; the only sign is the prompt count it reports.
func TestInvestigateDetectsSilentTruncation(t *testing.T) {
	logs := bigTool("kubectl_logs", 3000)
	s := newScriptedLLM(t, call("kubectl_logs", `{"name":"checkout-7d4b9c-9xk2p"}`), func(req *chatRequest) reply {
		if req.PromptTokens > 2048 {
			// Truncated to num_ctx=2048: garbage, with the truncated count.
			return reply{content: "the the the", usage: &llm.Usage{PromptTokens: 2048, CompletionTokens: 3}}
		}
		return reply{content: finalJSON(report.DependencyFailure, "Deployment", "shop", "checkout")}
	})
	// Configured for 16K, while Ollama loaded the model with its 2K default.
	out := newAgent(t, s, registry(t, logs), Config{ContextTokens: 16384}).Investigate(context.Background(), detReport(), InvestigateOptions{})
	if out.LLM.Outcome != report.LLMAccepted || !strings.Contains(out.LLM.Note, "silently truncates") {
		t.Errorf("outcome %s, note %q", out.LLM.Outcome, out.LLM.Note)
	}
}

// However much the tools return and however long the loop runs, no
// request exceeds the context minus the output reservation, by the
// server's count, which here adds a chat template's 150 tokens that
// sleuth does not know of until the first answer reports them.
func TestInvestigateNeverExceedsTheBudget(t *testing.T) {
	for _, ctxTokens := range []int{4096, 8192} {
		logs := bigTool("kubectl_logs", 5000)
		desc := bigTool("kubectl_describe", 800)
		n := 0
		s := newScriptedLLM(t, func(req *chatRequest) reply {
			if req.noTools() {
				return reply{content: finalJSON(report.DependencyFailure, "Deployment", "shop", "checkout")}
			}
			n++
			if n%2 == 0 {
				return call("kubectl_describe", fmt.Sprintf(`{"name":"pod-%d"}`, n))(req)
			}
			return call("kubectl_logs", fmt.Sprintf(`{"name":"pod-%d"}`, n))(req)
		})
		s.templateTax = 150
		s.contextLimit = ctxTokens
		s.overflowError = `{"error":"context length of only %[2]d tokens; got %[1]d"}`
		out := newAgent(t, s, registry(t, logs, desc), Config{ContextTokens: ctxTokens, MaxOutputTokens: 768, MaxSteps: 12}).
			Investigate(context.Background(), detReport(), InvestigateOptions{})
		budget := ctxTokens - 768
		for i, r := range s.got() {
			if i > 0 && r.PromptTokens > budget {
				t.Errorf("context %d: request %d has %d prompt tokens, over the budget %d", ctxTokens, i+1, r.PromptTokens, budget)
			}
		}
		if out.LLM.Outcome != report.LLMAccepted || !out.LLM.Partial || out.LLM.Calls != 13 {
			t.Errorf("context %d: outcome %s, partial %v, %d calls (%s)", ctxTokens, out.LLM.Outcome, out.LLM.Partial, out.LLM.Calls, out.LLM.Note)
		}
		if out.LLM.MaxPromptTokens > budget {
			t.Errorf("context %d: recorded max prompt %d over %d", ctxTokens, out.LLM.MaxPromptTokens, budget)
		}
		// The newest result is there, older ones summarised.
		last := s.got()[len(s.got())-1]
		var summarised int
		for i := range last.Messages {
			if strings.Contains(last.content(i), "summarised to save context") {
				summarised++
			}
		}
		if summarised == 0 {
			t.Errorf("context %d: no older result was summarised", ctxTokens)
		}
	}
}

// Secrets in the evidence, the tools' answers and the question never
// reach the model.
func TestSecretsNeverReachTheModel(t *testing.T) {
	secrets := []string{"hunter2-very-secret", "sk-live-0123456789abcdefghij", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbGV1dGgifQ.c2lnbmF0dXJl",
		"MIIEowIBAAKCAQEA7", "s3cr3tPassw0rd", "c2VjcmV0LWRiLXBhc3N3b3Jk", "AKIAIOSFODNN7EXAMPLE"}
	leaky := &recordingTool{name: "kubectl_describe", answer: func(map[string]any) (string, error) {
		return `Environment:
  DB_PASSWORD=hunter2-very-secret
  OPENAI_API_KEY: sk-live-0123456789abcdefghij
  DATABASE_URL: postgres://app:s3cr3tPassw0rd@db.shop.svc:5432/shop
Headers: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbGV1dGgifQ.c2lnbmF0dXJl
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA7
-----END RSA PRIVATE KEY-----
apiVersion: v1
kind: Secret
metadata:
  name: db
data:
  password: c2VjcmV0LWRiLXBhc3N3b3Jk
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
`, nil
	}}
	s := newScriptedLLM(t, call("kubectl_describe", `{"name":"checkout"}`), say(finalJSON(report.CrashLoop, "Deployment", "shop", "checkout")))
	det := detReport()
	det.Alerts[0].Annotations["description"] = "connection failed: password=hunter2-very-secret"
	newAgent(t, s, registry(t, leaky), Config{}).Investigate(context.Background(), det, InvestigateOptions{})
	s2 := newScriptedLLM(t, say("ok"))
	if _, err := newAgent(t, s2, registry(t), Config{}).Chat(context.Background(), ChatRequest{Ask: "why does curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbGV1dGgifQ.c2lnbmF0dXJl' fail?"}); err != nil {
		t.Fatal(err)
	}
	sent := s.allText() + s2.allText()
	for _, secret := range secrets {
		if strings.Contains(sent, secret) {
			t.Errorf("%q reached the model", secret)
		}
	}
	// What is not secret still does.
	for _, keep := range []string{"DB_PASSWORD", "db.shop.svc:5432", "password", "kind: Secret"} {
		if !strings.Contains(sent, keep) {
			t.Errorf("%q was redacted too", keep)
		}
	}
}

// The estimator counts ordinary text well above a real tokenizer, so a
// server counting 55% of what the estimator said is a tokenizer
// difference, not truncation; with an exact counter the same gap is.
func TestTruncationCheckAllowsForTheEstimator(t *testing.T) {
	logs := bigTool("kubectl_logs", 3000)
	f := func(counter llm.Counter, wantTruncation bool) {
		t.Helper()
		s := newScriptedLLM(t, call("kubectl_logs", `{"name":"checkout-7d4b9c-9xk2p"}`), func(req *chatRequest) reply {
			return reply{content: finalJSON(report.DependencyFailure, "Deployment", "shop", "checkout"),
				usage: &llm.Usage{PromptTokens: req.PromptTokens * 55 / 100, CompletionTokens: 40}}
		})
		out := newAgent(t, s, registry(t, logs), Config{ContextTokens: 16384, Counter: counter}).Investigate(context.Background(), detReport(), InvestigateOptions{})
		if got := strings.Contains(out.LLM.Note, "silently truncates"); got != wantTruncation {
			t.Errorf("%s: truncation reported %v, want %v (note %q)", counter.Name(), got, wantTruncation, out.LLM.Note)
		}
	}
	f(llm.Estimator(), false)
	f(llm.CounterFor("qwen3-coder-30b-a3b-instruct"), true)
}
