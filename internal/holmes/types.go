package holmes

import (
	"encoding/json"

	"github.com/sleuth-sre/sleuth/internal/llm"
)

// The wire types, with HolmesGPT's field names exactly.

// Subject is what an investigation is about.
type Subject struct {
	Name        string            `json:"name,omitempty"`
	SubjectType string            `json:"subject_type,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Node        string            `json:"node,omitempty"`
	Container   string            `json:"container,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// InvestigateRequest is the body of /api/investigate and
// /api/stream/investigate.
type InvestigateRequest struct {
	Source                 *string           `json:"source"`
	Title                  *string           `json:"title"`
	Description            *string           `json:"description"`
	Subject                Subject           `json:"subject"`
	Context                map[string]any    `json:"context"`
	SourceInstanceID       string            `json:"source_instance_id"`
	IncludeToolCalls       bool              `json:"include_tool_calls"`
	IncludeToolCallResults bool              `json:"include_tool_call_results"`
	PromptTemplate         string            `json:"prompt_template"`
	Sections               map[string]string `json:"sections"`
	Model                  string            `json:"model"`
}

// ToolResult is HolmesGPT's StructuredToolResult.
type ToolResult struct {
	SchemaVersion string            `json:"schema_version"`
	Status        string            `json:"status"`
	Error         *string           `json:"error"`
	ReturnCode    *int              `json:"return_code"`
	Data          *string           `json:"data"`
	URL           *string           `json:"url"`
	Invocation    *string           `json:"invocation"`
	Params        map[string]string `json:"params"`
}

// ToolCallResult is one tool call of an answer.
type ToolCallResult struct {
	ToolCallID  string     `json:"tool_call_id"`
	ToolName    string     `json:"tool_name"`
	Description string     `json:"description"`
	Result      ToolResult `json:"result"`
	Size        int        `json:"size"`
}

// InvestigationResult is the answer of /api/investigate.
type InvestigationResult struct {
	Analysis     string             `json:"analysis"`
	Sections     map[string]*string `json:"sections"`
	ToolCalls    []ToolCallResult   `json:"tool_calls"`
	Instructions []string           `json:"instructions"`
	Metadata     map[string]any     `json:"metadata"`
}

// ToolDecision approves or refuses a pending tool call.
type ToolDecision struct {
	ToolCallID string `json:"tool_call_id"`
	Approved   bool   `json:"approved"`
}

// ChatRequest is the body of /api/chat.
type ChatRequest struct {
	Ask                    *string           `json:"ask"`
	ConversationHistory    []llm.Message     `json:"conversation_history"`
	Model                  string            `json:"model"`
	Stream                 bool              `json:"stream"`
	AdditionalSystemPrompt string            `json:"additional_system_prompt"`
	EnableToolApproval     bool              `json:"enable_tool_approval"`
	ToolDecisions          []ToolDecision    `json:"tool_decisions"`
	Images                 []json.RawMessage `json:"images"`
	ResponseFormat         json.RawMessage   `json:"response_format"`
	BehaviorControls       map[string]bool   `json:"behavior_controls"`
}

// IssueChatRequest is the body of /api/issue_chat.
type IssueChatRequest struct {
	ChatRequest
	InvestigationResult struct {
		Result string `json:"result"`
		Tools  []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Output      string `json:"output"`
		} `json:"tools"`
	} `json:"investigation_result"`
	IssueType string `json:"issue_type"`
}

// ChatResponse is the answer of /api/chat and /api/issue_chat.
type ChatResponse struct {
	Analysis            string           `json:"analysis"`
	ConversationHistory []llm.Message    `json:"conversation_history"`
	ToolCalls           []ToolCallResult `json:"tool_calls"`
	FollowUpActions     []any            `json:"follow_up_actions"`
	PendingApprovals    []any            `json:"pending_approvals"`
	Metadata            map[string]any   `json:"metadata"`
}
