package progress

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

func call(id string) Event { return Event{Kind: ToolCall, Call: toolcall.Call{ID: id}} }

// received returns what is buffered in s, and whether s was closed.
func received(s *Subscription) (ids []string, closed bool) {
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return ids, true
			}
			switch ev.Kind {
			case ToolCall:
				ids = append(ids, ev.Call.ID)
			default:
				ids = append(ids, string(ev.Kind)+":"+ev.Outcome)
			}
		default:
			return ids, false
		}
	}
}

func check(t *testing.T, s *Subscription, want []string, wantClosed bool) {
	t.Helper()
	got, closed := received(s)
	if diff := cmp.Diff(want, got); diff != "" || closed != wantClosed {
		t.Errorf("events (-want +got):\n%s\nclosed = %v, want %v", diff, closed, wantClosed)
	}
}

func TestSubscriberGetsTheBacklogThenLiveEventsThenTheEnd(t *testing.T) {
	b := NewBroker(0, 0)
	b.Publish(7, call("call-1"))
	b.Publish(8, call("other"))
	s := b.Subscribe(7)
	b.Publish(7, call("call-2"))
	check(t, s, []string{"call-1", "call-2"}, false)
	b.Finish(7, "retry", errors.New("prometheus down"))
	b.Publish(7, call("call-1"))
	b.Finish(7, "done", nil)
	check(t, s, []string{"retry:retry", "call-1", "done:done"}, true)
	if s.Dropped() {
		t.Error("a subscriber that kept up was dropped")
	}
	// Investigation 7 is forgotten; 8 is still running.
	if _, ok := b.topics[7]; ok || len(b.topics) != 1 {
		t.Errorf("topics = %v", b.topics)
	}
	s.Close() // after the end: no effect
}

func TestRetryStartsTheBacklogAfresh(t *testing.T) {
	b := NewBroker(0, 0)
	b.Publish(1, call("call-1"))
	b.Finish(1, "retry", errors.New("timeout"))
	if len(b.topics) != 0 {
		t.Errorf("a retried investigation without subscribers is kept: %v", b.topics)
	}
	b.Publish(1, call("call-1"))
	s := b.Subscribe(1)
	check(t, s, []string{"call-1"}, false)
}

func TestSlowSubscriberIsDroppedWithoutBlockingThePublisher(t *testing.T) {
	b := NewBroker(2, 0)
	slow := b.Subscribe(1)
	for i := 1; i <= 3; i++ {
		b.Publish(1, call(fmt.Sprintf("call-%d", i))) // would block on the third if the broker waited
	}
	late := b.Subscribe(1)
	b.Publish(1, call("call-4"))
	b.Publish(1, call("call-5"))
	b.Finish(1, "failed", errors.New("boom"))
	check(t, slow, []string{"call-1", "call-2"}, true)
	if !slow.Dropped() {
		t.Error("the slow subscriber is not marked dropped")
	}
	// The late one got the backlog and room for its own buffer besides.
	check(t, late, []string{"call-1", "call-2", "call-3", "call-4", "call-5"}, true)
	if !late.Dropped() {
		t.Error("the late subscriber fell behind by the failure event and is not marked dropped")
	}
	slow.Close()
	late.Close()
	if len(b.topics) != 0 {
		t.Errorf("topics = %v", b.topics)
	}
}

func TestBacklogIsBounded(t *testing.T) {
	b := NewBroker(0, 2)
	for i := 1; i <= 5; i++ {
		b.Publish(1, call(fmt.Sprintf("call-%d", i)))
	}
	s := b.Subscribe(1)
	if s.Missed() != 3 {
		t.Errorf("missed = %d, want 3", s.Missed())
	}
	check(t, s, []string{"call-1", "call-2"}, false)
}

func TestClosedSubscriptionGetsNothingMore(t *testing.T) {
	b := NewBroker(0, 0)
	s := b.Subscribe(1)
	s.Close()
	s.Close()
	b.Publish(1, call("call-1")) // a send on the closed channel would panic
	b.Finish(1, "done", nil)
	if len(b.topics) != 0 {
		t.Errorf("topics = %v", b.topics)
	}
	// Subscribing to a finished investigation and leaving keeps nothing.
	b.Subscribe(2).Close()
	if len(b.topics) != 0 {
		t.Errorf("topics = %v", b.topics)
	}
}

