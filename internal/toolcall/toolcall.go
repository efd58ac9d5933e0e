// Package toolcall provides the record of a tool call: which tool was asked
// what, of which backend, how it went and a bounded excerpt of the answer,
// so that a report can cite it and a reader can run it again.
package toolcall

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// Status is the outcome of a call, with HolmesGPT's names.
type Status string

// Statuses.
const (
	Success Status = "success"
	NoData  Status = "no_data"
	Error   Status = "error"
)

// DefaultExcerptBytes bounds the excerpt a call keeps: enough for a report
// to quote, small enough that hundreds of calls fit in one stored report.
const DefaultExcerptBytes = 4 << 10

// Call is one recorded tool call.
type Call struct {
	ID      string `json:"id"`
	Tool    string `json:"tool"`    // e.g. "kubernetes.get", "metrics.query_range"
	Backend string `json:"backend"` // kubernetes, prometheus, victorialogs
	// Args are the call's arguments, rendered as strings.
	Args map[string]string `json:"args,omitempty"`
	// Description is the one-line rendering a person reads and could rerun,
	// such as "kubectl get pod -n shop checkout-7d9f8b6c5d-x2k4p".
	Description string    `json:"description"`
	Status      Status    `json:"status"`
	Error       string    `json:"error,omitempty"`
	Started     time.Time `json:"started_at"`
	DurationMS  float64   `json:"duration_ms"`
	// Excerpt is the start of the answer, at most the recorder's bound.
	Excerpt string `json:"excerpt,omitempty"`
	// Bytes is the size of the whole answer; Truncated says the excerpt
	// (or the answer itself, at the source) is not all of it.
	Bytes     int  `json:"bytes"`
	Truncated bool `json:"truncated,omitempty"`
	// URL reruns the call where the backend has one (a query link).
	URL string `json:"url,omitempty"`
}

// Recorder collects the calls of one investigation. It is safe for
// concurrent use; a nil *Recorder records nothing.
type Recorder struct {
	mu         sync.Mutex
	calls      []Call
	maxExcerpt int
	now        func() time.Time
	observe    Observer
}

// Observer is told about each call as it is recorded: the live stream of
// an investigation and the tool-call metrics. It runs on the recording
// goroutine, in the order the calls get their IDs, so it must not block
// or call back into the recorder.
type Observer func(Call)

type observerKey struct{}

// WithObserver returns a context whose tool calls are reported to obs, after
// any observer ctx already has. Like net/http/httptrace, it reaches the
// recorders an investigator makes deep inside, which no parameter of the
// queue's Investigator interface could.
func WithObserver(ctx context.Context, obs Observer) context.Context {
	if obs == nil {
		return ctx
	}
	if prev := ObserverFrom(ctx); prev != nil {
		next := obs
		obs = func(c Call) { prev(c); next(c) }
	}
	return context.WithValue(ctx, observerKey{}, obs)
}

// ObserverFrom returns the observer of ctx, nil when it has none.
func ObserverFrom(ctx context.Context) Observer {
	obs, _ := ctx.Value(observerKey{}).(Observer)
	return obs
}

// Observe makes r report every call it records to obs (nil: none) and
// returns r, as in
//
//	rec := toolcall.NewRecorder(0, now).Observe(toolcall.ObserverFrom(ctx))
func (r *Recorder) Observe(obs Observer) *Recorder {
	if r != nil {
		r.mu.Lock()
		r.observe = obs
		r.mu.Unlock()
	}
	return r
}

// NewRecorder returns a recorder keeping excerpts of at most maxExcerpt
// bytes (0: DefaultExcerptBytes).
func NewRecorder(maxExcerpt int, now func() time.Time) *Recorder {
	if maxExcerpt <= 0 {
		maxExcerpt = DefaultExcerptBytes
	}
	if now == nil {
		now = time.Now
	}
	return &Recorder{maxExcerpt: maxExcerpt, now: now}
}

// Start begins a call; finish it with Pending.Done. Tools use it as
//
//	p := rec.Start("metrics.query", "prometheus", args, desc)
//	... p.Done(toolcall.Success, body, nil)
func (r *Recorder) Start(tool, backend string, args map[string]string, description string) *Pending {
	if r == nil {
		return nil
	}
	return &Pending{r: r, c: Call{Tool: tool, Backend: backend, Args: args, Description: description, Started: r.now()}}
}

// Pending is a call in progress.
type Pending struct {
	r *Recorder
	c Call
}

// SetURL sets the rerun link.
func (p *Pending) SetURL(u string) {
	if p != nil {
		p.c.URL = u
	}
}

// Done records the outcome and returns the call's ID ("" for a nil
// Pending). answer is the whole answer or its bounded start; truncated says
// the source already cut it. A non-nil err makes the status Error.
func (p *Pending) Done(status Status, answer string, truncated bool, err error) string {
	if p == nil {
		return ""
	}
	c := p.c
	c.DurationMS = float64(p.r.now().Sub(c.Started).Microseconds()) / 1000
	c.Status = status
	if err != nil {
		c.Status, c.Error = Error, err.Error()
	}
	c.Bytes = len(answer)
	c.Excerpt, c.Truncated = Truncate(answer, p.r.maxExcerpt)
	c.Truncated = c.Truncated || truncated
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	c.ID = fmt.Sprintf("call-%d", len(p.r.calls)+1)
	p.r.calls = append(p.r.calls, c)
	if p.r.observe != nil {
		// Under the lock, so that observers see the calls in ID order.
		p.r.observe(c)
	}
	return c.ID
}

// Calls returns a copy of the recorded calls in the order they finished.
func (r *Recorder) Calls() []Call {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Truncate cuts s to at most max bytes on a UTF-8 boundary and reports
// whether it cut.
func Truncate(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// Finish records the outcome of a call the way every toolset does: an
// error is Error, an empty answer NoData, anything else Success. render is
// called only on success and only when recording, so that a toolset
// without a recorder does not render its answer for nothing.
func (p *Pending) Finish(err error, empty, truncated bool, render func() string) string {
	if p == nil {
		return ""
	}
	if err != nil {
		return p.Done(Error, "", false, err)
	}
	status := Success
	if empty {
		status = NoData
	}
	return p.Done(status, render(), truncated, nil)
}
