// Package progress provides the live progress of running investigations:
// an in-process broker, keyed by investigation ID, that the queue's
// investigator publishes into (the deterministic stage's tool calls as they
// finish, the model stage's loop steps, each attempt's outcome) and that
// the streaming API subscribes to.
//
// Publishing never blocks the worker: each subscriber has a bounded
// buffer, and one that falls behind is dropped (its channel closed, Dropped
// set) rather than waited for. A subscriber that comes after the
// investigation started first gets the events kept so far (a bounded
// backlog), so that the request that queued an investigation, and one
// deduplicated into it, see it from its start.
package progress

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Kind says what an Event is.
type Kind string

// Event kinds.
const (
	// ToolCall: the deterministic stage finished a tool call (Call).
	ToolCall Kind = "tool_call"
	// Step: the model stage's loop did something (Step).
	Step Kind = "step"
	// Retry: the attempt ended without a stored answer and the
	// investigation is queued again (Outcome retry or requeued, Err); the
	// next attempt's events follow.
	Retry Kind = "retry"
	// Done: the investigation is stored with its report. The last event.
	Done Kind = "done"
	// Failed: the investigation failed (Err), or its outcome could not be
	// stored. The last event.
	Failed Kind = "failed"
)

// Event is one step of an investigation's progress.
type Event struct {
	Kind    Kind
	Call    toolcall.Call
	Step    agent.Step
	Outcome string
	Err     string
}

// Defaults of NewBroker.
const (
	// DefaultBuffer is a subscriber's buffer: far more than the events an
	// SSE writer falls behind by while a proxy is briefly slow, few enough
	// that a stuck client costs little before it is dropped.
	DefaultBuffer = 256
	// DefaultBacklog bounds the events kept per running investigation for
	// late subscribers: an investigation's deterministic stage makes tens of
	// calls and its model stage a few events per step.
	DefaultBacklog = 256
)

// Broker passes events from running investigations to their subscribers.
// It is safe for concurrent use. A nil *Broker publishes nothing and its
// subscriptions never receive an event.
type Broker struct {
	buffer, backlog int

	mu     sync.Mutex
	topics map[int64]*topic
	// ended keeps the events of the last investigations that failed,
	// oldest first in endedOrder, so that a client subscribing just after
	// the failure (it can come before the HTTP handler that queued the
	// investigation subscribes) still gets the run and its error; a
	// finished one is replayed from its stored report instead.
	ended      map[int64][]Event
	endedOrder []int64
}

// keepEnded bounds Broker.ended: a subscriber comes within milliseconds of
// queuing, so only the most recent ends need keeping.
const keepEnded = 64

type topic struct {
	subs    map[*Subscription]struct{}
	backlog []Event
	// missed counts the events not kept once the backlog was full.
	missed int
}

// NewBroker returns a broker whose subscribers buffer up to buffer events
// and which keeps up to backlog events per investigation for late
// subscribers (0: the defaults).
func NewBroker(buffer, backlog int) *Broker {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	return &Broker{buffer: buffer, backlog: backlog, topics: map[int64]*topic{}, ended: map[int64][]Event{}}
}

// Subscription receives one investigation's events.
type Subscription struct {
	b       *Broker
	id      int64
	c       chan Event
	missed  int
	dropped atomic.Bool
}

// Events returns the channel of events. It is closed after a Done or Failed
// event, when the subscriber fell behind (Dropped), or by Close.
func (s *Subscription) Events() <-chan Event {
	if s == nil {
		return nil
	}
	return s.c
}

// Missed returns how many events published before Subscribe were not kept
// (the backlog was full).
func (s *Subscription) Missed() int {
	if s == nil {
		return 0
	}
	return s.missed
}

// Dropped reports whether the broker closed the subscription because its
// reader fell behind; events were lost.
func (s *Subscription) Dropped() bool {
	return s != nil && s.dropped.Load()
}

// Close ends the subscription; the investigation goes on. It is safe to
// call more than once.
func (s *Subscription) Close() {
	if s == nil {
		return
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[s.id]
	if t == nil {
		return
	}
	if _, ok := t.subs[s]; ok {
		delete(t.subs, s)
		close(s.c)
	}
	b.forgetLocked(s.id, t)
}

// Subscribe returns a subscription to investigation id's events, starting
// with those kept from before. Close it when done.
func (b *Broker) Subscribe(id int64) *Subscription {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if evs, ok := b.ended[id]; ok && b.topics[id] == nil {
		s := &Subscription{b: b, id: id, c: make(chan Event, len(evs))}
		for _, ev := range evs {
			s.c <- ev
		}
		close(s.c)
		return s
	}
	t := b.topicLocked(id)
	s := &Subscription{b: b, id: id, c: make(chan Event, b.buffer+len(t.backlog)), missed: t.missed}
	for _, ev := range t.backlog {
		s.c <- ev // fits: the buffer has room for the whole backlog
	}
	t.subs[s] = struct{}{}
	return s
}

// Subscribers returns how many subscriptions investigation id has.
func (b *Broker) Subscribers(id int64) int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.topics[id]; t != nil {
		return len(t.subs)
	}
	return 0
}