func TestNilBroker(t *testing.T) {
	var b *Broker
	s := b.Subscribe(1)
	if s.Events() != nil || s.Dropped() || s.Missed() != 0 {
		t.Error("a nil broker's subscription has events")
	}
	s.Close()
	b.Publish(1, call("x"))
	b.Finish(1, "done", nil)
	inv := scripted(func(ctx context.Context) {})
	if _, ok := b.Wrap(inv).(scripted); !ok {
		t.Error("a nil broker wraps")
	}
}

type scripted func(ctx context.Context)

func (f scripted) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	f(ctx)
	return &report.Report{}, nil
}

// TestWrapPublishesBothStages runs an investigator shaped like the queue's:
// a deterministic stage recording through a Recorder that observes the
// context, as the engine does, then a model stage streaming its steps, whose
// own tool calls reach the context's observer too (for the metrics).
func TestWrapPublishesBothStages(t *testing.T) {
	b := NewBroker(0, 0)
	var metered []string
	inv := b.Wrap(scripted(func(ctx context.Context) {
		rec := toolcall.NewRecorder(0, nil).Observe(toolcall.ObserverFrom(ctx))
		rec.Start("kubernetes.get", "kubernetes", nil, "kubectl get pod").Done(toolcall.Success, "pod", false, nil)
		rec.Start("metrics.query", "prometheus", nil, "up").Done(toolcall.NoData, "", false, nil)
		step := agent.StepFuncFrom(ctx)
		step(agent.Step{Kind: agent.StepTokenCount})
		step(agent.Step{Kind: agent.StepToolStart, ToolCallID: "call_1_1"})
		toolcall.ObserverFrom(ctx)(toolcall.Call{ID: "call_1_1", Backend: "llm"})
		step(agent.Step{Kind: agent.StepToolResult, ToolCallID: "call_1_1"})
	}))
	ctx := toolcall.WithObserver(context.Background(), func(c toolcall.Call) { metered = append(metered, c.ID) })
	s := b.Subscribe(42)
	if _, err := inv.Investigate(ctx, investigate.Job{Investigation: store.Investigation{ID: 42}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 5 {
		ev := <-s.Events()
		switch ev.Kind {
		case ToolCall:
			got = append(got, "call "+ev.Call.ID)
		case Step:
			got = append(got, string(ev.Step.Kind)+" "+ev.Step.ToolCallID)
		}
	}
	want := []string{"call call-1", "call call-2", "token_count ", "start_tool_calling call_1_1", "tool_calling_result call_1_1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	check(t, s, nil, false)
	if diff := cmp.Diff([]string{"call-1", "call-2", "call_1_1"}, metered); diff != "" {
		t.Errorf("the context's own observer (-want +got):\n%s", diff)
	}
}

// An investigation can fail before the handler that queued it subscribes:
// the late subscriber still gets the run's events and the failure.
func TestSubscribeAfterFailure(t *testing.T) {
	b := NewBroker(0, 0)
	b.Publish(7, Event{Kind: ToolCall, Call: toolcall.Call{ID: "call-1"}})
	b.Finish(7, "failed", errors.New("kube-apiserver unreachable"))
	var got []Kind
	for ev := range b.Subscribe(7).Events() {
		got = append(got, ev.Kind)
	}
	if len(got) != 2 || got[0] != ToolCall || got[1] != Failed {
		t.Errorf("late subscriber got %v, want [tool_call failed]", got)
	}
	// A finished investigation is replayed from its stored report, not here.
	b.Publish(8, Event{Kind: ToolCall})
	b.Finish(8, "done", nil)
	s := b.Subscribe(8)
	select {
	case ev, ok := <-s.Events():
		t.Errorf("done investigation: got %v (open %v), want nothing kept", ev, ok)
	default:
	}
	s.Close()
}
