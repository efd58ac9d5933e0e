package agent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/core"
)

func TestChatStreamsStepsAndReturnsHistory(t *testing.T) {
	desc := &recordingTool{name: "kubectl_describe"}
	s := newScriptedLLM(t,
		func(*chatRequest) reply {
			return reply{content: "Looking at the pod.", calls: []llm.ToolCall{{ID: "c1", Type: "function",
				Function: llm.FunctionCall{Name: "kubectl_describe", Arguments: `{"name":"checkout"}`}}}}
		},
		say("**checkout** is crash looping: exit code 1."))
	var kinds []StepKind
	var toolResult string
	res, err := newAgent(t, s, registry(t, desc), Config{}).Chat(context.Background(), ChatRequest{
		Ask: "Why is checkout down?",
		OnStep: func(st Step) {
			kinds = append(kinds, st.Kind)
			if st.Kind == StepToolResult {
				toolResult = st.Result
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []StepKind{StepTokenCount, StepMessage, StepToolStart, StepToolResult, StepTokenCount, StepMessage}
	if strings.Join(stepNames(kinds), ",") != strings.Join(stepNames(want), ",") {
		t.Errorf("steps = %v, want %v", kinds, want)
	}
	if toolResult != "kubectl_describe of checkout" {
		t.Errorf("streamed tool result = %q", toolResult)
	}
	if res.Answer != "**checkout** is crash looping: exit code 1." || res.Stage.Calls != 2 || len(res.ToolCalls) != 1 {
		t.Errorf("result = %+v", res)
	}
	roles := []string{}
	for _, m := range res.History {
		roles = append(roles, m.Role)
	}
	if strings.Join(roles, ",") != "system,user,assistant,tool,assistant" {
		t.Errorf("history roles = %v", roles)
	}

	// The next turn sends the history back; the model sees the earlier
	// exchange, under the current system prompt.
	s2 := newScriptedLLM(t, func(req *chatRequest) reply {
		if len(req.Messages) != 6 || req.content(3) != "kubectl_describe of checkout" || req.last() != "And payments?" {
			t.Errorf("follow-up request has %d messages, last %q", len(req.Messages), req.last())
		}
		return reply{content: "payments is fine."}
	})
	res2, err := newAgent(t, s2, registry(t, desc), Config{}).Chat(context.Background(), ChatRequest{Ask: "And payments?", History: res.History})
	if err != nil || res2.Answer != "payments is fine." || len(res2.History) != 7 {
		t.Errorf("follow-up: %v, %+v", err, res2)
	}
}

func stepNames(k []StepKind) []string {
	out := make([]string, len(k))
	for i, s := range k {
		out[i] = string(s)
	}
	return out
}

// A follow-up about an investigation gets its digest.
func TestChatAboutAnInvestigation(t *testing.T) {
	s := newScriptedLLM(t, func(req *chatRequest) reply {
		ctx := req.content(1)
		if !strings.Contains(ctx, "investigation of incident 7") || !strings.Contains(ctx, "container app restarted 12 times") {
			t.Errorf("the investigation is not in the prompt: %q", ctx)
		}
		return reply{content: "Roll back checkout."}
	})
	res, err := newAgent(t, s, registry(t), Config{}).Chat(context.Background(), ChatRequest{Ask: "What should I do?", Investigation: detReport()})
	if err != nil || res.Answer != "Roll back checkout." {
		t.Errorf("%v %+v", err, res)
	}
}

// A refused key is an error the API can map to 401; the step limit is
// not an error.
func TestChatErrors(t *testing.T) {
	s := newScriptedLLM(t, func(*chatRequest) reply { return reply{status: 401, body: `{"error":{"message":"bad key"}}`} })
	_, err := newAgent(t, s, registry(t), Config{}).Chat(context.Background(), ChatRequest{Ask: "hi"})
	var le *llm.Error
	if !errors.As(err, &le) || le.Kind != llm.KindAuth {
		t.Errorf("err = %v, want an auth *llm.Error", err)
	}
	desc := &recordingTool{name: "kubectl_describe"}
	n := 0
	s = newScriptedLLM(t, func(req *chatRequest) reply {
		if req.noTools() {
			return reply{content: "Partial answer."}
		}
		n++
		return call("kubectl_describe", `{"name":"p`+strings.Repeat("x", n)+`"}`)(req)
	})
	res, err := newAgent(t, s, registry(t, desc), Config{MaxSteps: 2}).Chat(context.Background(), ChatRequest{Ask: "hi"})
	if err != nil || !res.Stage.Partial || res.Answer != "Partial answer." {
		t.Errorf("step limit: %v, %+v", err, res)
	}
}

// The system prompt with every built-in tool's schema stays under 1,500
// tokens, so that most of an 8K context is left for evidence.
func TestPromptSizeWithCoreTools(t *testing.T) {
	reg := &tools.Registry{}
	for _, ts := range core.Toolsets(core.Backends{}) {
		ts.Enabled = true // as with every backend configured
		if err := reg.Add(ts); err != nil {
			t.Fatal(err)
		}
	}
	s := newScriptedLLM(t, say("{}"))
	a := newAgent(t, s, reg, Config{})
	for name, system := range map[string]string{"investigate": investigateSystem("", nil), "chat": chatSystem("")} {
		r := a.newRun(system, nil)
		n := r.fixed(true)
		t.Logf("%s: system prompt %d + %d tools %d = %d tokens (%s)", name, r.count(system), len(r.specs), r.specTokens, n, a.cfg.Counter.Name())
		var names []string
		for _, sp := range r.specs {
			names = append(names, sp.Name)
		}
		for _, must := range preferred[:6] {
			if !slices.Contains(names, must) {
				t.Errorf("%s: tool %s left out; the tools are %v", name, must, names)
			}
		}
		if n >= 1500 {
			t.Errorf("%s: system prompt and tool schemas are %d tokens, want under 1500", name, n)
		}
	}
}

func TestReferenceTime(t *testing.T) {
	r := detReport()
	start := r.Alerts[0].StartsAt
	if got := ReferenceTime(r, start.Add(48*3600e9)); !got.Equal(start.Add(3600e9)) {
		t.Errorf("old alert: %v", got)
	}
	if got := ReferenceTime(r, start.Add(600e9)); !got.Equal(start.Add(600e9)) {
		t.Errorf("recent alert: %v", got)
	}
	_ = report.Unknown
}
