// Package llm provides what sleuth needs to talk to a model behind an
// OpenAI-compatible chat completions API (LM Studio, Ollama, vLLM,
// llama.cpp's server, OpenAI): a client with a per-call timeout and retries
// with backoff over the official Go SDK, errors classified so callers can
// react (a context overflow is not a timeout), recognition of tool calls
// that local models print as text instead of returning them natively, and
// token counting for keeping every request inside a small context.
package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Roles of chat messages.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Message is one chat message in the OpenAI format, which HolmesGPT's
// conversation_history uses as is.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// Name is an optional participant name (or a tool message's tool name,
	// which some servers want).
	Name string `json:"name,omitempty"`
	// ToolCalls are an assistant message's calls.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID links a tool message to the call it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Reasoning is the model's separate reasoning text, when the server
	// returns one (reasoning_content); it is never sent back.
	Reasoning string `json:"-"`
}

// UnmarshalJSON accepts content as a string, null, or a list of content
// parts (the text parts are joined), as clients send them.
func (m *Message) UnmarshalJSON(data []byte) error {
	var raw struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		Name       string          `json:"name"`
		ToolCalls  []ToolCall      `json:"tool_calls"`
		ToolCallID string          `json:"tool_call_id"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*m = Message{Role: raw.Role, Name: raw.Name, ToolCalls: raw.ToolCalls, ToolCallID: raw.ToolCallID}
	c := bytes.TrimSpace(raw.Content)
	switch {
	case len(c) == 0 || string(c) == "null":
	case c[0] == '"':
		return json.Unmarshal(c, &m.Content)
	case c[0] == '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(c, &parts); err != nil {
			return fmt.Errorf("message content: %w", err)
		}
		var b bytes.Buffer
		for _, p := range parts {
			if p.Text == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Text)
		}
		m.Content = b.String()
	default:
		return fmt.Errorf("message content: want a string or a list of parts, got %.20s", c)
	}
	return nil
}

// ToolCall is a call the model asked for.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"` // "function"
	Function FunctionCall `json:"function"`
}

// FunctionCall names the tool and carries its arguments as the model wrote
// them: a JSON object in a string, possibly malformed.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ToolSpec describes a tool to the model.
type ToolSpec struct {
	Name        string
	Description string
	// Parameters is a JSON schema of an object; nil means none.
	Parameters json.RawMessage
}

// Request is one chat completion request.
type Request struct {
	Messages []Message
	Tools    []ToolSpec
	// MaxTokens bounds the answer (0: the client's default).
	MaxTokens int
	// NoTools sends the tools (so the prompt stays the same) but asks the
	// model not to call any (tool_choice "none"): used to get the final
	// answer.
	NoTools bool
}

// Usage is what a call cost, as the server counted it.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Response is the model's answer to a request.
type Response struct {
	// Message is the assistant message; ToolCalls holds the calls the
	// server returned natively (text-form calls are left in Content).
	Message      Message
	FinishReason string
	Usage        Usage
	// Model is the model the server says answered.
	Model string
	// Attempts is how many requests it took (1 without retries).
	Attempts int
}
