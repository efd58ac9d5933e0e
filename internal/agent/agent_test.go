package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// recordingTool is a tool whose answer the test sets, recording its calls.
type recordingTool struct {
	name   string
	answer func(args map[string]any) (string, error)
	mu     sync.Mutex
	calls  []map[string]any
}

func (t *recordingTool) Name() string        { return t.name }
func (t *recordingTool) Description() string { return "test tool " + t.name }
func (t *recordingTool) Parameters() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"kind":{"type":"string"},"name":{"type":"string"},"namespace":{"type":"string"}},"required":["name"]}`)
}

func (t *recordingTool) Run(_ context.Context, args map[string]any) (tools.Result, error) {
	t.mu.Lock()
	t.calls = append(t.calls, args)
	t.mu.Unlock()
	if t.answer == nil {
		return tools.Result{Text: fmt.Sprintf("%s of %v", t.name, args["name"])}, nil
	}
	s, err := t.answer(args)
	return tools.Result{Text: s}, err
}

func (t *recordingTool) got() []map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]map[string]any(nil), t.calls...)
}

func registry(t *testing.T, ts ...tools.Tool) *tools.Registry {
	t.Helper()
	reg := &tools.Registry{}
	if err := reg.Add(tools.Toolset{Name: "test", Enabled: true, Tools: ts}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// testClient returns a client of the scripted server that retries without
// waiting.
func testClient(t *testing.T, s *scriptedLLM, timeout time.Duration) *llm.Client {
	t.Helper()
	c, err := llm.New(llm.Config{URL: s.url(), Model: "qwen3-coder-30b-a3b-instruct-mlx", Timeout: timeout, Retries: 2,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newAgent(t *testing.T, s *scriptedLLM, reg *tools.Registry, cfg Config) *Agent {
	t.Helper()
	return New(testClient(t, s, 10*time.Second), reg, cfg)
}

// detReport is a deterministic report the engine might write: undecided,
// about a crash-looping pod of the checkout Deployment.
func detReport() *report.Report {
	pod := report.Ref{Kind: "Pod", Namespace: "shop", Name: "checkout-7d4b9c-9xk2p"}
	dep := report.Ref{Kind: "Deployment", Namespace: "shop", Name: "checkout"}
	r := &report.Report{
		Investigator: "sleuth-engine",
		IncidentID:   7,
		RootCause:    report.RootCause{Category: report.Unknown, Confidence: 0.2},
		Summary:      "checkout-7d4b9c-9xk2p restarts; the cause is not decided.",
		Target:       pod,
		Findings: []report.Finding{{Analyzer: "pods", Category: report.CrashLoop, Object: dep, Score: 0.4,
			Title: "container app restarted 12 times", Detail: "last exit code 1"}},
		Remediation: []string{"Read the previous logs of the container."},
		Checked:     []report.Check{{Analyzer: "nodes", Note: "node worker-1 is Ready"}},
		Unchecked:   []report.Unchecked{{What: "logs", Why: "victorialogs.url is not configured"}},
		Runbooks:    []report.Runbook{{Name: "crashloop", Source: "builtin", Instructions: "Check the previous logs and the last termination reason."}},
		Alerts: []report.Alert{{Name: "KubePodCrashLooping", Status: "firing", StartsAt: time.Date(2026, 3, 1, 11, 45, 0, 0, time.UTC),
			Labels:      map[string]string{"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": pod.Name, "severity": "warning"},
			Annotations: map[string]string{"summary": "Pod is crash looping."}}},
		ToolCalls: []toolcall.Call{{ID: "call-1", Tool: "kubernetes.get", Description: "kubectl get pod -n shop " + pod.Name, Status: toolcall.Success, Excerpt: "Pod shop/checkout-7d4b9c-9xk2p CrashLoopBackOff"}},
	}
	r.FillSections([]string{"11:44:59 shop/checkout-7d4b9c-9xk2p: panic: connect to db: connection refused"})
	return r
}

// finalJSON is a well-formed final answer.
func finalJSON(category, kind, ns, name string) string {
	b, _ := json.Marshal(map[string]any{
		"category": category, "culprit": map[string]string{"kind": kind, "namespace": ns, "name": name}, "confidence": 0.85,
		"summary": "checkout cannot reach its database at db:5432 and exits.", "findings": []string{"panic: connect to db"},
		"remediation": []string{"Fix the db Service."}, "app_or_infra": "app",
	})
	return string(b)
}

func TestInvestigateNativeToolCall(t *testing.T) {
	desc := &recordingTool{name: "kubectl_describe", answer: func(args map[string]any) (string, error) {
		return "Pod shop/checkout-7d4b9c-9xk2p\nLast State: Terminated (Error, exit code 1)\n", nil
	}}
	s := newScriptedLLM(t,
		call("kubectl_describe", `{"kind":"pod","name":"checkout-7d4b9c-9xk2p","namespace":"shop"}`),
		func(req *chatRequest) reply {
			if res := req.toolResults(); len(res) != 1 || !strings.Contains(res[0], "exit code 1") {
				t.Errorf("second request's tool results = %q, want the describe output", res)
			}
			return reply{content: finalJSON(report.DependencyFailure, "Deployment", "shop", "checkout")}
		})
	a := newAgent(t, s, registry(t, desc), Config{})
	out := a.Investigate(context.Background(), detReport(), InvestigateOptions{})

	if got := desc.got(); len(got) != 1 || got[0]["name"] != "checkout-7d4b9c-9xk2p" {
		t.Errorf("tool calls = %v, want one describe of the pod", got)
	}
	if out.LLM == nil || out.LLM.Outcome != report.LLMAccepted {
		t.Fatalf("LLM stage = %+v, want accepted", out.LLM)
	}
	want := report.RootCause{Category: report.DependencyFailure, Object: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "checkout"}, Confidence: 0.8}
	if out.RootCause != want {
		t.Errorf("root cause = %+v, want %+v", out.RootCause, want)
	}
	if out.LLM.Calls != 2 || out.LLM.PromptTokens == 0 || out.LLM.CompletionTokens == 0 || out.LLM.Partial {
		t.Errorf("stage = calls %d, prompt %d, completion %d, partial %v; want 2 calls with tokens, not partial",
			out.LLM.Calls, out.LLM.PromptTokens, out.LLM.CompletionTokens, out.LLM.Partial)
	}
	last := out.ToolCalls[len(out.ToolCalls)-1]
	if last.Tool != "kubectl_describe" || last.Status != toolcall.Success || !strings.Contains(last.Excerpt, "exit code 1") {
		t.Errorf("recorded model tool call = %+v", last)
	}
	if len(out.ToolCalls) != 2 || out.ToolCalls[0].ID != "call-1" {
		t.Errorf("tool calls = %d, want the engine's one and the model's one", len(out.ToolCalls))
	}
	if !strings.Contains(out.Summary, "db:5432") || !strings.Contains(out.Sections[report.SectionKeyFindings], "panic: connect to db") {
		t.Errorf("summary %q / key findings %q do not carry the model's answer", out.Summary, out.Sections[report.SectionKeyFindings])
	}
	if !strings.Contains(out.Sections[report.SectionConclusions], "Automated analysis") {
		t.Errorf("conclusions lost the deterministic summary: %q", out.Sections[report.SectionConclusions])
	}
}

// Local servers whose tool-call parser does not know the model's format
// return the calls as text; each form must be executed.
func TestInvestigateTextToolCalls(t *testing.T) {
	f := func(name, content string) {
		t.Helper()
		desc := &recordingTool{name: "kubectl_describe"}
		s := newScriptedLLM(t, say(content), func(req *chatRequest) reply {
			if res := req.toolResults(); len(res) != 1 || !strings.Contains(res[0], "kubectl_describe of checkout") {
				t.Errorf("%s: tool results = %q", name, res)
			}
			return reply{content: "```json\n" + finalJSON(report.CrashLoop, "Deployment", "shop", "checkout") + "\n```"}
		})
		out := newAgent(t, s, registry(t, desc), Config{}).Investigate(context.Background(), detReport(), InvestigateOptions{})
		got := desc.got()
		if len(got) != 1 || got[0]["name"] != "checkout" || got[0]["namespace"] != "shop" {
			t.Errorf("%s: tool ran with %v, want name=checkout namespace=shop once", name, got)
		}
		if out.LLM.Outcome != report.LLMAccepted || out.RootCause.Category != report.CrashLoop {
			t.Errorf("%s: outcome %s, root cause %+v", name, out.LLM.Outcome, out.RootCause)
		}
		// The call goes back to the server in the native form, answered.
		req := s.got()[1]
		am := req.Messages[len(req.Messages)-2]
		if am.Role != "assistant" || len(am.ToolCalls) != 1 || am.ToolCalls[0].Function.Name != "kubectl_describe" {
			t.Errorf("%s: the call is not sent back as a native call: %+v", name, am)
		}
	}
	f("hermes/qwen2.5 block", "Let me look.\n<tool_call>\n{\"name\": \"kubectl_describe\", \"arguments\": {\"kind\": \"deployment\", \"name\": \"checkout\", \"namespace\": \"shop\"}}\n</tool_call>")
	f("qwen3-coder xml", "<tool_call>\n<function=kubectl_describe>\n<parameter=kind>\ndeployment\n</parameter>\n<parameter=name>\ncheckout\n</parameter>\n<parameter=namespace>\nshop\n</parameter>\n</function>\n</tool_call>")
	f("fenced json", "I will describe it.\n```json\n{\"name\": \"kubectl_describe\", \"arguments\": {\"kind\": \"deployment\", \"name\": \"checkout\", \"namespace\": \"shop\"}}\n```")
	f("bare object", `{"name": "kubectl_describe", "parameters": {"kind": "deployment", "name": "checkout", "namespace": "shop"}}`)
	f("arguments as a string", `{"name": "kubectl_describe", "arguments": "{\"name\": \"checkout\", \"namespace\": \"shop\"}"}`)
	f("mistral marker", `[TOOL_CALLS][{"name": "kubectl_describe", "arguments": {"name": "checkout", "namespace": "shop"}}]`)
}

