package report

// Outcomes of the LLM stage.
const (
	// LLMAccepted: the model's answer passed the checks and was used.
	LLMAccepted = "accepted"
	// LLMCommentary: the model's answer was kept as commentary only; the
	// deterministic root cause stands (it disagreed with a confident
	// deterministic answer, or named a category or object that failed the
	// checks, or gave no structured answer).
	LLMCommentary = "commentary"
	// LLMFailed: the model could not be used (unreachable, timed out,
	// refused); the deterministic report stands, with the reason.
	LLMFailed = "failed"
)

// LLMStage records the model stage of an investigation.
type LLMStage struct {
	Model string `json:"model"`
	// Outcome is one of the LLM constants.
	Outcome string `json:"outcome"`
	// Partial says the stage was cut short: the step limit, a repeated
	// call, the deadline. The answer then rests on fewer tool calls.
	Partial bool `json:"partial,omitempty"`
	// Note says in words what happened when it was not a plain success.
	Note string `json:"note,omitempty"`
	// Commentary is the model's text when it was not taken as the answer.
	Commentary string `json:"commentary,omitempty"`
	// Analysis is the model's answer rendered as markdown.
	Analysis string `json:"analysis,omitempty"`
	// Calls is the number of model requests; PromptTokens and
	// CompletionTokens add up the server's counts (or sleuth's own when a
	// server reports none); MaxPromptTokens is the largest single prompt.
	Calls            int `json:"calls"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	MaxPromptTokens  int `json:"max_prompt_tokens"`
	// Budget is the prompt budget in force at the end (the context minus
	// the output reservation, lowered when the server said its context is
	// smaller); Counter names how tokens were counted.
	Budget  int    `json:"budget_tokens"`
	Counter string `json:"token_counter"`
	// WallMS is the stage's wall time; ModelMS the part spent waiting for
	// the model; the rest is sleuth's own work and the tools.
	WallMS  float64 `json:"wall_ms"`
	ModelMS float64 `json:"model_ms"`
	// Steps are the conversation, bounded.
	Steps []LLMStep `json:"steps,omitempty"`
}

// LLMStep is one event of the model stage's conversation.
type LLMStep struct {
	// Step is the model request it belongs to, from 1.
	Step int `json:"step"`
	// Kind is "assistant" (the model's words), "tool_call" (a call and its
	// result) or "note" (what sleuth told the model: a retry, a
	// correction).
	Kind       string `json:"kind"`
	Text       string `json:"text,omitempty"`
	Tool       string `json:"tool,omitempty"`
	Arguments  string `json:"arguments,omitempty"`
	ToolCallID string `json:"tool_call_id,omitempty"`
	Status     string `json:"status,omitempty"`
	// PromptTokens is the request's size, for "assistant" steps.
	PromptTokens int `json:"prompt_tokens,omitempty"`
}
