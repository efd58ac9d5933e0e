package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/redact"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// ChatRequest is a question, possibly continuing a conversation.
type ChatRequest struct {
	Ask string
	// History is the conversation so far in the OpenAI format
	// (HolmesGPT's conversation_history); its system message is replaced
	// by the current one.
	History []llm.Message
	// AdditionalSystemPrompt is appended to the system prompt.
	AdditionalSystemPrompt string
	// Investigation is a report the question is about (a follow-up
	// question referencing an investigation by id); its digest is given to
	// the model.
	Investigation *report.Report
	// OnStep receives the loop's events as they happen.
	OnStep StepFunc
}

// ChatResult is the answer to a question.
type ChatResult struct {
	// Answer is the model's answer in markdown.
	Answer string
	// History is the conversation including the answer, to send back with
	// the next question. Old tool results in it may be summarised.
	History []llm.Message
	// ToolCalls are the calls made for this question.
	ToolCalls []toolcall.Call
	// Stage records tokens, steps, and whether the answer is partial.
	Stage report.LLMStage
}

// Chat answers a question with the tools. The error is an *llm.Error when
// the model could not be used at all (so that an API can answer 401 for
// a refused key, 429 for rate limiting); a step limit or a repeated call
// gives a partial answer, not an error.
func (a *Agent) Chat(ctx context.Context, req ChatRequest) (*ChatResult, error) {
	if strings.TrimSpace(req.Ask) == "" {
		return nil, fmt.Errorf("empty question")
	}
	r := a.newRun(chatSystem(req.AdditionalSystemPrompt), req.OnStep)
	now := a.cfg.Now()
	if req.Investigation != nil {
		now = ReferenceTime(req.Investigation, now)
	}
	ctx = tools.WithNow(ctx, now)
	for _, m := range req.History {
		if m.Role == llm.RoleSystem {
			continue
		}
		m.Content = redact.String(m.Content)
		e := r.add(m, false)
		if m.Role == llm.RoleTool {
			e.summary = "[earlier tool result of " + m.Name + ", summarised to save context: " + clip(oneLine(m.Content), 160) + "]"
		}
	}
	r.linkGroups()
	if req.Investigation != nil {
		share := int(float64(r.limit()-r.fixed(len(r.specs) > 0)) * taskShare)
		ctxText := digest(req.Investigation, fmt.Sprintf("Context: investigation of incident %d, as sleuth reported it.", req.Investigation.IncidentID))
		r.add(llm.Message{Role: llm.RoleUser, Content: llm.TrimToTokens(a.cfg.Counter, ctxText, max(share, minTaskTokens))}, true)
	}
	r.add(llm.Message{Role: llm.RoleUser, Content: redact.String(req.Ask)}, true)
	text, err := r.loop(ctx, func(string) bool { return true }, chatNudge)
	st := r.stage()
	if err != nil {
		st.Outcome = report.LLMFailed
		st.Note = joinNotes(failureNote(err), st.Note)
		return &ChatResult{ToolCalls: r.calls, Stage: st}, err
	}
	st.Outcome = report.LLMAccepted
	st.Analysis = text
	r.add(llm.Message{Role: llm.RoleAssistant, Content: text}, false)
	history := []llm.Message{{Role: llm.RoleSystem, Content: r.system}}
	for _, e := range r.conv {
		history = append(history, e.msg)
	}
	return &ChatResult{Answer: text, History: history, ToolCalls: r.calls, Stage: st}, nil
}

// linkGroups ties the assistant messages of a history to the tool
// messages answering them, so that they are dropped together.
func (r *run) linkGroups() {
	var cur int
	for _, e := range r.conv {
		switch {
		case e.msg.Role == llm.RoleAssistant && len(e.msg.ToolCalls) > 0:
			r.groups++
			cur = r.groups
			e.group = cur
		case e.msg.Role == llm.RoleTool && cur != 0:
			e.group = cur
		default:
			cur = 0
		}
	}
}