func TestInvestigateMalformedArgumentsAreCorrected(t *testing.T) {
	desc := &recordingTool{name: "kubectl_describe"}
	s := newScriptedLLM(t,
		say(`<tool_call>{"name": "kubectl_describe", "arguments": {"kind": "pod", "name": "checkout-7d4b9c-9xk2p",}}</tool_call>`),
		func(req *chatRequest) reply {
			res := req.toolResults()
			if len(res) != 1 || !strings.Contains(res[0], "not a valid JSON object") || !strings.Contains(res[0], `"name": string (required)`) {
				t.Errorf("the model is not told its arguments were bad: %q", res)
			}
			return call("kubectl_describe", `{"kind":"pod","name":"checkout-7d4b9c-9xk2p","namespace":"shop"}`)(req)
		},
		say(finalJSON(report.CrashLoop, "Deployment", "shop", "checkout")))
	out := newAgent(t, s, registry(t, desc), Config{}).Investigate(context.Background(), detReport(), InvestigateOptions{})
	if got := desc.got(); len(got) != 1 || got[0]["namespace"] != "shop" {
		t.Errorf("tool runs = %v, want only the corrected call", got)
	}
	if out.LLM.Outcome != report.LLMAccepted {
		t.Errorf("outcome = %s (%s)", out.LLM.Outcome, out.LLM.Note)
	}
	if out.ToolCalls[1].Status != toolcall.Error || out.ToolCalls[2].Status != toolcall.Success {
		t.Errorf("recorded statuses = %s, %s; want error then success", out.ToolCalls[1].Status, out.ToolCalls[2].Status)
	}
}

