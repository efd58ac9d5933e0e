// Package tools provides the contract between the tools a model (or a
// client) may call and the loops that call them: a tool's name, its
// description and JSON-schema parameters, and a bounded, read-only Run.
// Toolsets (kubernetes, metrics, logs, runbooks, custom YAML toolsets, bash,
// knowledge base) implement Tool; the LLM loop and the HolmesGPT API list
// and run them through a Registry.
package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Tool is one callable tool.
type Tool interface {
	// Name is unique in a registry: [a-z0-9_]+, e.g. "kubectl_describe".
	Name() string
	// Description is one or two sentences for the model.
	Description() string
	// Parameters is a JSON schema of an object (type "object" with
	// "properties" and "required"); nil means no parameters.
	Parameters() json.RawMessage
	// Run executes the call with the decoded arguments. It must be
	// read-only, honour ctx, and bound its own output; an error is shown to
	// the caller as the tool's result.
	Run(ctx context.Context, args map[string]any) (Result, error)
}

// Result is what a tool returns.
type Result struct {
	// Text is the answer as the model reads it.
	Text string
	// Truncated says the source already cut Text.
	Truncated bool
	// NoData says the call succeeded and found nothing.
	NoData bool
	// Description is the rerunnable one-liner ("kubectl get pod -n shop x").
	Description string
	// URL reruns the call where the backend has one.
	URL string
}

// Toolset is a named group of tools that is enabled or disabled as one,
// with the reason when disabled (a failed prerequisite, a missing backend).
type Toolset struct {
	Name        string
	Description string
	Enabled     bool
	// Reason says why the toolset is disabled.
	Reason string
	// Instructions tell the model how to use the toolset (HolmesGPT's
	// llm_instructions); the prompt carries them when it is enabled.
	Instructions string
	Tools        []Tool
}

// Registry holds toolsets. It is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	toolsets []Toolset
}

// Add adds a toolset. Adding a tool whose name is already taken by an
// enabled toolset is an error naming both.
func (r *Registry) Add(ts Toolset) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ts.Enabled {
		for _, t := range ts.Tools {
			if owner := r.ownerLocked(t.Name()); owner != "" {
				return fmt.Errorf("toolset %q: tool %q is already provided by toolset %q", ts.Name, t.Name(), owner)
			}
		}
	}
	r.toolsets = append(r.toolsets, ts)
	return nil
}

func (r *Registry) ownerLocked(name string) string {
	for _, ts := range r.toolsets {
		if !ts.Enabled {
			continue
		}
		for _, t := range ts.Tools {
			if t.Name() == name {
				return ts.Name
			}
		}
	}
	return ""
}

// Toolsets returns the toolsets, enabled or not, in the order added.
func (r *Registry) Toolsets() []Toolset {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.toolsets)
}

// Tools returns the tools of the enabled toolsets, sorted by name.
func (r *Registry) Tools() []Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Tool
	for _, ts := range r.toolsets {
		if ts.Enabled {
			out = append(out, ts.Tools...)
		}
	}
	slices.SortFunc(out, func(a, b Tool) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// Get returns the enabled tool called name.
func (r *Registry) Get(name string) (Tool, bool) {
	for _, t := range r.Tools() {
		if t.Name() == name {
			return t, true
		}
	}
	return nil, false
}

// UnknownToolError is returned for a tool name no enabled toolset has; its
// message lists the real ones so a model can correct itself.
type UnknownToolError struct {
	Name  string
	Known []string
}

func (e *UnknownToolError) Error() string {
	return fmt.Sprintf("unknown tool %q; the tools are: %s", e.Name, strings.Join(e.Known, ", "))
}

// Run runs the enabled tool called name.
func (r *Registry) Run(ctx context.Context, name string, args map[string]any) (Result, error) {
	t, ok := r.Get(name)
	if !ok {
		var known []string
		for _, t := range r.Tools() {
			known = append(known, t.Name())
		}
		return Result{}, &UnknownToolError{Name: name, Known: known}
	}
	return t.Run(ctx, args)
}

type nowKey struct{}

// WithNow returns a context carrying the reference time of an
// investigation: tools read time windows ("the last hour") relative to it,
// so that an alert replayed from the past is read around its own time.
func WithNow(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, nowKey{}, t)
}

// Now returns the reference time WithNow set, else the wall clock.
func Now(ctx context.Context) time.Time {
	if t, ok := ctx.Value(nowKey{}).(time.Time); ok && !t.IsZero() {
		return t
	}
	return time.Now()
}

// PromptNotes renders what the model should know about the toolsets
// beyond the tool schemas, for the system prompt: each enabled toolset's
// instructions, and each disabled one with the reason, so that the model
// neither calls what is missing nor concludes that a check passed when it
// could not run. "" when there is nothing to say.
func (r *Registry) PromptNotes() string {
	var b strings.Builder
	for _, ts := range r.Toolsets() {
		switch {
		case ts.Enabled && ts.Instructions != "":
			fmt.Fprintf(&b, "- %s: %s\n", ts.Name, strings.TrimSpace(ts.Instructions))
		case !ts.Enabled:
			fmt.Fprintf(&b, "- %s is unavailable: %s\n", ts.Name, ts.Reason)
		}
	}
	return b.String()
}
