package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/core"
)

// qwen3Prompt renders a request the way Qwen3's chat template (the
// tokenizer_config.json of internal/llm/tokenizer/qwen3's source package)
// does with tools: the system prompt and the tool schemas (Python's
// json.dumps separators, ", " and ": ") in the first turn, tool calls as
// <tool_call> blocks, consecutive tool answers in one user turn as
// <tool_response> blocks, then the generation prompt.
func qwen3Prompt(t *testing.T, req *chatRequest) string {
	var raw struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal([]byte(req.Raw), &raw); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	msgs := req.Messages
	start := 0
	if len(raw.Tools) > 0 {
		b.WriteString("<|im_start|>system\n")
		if len(msgs) > 0 && msgs[0].Role == "system" {
			b.WriteString(req.content(0) + "\n\n")
			start = 1
		}
		b.WriteString("# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>")
		for _, tool := range raw.Tools {
			b.WriteString("\n" + pyJSON(t, tool))
		}
		b.WriteString("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n")
	}
	for i := start; i < len(msgs); i++ {
		m := msgs[i]
		switch m.Role {
		case "system", "user":
			b.WriteString("<|im_start|>" + m.Role + "\n" + req.content(i) + "<|im_end|>\n")
		case "assistant":
			content := req.content(i)
			b.WriteString("<|im_start|>assistant\n" + content)
			for k, tc := range m.ToolCalls {
				if k > 0 || content != "" {
					b.WriteString("\n")
				}
				b.WriteString("<tool_call>\n{\"name\": \"" + tc.Function.Name + "\", \"arguments\": " + tc.Function.Arguments + "}\n</tool_call>")
			}
			b.WriteString("<|im_end|>\n")
		case "tool":
			if i == 0 || msgs[i-1].Role != "tool" {
				b.WriteString("<|im_start|>user")
			}
			b.WriteString("\n<tool_response>\n" + req.content(i) + "\n</tool_response>")
			if i == len(msgs)-1 || msgs[i+1].Role != "tool" {
				b.WriteString("<|im_end|>\n")
			}
		}
	}
	b.WriteString("<|im_start|>assistant\n")
	return b.String()
}

// pyJSON re-writes JSON as Python's json.dumps(ensure_ascii=False) does
// (Jinja's tojson in transformers): ", " and ": " separators, no HTML
// escapes, keys in their order.
func pyJSON(t *testing.T, raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b strings.Builder
	type frame struct {
		object bool
		n      int
	}
	var stack []frame
	str := func(s string) {
		var sb bytes.Buffer
		enc := json.NewEncoder(&sb)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		b.WriteString(strings.TrimSuffix(sb.String(), "\n"))
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			b.WriteString(d.String())
			continue
		}
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			switch {
			case f.object && f.n%2 == 1:
				b.WriteString(": ")
			case f.n > 0:
				b.WriteString(", ")
			}
			f.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			b.WriteString(v.String())
			stack = append(stack, frame{object: v == '{'})
		case string:
			str(v)
		case json.Number:
			b.WriteString(v.String())
		case bool:
			fmt.Fprint(&b, v)
		case nil:
			b.WriteString("null")
		}
	}
	return b.String()
}