func TestInvestigateInventedToolName(t *testing.T) {
	desc := &recordingTool{name: "kubectl_describe"}
	logs := &recordingTool{name: "kubectl_logs"}
	s := newScriptedLLM(t,
		call("get_pod_logs", `{"name":"checkout-7d4b9c-9xk2p"}`),
		func(req *chatRequest) reply {
			res := req.toolResults()
			if len(res) != 1 || !strings.Contains(res[0], `unknown tool "get_pod_logs"`) ||
				!strings.Contains(res[0], "kubectl_describe, kubectl_logs") {
				t.Errorf("the model is not told the real tools: %q", res)
			}
			return call("kubectl_logs", `{"name":"checkout-7d4b9c-9xk2p"}`)(req)
		},
		say(finalJSON(report.CrashLoop, "Deployment", "shop", "checkout")))
	newAgent(t, s, registry(t, desc, logs), Config{}).Investigate(context.Background(), detReport(), InvestigateOptions{})
	if len(logs.got()) != 1 {
		t.Errorf("kubectl_logs ran %d times, want 1 after the correction", len(logs.got()))
	}
}

// A model that repeats one call forever: the second is answered from
// memory, the third ends the loop with a request for the answer.
func TestInvestigateRepeatedCallEndsTheLoop(t *testing.T) {
	desc := &recordingTool{name: "kubectl_describe"}
	s := newScriptedLLM(t, func(req *chatRequest) reply {
		if req.noTools() {
			return reply{content: finalJSON(report.CrashLoop, "Deployment", "shop", "checkout")}
		}
		return call("kubectl_describe", `{"name":"checkout","namespace":"shop"}`)(req)
	})
	out := newAgent(t, s, registry(t, desc), Config{MaxSteps: 20}).Investigate(context.Background(), detReport(), InvestigateOptions{})
	if n := len(desc.got()); n != 1 {
		t.Errorf("the tool ran %d times, want once", n)
	}
	reqs := s.got()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4 (call, repeat, repeat, final without tools)", len(reqs))
	}
	if res := reqs[2].toolResults(); !strings.Contains(res[0], "already done") || !strings.Contains(res[0], "kubectl_describe of checkout") {
		t.Errorf("the first repetition is not answered from memory: %q", res)
	}
	if !reqs[3].noTools() {
		t.Errorf("the last request allows tools")
	}
	if !out.LLM.Partial || !strings.Contains(out.LLM.Note, "same arguments 3 times") || out.LLM.Outcome != report.LLMAccepted {
		t.Errorf("stage = partial %v, outcome %s, note %q", out.LLM.Partial, out.LLM.Outcome, out.LLM.Note)
	}
}

