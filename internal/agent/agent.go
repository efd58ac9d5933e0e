// Package agent provides sleuth's LLM loop: after the deterministic
// engine has answered, a model gets the alert, the matched runbooks, the
// analyzers' findings and a digest of the evidence, may call the
// read-only tools of a tools.Registry, and finishes with a report in a
// fixed JSON schema, which is checked against the evidence before it is
// trusted. The same loop answers free questions (Chat).
//
// The loop is built for local models with small contexts: every request
// fits the configured context minus the output reservation (older tool
// results are summarised first), tool results are bounded and logs folded,
// tool calls written as text are executed, bad arguments and invented tool
// names go back to the model as errors it can correct, a repeated call is
// answered from memory and a third repetition ends the loop, and the step
// limit yields a partial answer, never an error. Secrets are redacted from
// everything sent to the model.
package agent

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// Completer is what the loop needs of a model client; *llm.Client is one.
type Completer interface {
	Complete(ctx context.Context, req llm.Request) (*llm.Response, error)
	Model() string
}

// ObjectChecker tells whether a Kubernetes object exists: the trust check
// of a culprit the model names.
type ObjectChecker interface {
	Exists(ctx context.Context, ref report.Ref) (bool, error)
}

// Defaults of Config.
const (
	DefaultContextTokens   = 8192
	DefaultMaxOutputTokens = 1024
	DefaultMaxSteps        = 10
	DefaultPromptTokens    = 1500
)

// Config tunes the loop. Zero values take the defaults.
type Config struct {
	// ContextTokens is the model's context as the server loaded it.
	ContextTokens int
	// MaxOutputTokens is reserved for each answer; the prompt gets the
	// rest.
	MaxOutputTokens int
	// MaxSteps bounds the model requests that may call tools.
	MaxSteps int
	// PromptTokens bounds the system prompt with the tool schemas
	// (default 1500): tools that do not fit are left out, the least
	// needed first, so that most of a small context is left for evidence.
	PromptTokens int
	// Counter counts tokens (nil: llm.CounterFor the model).
	Counter llm.Counter
	// Checker verifies culprits (nil: only objects already in the evidence
	// are trusted).
	Checker ObjectChecker
	// ToolTimeout bounds one tool call (default 30s).
	ToolTimeout time.Duration
	Log         *slog.Logger
	Now         func() time.Time
}

// Agent runs the loop. It is safe for concurrent use; each Investigate or
// Chat is independent.
type Agent struct {
	llm   Completer
	tools *tools.Registry
	cfg   Config
}

// New returns an agent calling model c with the tools of reg (nil: none).
func New(c Completer, reg *tools.Registry, cfg Config) *Agent {
	if cfg.ContextTokens <= 0 {
		cfg.ContextTokens = DefaultContextTokens
	}
	if cfg.MaxOutputTokens <= 0 {
		cfg.MaxOutputTokens = DefaultMaxOutputTokens
	}
	if cfg.MaxOutputTokens > cfg.ContextTokens/2 {
		cfg.MaxOutputTokens = cfg.ContextTokens / 2
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = DefaultMaxSteps
	}
	if cfg.PromptTokens <= 0 {
		cfg.PromptTokens = DefaultPromptTokens
	}
	if cfg.Counter == nil {
		cfg.Counter = llm.CounterFor(c.Model())
	}
	if cfg.ToolTimeout <= 0 {
		cfg.ToolTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if reg == nil {
		reg = &tools.Registry{}
	}
	return &Agent{llm: c, tools: reg, cfg: cfg}
}

// Model returns the model's name.
func (a *Agent) Model() string { return a.llm.Model() }

// StepKind names a streamed event; the values are HolmesGPT's SSE event
// names, so that its streaming API can forward them as they are.
type StepKind string

// Step kinds.
const (
	// StepToolStart: a tool call begins (ToolName, ToolCallID, Arguments).
	StepToolStart StepKind = "start_tool_calling"
	// StepToolResult: a tool call ended (ToolCallID, ToolName,
	// Description, Result, Status).
	StepToolResult StepKind = "tool_calling_result"
	// StepMessage: the model said something on the way (Content,
	// Reasoning).
	StepMessage StepKind = "ai_message"
	// StepTokenCount: a model request finished (PromptTokens,
	// CompletionTokens, the running totals in Totals).
	StepTokenCount StepKind = "token_count"
)

// Step is one streamed event of a running loop.
type Step struct {
	Kind StepKind
	// Number is the model request the event belongs to, from 1.
	Number      int
	ToolCallID  string
	ToolName    string
	Arguments   string
	Description string
	// Result is the tool's answer as the model saw it.
	Result string
	Status toolcall.Status
	// Content and Reasoning are the model's words.
	Content   string
	Reasoning string
	// PromptTokens and CompletionTokens are the request's.
	PromptTokens     int
	CompletionTokens int
	// Totals are the running totals of the loop.
	Totals Totals
}

// Totals sums up a loop's model requests.
type Totals struct {
	Calls            int `json:"calls"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	MaxPromptTokens  int `json:"max_prompt_tokens"`
}

// StepFunc receives the events of a running loop, in order, on the
// loop's goroutine; it must not block for long.
type StepFunc func(Step)

// ReferenceTime is the time an investigation's tools read around: now,
// but no later than an hour after the newest alert started, so that an
// alert replayed from the past (a scenario, a late re-send) is read around
// its own time, as the engine does.
func ReferenceTime(r *report.Report, now time.Time) time.Time {
	var last time.Time
	for _, al := range r.Alerts {
		if al.StartsAt.After(last) {
			last = al.StartsAt
		}
	}
	if !last.IsZero() && last.Add(time.Hour).Before(now) {
		return last.Add(time.Hour)
	}
	return now
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	c := n
	for c > 0 && s[c]&0xC0 == 0x80 {
		c--
	}
	return s[:c] + "..."
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