func TestPyJSON(t *testing.T) {
	got := pyJSON(t, json.RawMessage(`{"a":[1,2.5,{"b":null}],"c":"<x> & é","d":true,"e":{}}`))
	if want := `{"a": [1, 2.5, {"b": null}], "c": "<x> & é", "d": true, "e": {}}`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// coreRegistry is every built-in tool, as with every backend configured.
func coreRegistry(t *testing.T) *tools.Registry {
	reg := &tools.Registry{}
	for _, ts := range core.Toolsets(core.Backends{}) {
		ts.Enabled = true
		if err := reg.Add(ts); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// With Qwen3's tokenizer the 1,500-token cap on the system prompt and tool
// schemas admits more tools than the estimator did (it overcounts by about
// half), and by the rendered chat template's own count the first turn of a
// Qwen server stays near the cap.
func TestQwenTokenizerFitsMoreTools(t *testing.T) {
	reg := coreRegistry(t)
	all := len(reg.Tools())
	s := newScriptedLLM(t, say("{}"))
	for name, system := range map[string]string{"investigate": investigateSystem("", nil), "chat": chatSystem("")} {
		exact := newAgent(t, s, reg, Config{}) // the test model is a Qwen3 model
		estimate := newAgent(t, s, reg, Config{Counter: llm.Estimator()})
		if exact.cfg.Counter.Name() != "qwen3" {
			t.Fatalf("counter %s", exact.cfg.Counter.Name())
		}
		re, rq := estimate.newRun(system, nil), exact.newRun(system, nil)
		ne, nq := re.fixed(true), rq.fixed(true)
		t.Logf("%s: estimator admits %d of %d tools (%d tokens by its count); qwen3 %d of %d (%d tokens)",
			name, len(re.specs), all, ne, len(rq.specs), all, nq)
		if len(rq.specs) <= len(re.specs) {
			t.Errorf("%s: qwen3 admits %d tools, the estimator %d", name, len(rq.specs), len(re.specs))
		}
		if nq >= 1500 {
			t.Errorf("%s: %d tokens, want under 1500", name, nq)
		}
		var names []string
		for _, sp := range rq.specs {
			names = append(names, sp.Name)
		}
		for _, must := range preferred[:6] {
			if !slices.Contains(names, must) {
				t.Errorf("%s: tool %s left out: %v", name, must, names)
			}
		}
		// What a Qwen3 server reads for it: the rendered system turn.
		raw, _ := json.Marshal(map[string]any{"tools": func() []any {
			var out []any
			for _, sp := range rq.specs {
				out = append(out, json.RawMessage(llm.RenderTool(sp)))
			}
			return out
		}()})
		req := &chatRequest{Raw: string(raw)}
		req.Messages = append(req.Messages, struct {
			Role       string         `json:"role"`
			Content    any            `json:"content"`
			ToolCalls  []llm.ToolCall `json:"tool_calls"`
			ToolCallID string         `json:"tool_call_id"`
		}{Role: "system", Content: system})
		rendered := exact.cfg.Counter.Count(qwen3Prompt(t, req))
		t.Logf("%s: the rendered Qwen3 system turn is %d tokens; sleuth counts %d", name, rendered, nq)
		if rendered > nq {
			t.Errorf("%s: the rendered system turn is %d tokens, sleuth's count %d is short", name, rendered, nq)
		}
	}
}

// longOutput is a tool answer of every kind of text the tokenizers treat
// differently: JSON and klog lines, Russian, CJK and emoji, stack traces,
// base64 and hex, about size bytes of it.
func longOutput(seed uint64, size int) string {
	r := rand.New(rand.NewPCG(seed, 7))
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		switch i % 7 {
		case 0:
			fmt.Fprintf(&b, `{"level":"error","ts":"2026-11-25T22:%02d:%02d.%03dZ","caller":"db/pool.go:%d","msg":"connection refused","attempt":%d,"trace_id":"%016x"}`+"\n",
				i/60%60, i%60, r.IntN(1000), r.IntN(300), r.IntN(9), r.Uint64())
		case 1:
			fmt.Fprintf(&b, "E1125 22:13:%02d.%06d   %5d reflector.go:138] failed to list *v1.Pod: Get \"https://10.96.0.1:443/api/v1/pods?limit=500\": dial tcp: i/o timeout\n",
				i%60, r.IntN(1000000), r.IntN(99999))
		case 2:
			fmt.Fprintf(&b, "2026-11-25 22:13:%02d ОШИБКА [платёжный-сервис] Превышено время ожидания ответа от банка (таймаут %d с), повтор №%d\n", i%60, 5+r.IntN(30), r.IntN(5))
		case 3:
			fmt.Fprintf(&b, "订单服务 %d 内存不足，已重启 🔥🚨 再試行します ✅ 👍🏽 — “quoted” … %d%%\n", r.IntN(100), r.IntN(100))
		case 4:
			fmt.Fprintf(&b, "\tat com.example.shop.Cart.add(Cart.java:%d)\n\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:%d)\n", r.IntN(500), r.IntN(2000))
		case 5:
			blob := make([]byte, 200)
			for k := range blob {
				blob[k] = b64[r.IntN(64)]
			}
			fmt.Fprintf(&b, "payload=%s\n", blob)
		case 6:
			fmt.Fprintf(&b, "image: registry.example.com/shop/checkout@sha256:%016x%016x%016x%016x uid=%08x-%04x-%04x-%04x-%012x\n",
				r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64(), r.Uint32(), r.IntN(1<<16), r.IntN(1<<16), r.IntN(1<<16), r.Uint64()>>16)
		}
	}
	return b.String()
}

// However long and varied the tool answers, no request exceeds the
// context minus the output reservation by a Qwen3 server's own count (its
// chat template rendered and tokenized by Qwen3's tokenizer), from the
// first request on, whether sleuth counts with the same tokenizer or, for a
// model it has no tokenizer for, with the estimator; and the server never
// has to refuse a prompt.
func TestBudgetHoldsByTheQwen3ServersCount(t *testing.T) {
	for _, counter := range []string{"qwen3", "estimate"} {
		for _, ctxTokens := range []int{4096, 8192} {
			var names []string
			var ts []tools.Tool
			for k, name := range []string{"kubectl_logs", "kubectl_describe", "kubectl_events"} {
				names = append(names, name)
				ts = append(ts, &recordingTool{name: name, answer: func(args map[string]any) (string, error) {
					return longOutput(uint64(k)+uint64(len(fmt.Sprint(args))), 60000), nil
				}})
			}
			n := 0
			s := newScriptedLLM(t, func(req *chatRequest) reply {
				if req.noTools() {
					return reply{content: finalJSON(report.DependencyFailure, "Deployment", "shop", "checkout")}
				}
				n++
				return call(names[n%3], fmt.Sprintf(`{"name":"checkout-7d4b9c-%05d"}`, n))(req)
			})
			qwen := llm.CounterFor("qwen3")
			s.countPrompt = func(req *chatRequest) int { return qwen.Count(qwen3Prompt(t, req)) }
			s.contextLimit = ctxTokens
			s.overflowError = `{"error":"context length of only %[2]d tokens; got %[1]d"}`
			cfg := Config{ContextTokens: ctxTokens, MaxOutputTokens: 768, MaxSteps: 8}
			if counter == "estimate" {
				cfg.Counter = llm.Estimator()
			}
			out := newAgent(t, s, registry(t, ts...), cfg).Investigate(context.Background(), detReport(), InvestigateOptions{})
			budget := ctxTokens - 768
			var largest int
			for i, r := range s.got() {
				largest = max(largest, r.PromptTokens)
				if r.PromptTokens > budget {
					t.Errorf("%s, context %d: request %d has %d prompt tokens by the server's count, over %d", counter, ctxTokens, i+1, r.PromptTokens, budget)
				}
			}
			t.Logf("%s, context %d: %d requests, the largest %d tokens of %d by the server's count (%s)", counter, ctxTokens, len(s.got()), largest, budget, out.LLM.Note)
			if out.LLM.Outcome != report.LLMAccepted || out.LLM.Calls != 9 {
				t.Errorf("%s, context %d: outcome %s, %d calls (%s)", counter, ctxTokens, out.LLM.Outcome, out.LLM.Calls, out.LLM.Note)
			}
			// The answers were long: they had to be trimmed to fit, the
			// exact count filling the context closely, the estimate less so.
			fill := budget * 3 / 4
			if counter == "estimate" {
				fill = budget / 2
			}
			if largest < fill {
				t.Errorf("%s, context %d: the largest request is %d tokens: the test does not fill the context", counter, ctxTokens, largest)
			}
		}
	}
}

// BenchmarkInvestigationStepsByCounter is BenchmarkInvestigationSteps
// with each counter: the Qwen3 tokenizer (the test model is a Qwen3 model)
// and the estimator, for sleuth's own time per step and the prompt sizes.
func BenchmarkInvestigationStepsByCounter(b *testing.B) {
	for _, name := range []string{"qwen3", "estimate"} {
		b.Run(name, func(b *testing.B) {
			t := &testing.T{}
			logs := bigTool("kubectl_logs", 2000)
			desc := bigTool("kubectl_describe", 300)
			var own, steps, maxPrompt, total float64
			for range b.N {
				n := 0
				s := newScriptedLLM(t, func(req *chatRequest) reply {
					n++
					if n > 5 {
						return reply{content: finalJSON(report.DependencyFailure, "Deployment", "shop", "checkout")}
					}
					if n%2 == 0 {
						return call("kubectl_describe", fmt.Sprintf(`{"name":"pod-%d"}`, n))(req)
					}
					return call("kubectl_logs", fmt.Sprintf(`{"name":"pod-%d"}`, n))(req)
				})
				cfg := Config{}
				if name == "estimate" {
					cfg.Counter = llm.Estimator()
					s.counter = llm.CounterFor("qwen3") // the server's own tokenizer
				}
				out := New(testClient(t, s, 10e9), registry(t, logs, desc), cfg).Investigate(context.Background(), detReport(), InvestigateOptions{})
				own += out.LLM.WallMS - out.LLM.ModelMS
				steps += float64(out.LLM.Calls)
				maxPrompt = max(maxPrompt, float64(out.LLM.MaxPromptTokens))
				total += float64(out.LLM.PromptTokens)
				s.srv.Close()
			}
			b.ReportMetric(own/steps, "ms-own/step")
			b.ReportMetric(maxPrompt, "max-prompt-tokens")
			b.ReportMetric(total/float64(b.N), "prompt-tokens/investigation")
			b.ReportMetric(total/steps, "prompt-tokens/call")
		})
	}
}