func TestInvestigateStepLimitGivesPartialReport(t *testing.T) {
	desc := &recordingTool{name: "kubectl_describe"}
	n := 0
	s := newScriptedLLM(t, func(req *chatRequest) reply {
		if req.noTools() {
			return reply{content: "I could not finish; it looks like a crash loop."}
		}
		n++
		return call("kubectl_describe", fmt.Sprintf(`{"name":"pod-%d","namespace":"shop"}`, n))(req)
	})
	det := detReport()
	out := newAgent(t, s, registry(t, desc), Config{MaxSteps: 3}).Investigate(context.Background(), det, InvestigateOptions{})
	if len(desc.got()) != 3 {
		t.Errorf("tool ran %d times, want 3 (the step limit)", len(desc.got()))
	}
	if out.LLM == nil || !out.LLM.Partial || !strings.Contains(out.LLM.Note, "step limit (3 model requests)") {
		t.Fatalf("stage = %+v, want partial with the step limit noted", out.LLM)
	}
	if out.LLM.Outcome != report.LLMCommentary || out.RootCause != det.RootCause {
		t.Errorf("outcome %s, root cause %+v; want commentary and the deterministic root cause", out.LLM.Outcome, out.RootCause)
	}
	if !strings.Contains(out.Sections[report.SectionConclusions], "I could not finish") {
		t.Errorf("the model's text is not shown: %q", out.Sections[report.SectionConclusions])
	}
}