// Publish sends ev to id's subscribers and keeps it for later ones. It
// never blocks: a subscriber whose buffer is full is dropped.
func (b *Broker) Publish(id int64, ev Event) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topicLocked(id)
	if len(t.backlog) < b.backlog {
		t.backlog = append(t.backlog, ev)
	} else {
		t.missed++
	}
	b.sendLocked(t, ev)
}

// Finish publishes the outcome of an attempt, with the queue's OnFinish
// signature: done and failed end the subscriptions, retry and requeued
// start the next attempt's events afresh; unrecorded (the store did not
// take the outcome) ends them as a failure.
func (b *Broker) Finish(id int64, outcome string, err error) {
	if b == nil {
		return
	}
	ev := Event{Outcome: outcome}
	if err != nil {
		ev.Err = err.Error()
	}
	switch outcome {
	case "done":
		ev.Kind = Done
	case "retry", "requeued":
		ev.Kind = Retry
	default:
		ev.Kind = Failed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topicLocked(id)
	b.sendLocked(t, ev)
	if ev.Kind == Failed {
		// A finished investigation's steps are in its stored report; a
		// failed one has none, so its events are kept here.
		b.rememberLocked(id, append(t.backlog, ev))
	}
	t.backlog, t.missed = nil, 0
	if ev.Kind != Retry {
		for s := range t.subs {
			close(s.c)
		}
		clear(t.subs)
	}
	b.forgetLocked(id, t)
}

func (b *Broker) rememberLocked(id int64, evs []Event) {
	if _, ok := b.ended[id]; !ok {
		b.endedOrder = append(b.endedOrder, id)
	}
	b.ended[id] = evs
	for len(b.endedOrder) > keepEnded {
		delete(b.ended, b.endedOrder[0])
		b.endedOrder = b.endedOrder[1:]
	}
}

func (b *Broker) topicLocked(id int64) *topic {
	t := b.topics[id]
	if t == nil {
		t = &topic{subs: map[*Subscription]struct{}{}}
		b.topics[id] = t
	}
	return t
}

// forgetLocked drops a topic that has nothing left to pass on. A topic with
// a backlog stays until its investigation's attempt ends (Finish).
func (b *Broker) forgetLocked(id int64, t *topic) {
	if len(t.subs) == 0 && len(t.backlog) == 0 && t.missed == 0 {
		delete(b.topics, id)
	}
}

func (b *Broker) sendLocked(t *topic, ev Event) {
	for s := range t.subs {
		select {
		case s.c <- ev:
		default:
			// The reader fell behind: waiting for it would hold up the
			// investigation, so it is dropped and told so.
			s.dropped.Store(true)
			close(s.c)
			delete(t.subs, s)
		}
	}
}

// Investigator is the queue's investigator.
type Investigator interface {
	Investigate(ctx context.Context, job investigate.Job) (*report.Report, error)
}

// Wrap returns inv publishing each attempt's progress under the
// investigation's ID: the tool calls of the deterministic stage (through
// the toolcall Recorder's observer) and the model stage's steps (through
// its StepFunc). Wire Finish to the queue's OnFinish, so that the attempt's
// outcome ends what Wrap starts.
func (b *Broker) Wrap(inv Investigator) Investigator {
	if b == nil {
		return inv
	}
	return &publishing{b: b, inv: inv}
}

type publishing struct {
	b   *Broker
	inv Investigator
}

func (p *publishing) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	id := job.Investigation.ID
	// The model stage's tool calls reach the observer too (for the
	// metrics); the stream has them as steps, with their start, so the
	// observer publishes only until the model stage begins.
	var modelStage atomic.Bool
	ctx = toolcall.WithObserver(ctx, func(c toolcall.Call) {
		if !modelStage.Load() {
			p.b.Publish(id, Event{Kind: ToolCall, Call: c})
		}
	})
	ctx = agent.WithStepFunc(ctx, func(s agent.Step) {
		modelStage.Store(true)
		p.b.Publish(id, Event{Kind: Step, Step: s})
	})
	return p.inv.Investigate(ctx, job)
}
