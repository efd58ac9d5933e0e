package holmes

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// checkChat validates the fields every chat request shares; it writes the
// error and returns false when the request cannot be answered.
func (a *API) checkChat(w http.ResponseWriter, q *ChatRequest) bool {
	if q.Ask == nil || strings.TrimSpace(*q.Ask) == "" {
		missing(w, "ask")
		return false
	}
	// HolmesGPT's rule: a history starts with the system message it sent.
	if len(q.ConversationHistory) > 0 && q.ConversationHistory[0].Role != llm.RoleSystem {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []fieldError{{Loc: []string{"body", "conversation_history", "0", "role"},
			Msg: "the first message of conversation_history must be the system message", Type: "value_error"}}})
		return false
	}
	if err := a.checkModel(q.Model); err != nil {
		writeDetail(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

func (a *API) handleChat(w http.ResponseWriter, r *http.Request) {
	var q ChatRequest
	if !decode(w, r, &q) || !a.checkChat(w, &q) {
		return
	}
	a.chat(w, r, &q, "")
}

// maxIssueContext bounds the earlier investigation an issue chat carries
// into the prompt: the model's context is the scarce resource.
const maxIssueContext = 6 << 10

func (a *API) handleIssueChat(w http.ResponseWriter, r *http.Request) {
	var q IssueChatRequest
	if !decode(w, r, &q) || !a.checkChat(w, &q.ChatRequest) {
		return
	}
	var b strings.Builder
	if q.IssueType != "" {
		fmt.Fprintf(&b, "The question is about an issue of type %s.\n", q.IssueType)
	}
	if res := q.InvestigationResult.Result; res != "" {
		fmt.Fprintf(&b, "An earlier investigation of it concluded:\n%s\n", res)
	}
	for _, t := range q.InvestigationResult.Tools {
		fmt.Fprintf(&b, "Tool %s (%s) returned:\n%s\n", t.Name, t.Description, t.Output)
	}
	extra, _ := toolcall.Truncate(b.String(), maxIssueContext)
	a.chat(w, r, &q.ChatRequest, extra)
}

// chat answers plainly or as a stream.
func (a *API) chat(w http.ResponseWriter, r *http.Request, q *ChatRequest, issueContext string) {
	system := strings.TrimSpace(strings.Join([]string{q.AdditionalSystemPrompt, issueContext}, "\n\n"))
	var s *sse
	req := agent.ChatRequest{Ask: *q.Ask, History: q.ConversationHistory, AdditionalSystemPrompt: system}
	if q.Stream {
		s = startSSE(w)
		req.OnStep = func(st agent.Step) { streamStep(s, st) }
	}
	var resp *ChatResponse
	if a.o.Agent == nil {
		resp = a.noModelAnswer(r.Context(), q)
	} else {
		res, err := a.o.Agent.Chat(r.Context(), req)
		if err != nil {
			code := llmStatus(err)
			a.o.Log.Warn("holmes api: chat failed", "err", err)
			if s != nil {
				s.fail(code, err)
				return
			}
			writeDetail(w, code, err.Error())
			return
		}
		resp = &ChatResponse{
			Analysis: res.Answer, ConversationHistory: res.History, ToolCalls: toolCalls(res.ToolCalls, true, true),
			FollowUpActions: []any{}, PendingApprovals: []any{},
			Metadata: map[string]any{
				"model": res.Stage.Model, "outcome": res.Stage.Outcome, "partial": res.Stage.Partial, "note": res.Stage.Note,
				"usage": map[string]int{"prompt_tokens": res.Stage.PromptTokens, "completion_tokens": res.Stage.CompletionTokens, "total_tokens": res.Stage.PromptTokens + res.Stage.CompletionTokens},
			},
		}
	}
	if s != nil {
		s.event("ai_answer_end", map[string]any{"analysis": resp.Analysis, "conversation_history": resp.ConversationHistory,
			"follow_up_actions": resp.FollowUpActions, "metadata": resp.Metadata})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// streamStep forwards a loop event; the agent's step kinds are HolmesGPT's
// event names.
func streamStep(s *sse, st agent.Step) {
	switch st.Kind {
	case agent.StepToolStart:
		s.event(string(st.Kind), map[string]any{"tool_name": st.ToolName, "id": st.ToolCallID})
	case agent.StepToolResult:
		data := st.Result
		inv := st.Description
		s.event(string(st.Kind), map[string]any{"tool_call_id": st.ToolCallID, "role": "tool", "description": st.Description, "name": st.ToolName,
			"result": ToolResult{SchemaVersion: "robusta:v1.0.0", Status: string(st.Status), Data: &data, Invocation: &inv, Params: map[string]string{}}})
	case agent.StepMessage:
		s.event(string(st.Kind), map[string]any{"content": st.Content, "reasoning": st.Reasoning, "metadata": map[string]any{}})
	case agent.StepTokenCount:
		s.event(string(st.Kind), map[string]any{"metadata": map[string]any{"usage": map[string]int{
			"prompt_tokens": st.Totals.PromptTokens, "completion_tokens": st.Totals.CompletionTokens,
			"total_tokens": st.Totals.PromptTokens + st.Totals.CompletionTokens}}})
	}
}

// noModelAnswer answers a question without a model: what sleuth knows for
// certain, the open incidents and their deterministic root causes, and
// how to get free-form answers.
func (a *API) noModelAnswer(ctx context.Context, q *ChatRequest) *ChatResponse {
	var b strings.Builder
	b.WriteString("No model is configured (llm.url), so sleuth cannot answer free-form questions. ")
	b.WriteString("Alerts are still investigated deterministically; POST /api/investigate or see /api/investigations.\n")
	if incs, err := a.o.Store.Incidents(ctx, store.Filter{State: store.IncidentOpen, Limit: 10}); err == nil && len(incs) > 0 {
		b.WriteString("\nOpen incidents:\n")
		for _, in := range incs {
			fmt.Fprintf(&b, "- #%d %s", in.ID, in.AlertName)
			if in.Namespace != "" {
				fmt.Fprintf(&b, " in %s", in.Namespace)
			}
			if in.Workload != "" {
				fmt.Fprintf(&b, " (%s)", in.Workload)
			}
			if in.LastInvestigationID != 0 {
				fmt.Fprintf(&b, ": investigation %d", in.LastInvestigationID)
			}
			b.WriteString("\n")
		}
	}
	text := b.String()
	history := append([]llm.Message{}, q.ConversationHistory...)
	if len(history) == 0 {
		history = append(history, llm.Message{Role: llm.RoleSystem, Content: "sleuth (no model configured)"})
	}
	history = append(history, llm.Message{Role: llm.RoleUser, Content: *q.Ask}, llm.Message{Role: llm.RoleAssistant, Content: text})
	return &ChatResponse{Analysis: text, ConversationHistory: history, ToolCalls: []ToolCallResult{}, FollowUpActions: []any{},
		PendingApprovals: []any{}, Metadata: map[string]any{"model": nil, "outcome": "no_model"}}
}