// A model that stops without the JSON is asked once more; then its text
// is kept.
func TestInvestigateNoFinalJSONAsksOnce(t *testing.T) {
	s := newScriptedLLM(t, say("The pod crashes because the database is down."), say("As I said, the database is down."))
	det := detReport()
	out := newAgent(t, s, registry(t), Config{}).Investigate(context.Background(), det, InvestigateOptions{})
	reqs := s.got()
	if len(reqs) != 2 || !strings.Contains(reqs[1].last(), "only the final JSON object") {
		t.Fatalf("%d requests; want 2, the second asking for the JSON", len(reqs))
	}
	if out.LLM.Outcome != report.LLMCommentary || out.LLM.Commentary != "As I said, the database is down." || out.RootCause != det.RootCause {
		t.Errorf("stage %+v, root cause %+v", out.LLM, out.RootCause)
	}
	// Asked again, it answers properly.
	s = newScriptedLLM(t, say("The database is down."), say(finalJSON(report.CrashLoop, "Deployment", "shop", "checkout")))
	out = newAgent(t, s, registry(t), Config{}).Investigate(context.Background(), det, InvestigateOptions{})
	if out.LLM.Outcome != report.LLMAccepted {
		t.Errorf("outcome after the nudge = %s", out.LLM.Outcome)
	}
}

func TestInvestigateTrustChecks(t *testing.T) {
	f := func(name string, det *report.Report, answer string, wantOutcome string, wantNote string) {
		t.Helper()
		s := newScriptedLLM(t, say(answer))
		out := newAgent(t, s, registry(t), Config{}).Investigate(context.Background(), det, InvestigateOptions{})
		if out.LLM.Outcome != wantOutcome || !strings.Contains(out.LLM.Note, wantNote) {
			t.Errorf("%s: outcome %s, note %q; want %s with %q", name, out.LLM.Outcome, out.LLM.Note, wantOutcome, wantNote)
		}
		if wantOutcome != report.LLMAccepted && out.RootCause != det.RootCause {
			t.Errorf("%s: root cause changed to %+v", name, out.RootCause)
		}
	}
	f("category outside the taxonomy", detReport(), finalJSON("memory-leak", "Deployment", "shop", "checkout"), report.LLMCommentary, `"memory-leak" is not in the taxonomy`)
	f("invented culprit", detReport(), finalJSON(report.CrashLoop, "Deployment", "shop", "checkout-v2"), report.LLMCommentary, "Deployment/shop/checkout-v2 does not exist")
	f("no culprit", detReport(), finalJSON(report.CrashLoop, "", "", ""), report.LLMCommentary, "no culprit")
	f("culprit from the evidence", detReport(), finalJSON(report.CrashLoop, "deployment", "shop", "checkout"), report.LLMAccepted, "")
	confident := detReport()
	confident.RootCause = report.RootCause{Category: report.OOMKilled, Object: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "checkout"}, Confidence: 0.9}
	f("disagrees with a confident engine", confident, finalJSON(report.CrashLoop, "Deployment", "shop", "checkout"), report.LLMCommentary, "disagrees")
	f("agrees with a confident engine", confident, finalJSON(report.OOMKilled, "Deployment", "shop", "checkout"), report.LLMAccepted, "")
}

// An object the evidence does not name is trusted when the cluster has it.
func TestInvestigateCulpritCheckedAgainstTheCluster(t *testing.T) {
	exists := map[string]bool{"Deployment/shop/payments": true}
	checker := checkerFunc(func(_ context.Context, r report.Ref) (bool, error) { return exists[r.String()], nil })
	for _, tc := range []struct {
		name, outcome string
	}{{"payments", report.LLMAccepted}, {"ghost", report.LLMCommentary}} {
		s := newScriptedLLM(t, say(finalJSON(report.DependencyFailure, "Deployment", "shop", tc.name)))
		out := newAgent(t, s, registry(t), Config{Checker: checker}).Investigate(context.Background(), detReport(), InvestigateOptions{})
		if out.LLM.Outcome != tc.outcome {
			t.Errorf("culprit %s: outcome %s (%s), want %s", tc.name, out.LLM.Outcome, out.LLM.Note, tc.outcome)
		}
	}
}

type checkerFunc func(context.Context, report.Ref) (bool, error)

func (f checkerFunc) Exists(ctx context.Context, r report.Ref) (bool, error) { return f(ctx, r) }
