package holmes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sleuth-sre/sleuth/internal/progress"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// handleStreamInvestigate streams the investigation a request starts or
// joins while it runs in the queue: the deterministic stage's tool calls
// as they finish, then the model stage's steps, then ai_answer_end with the
// stored answer. The investigation is the queue's, not the request's: a
// client that goes away stops only its stream.
func (a *API) handleStreamInvestigate(w http.ResponseWriter, r *http.Request) {
	var q InvestigateRequest
	if !decode(w, r, &q) || missing(w, q.missingFields()...) {
		return
	}
	if err := a.checkModel(q.Model); err != nil {
		writeDetail(w, http.StatusBadRequest, err.Error())
		return
	}
	s := startSSE(w)
	ctx, cancel := context.WithTimeout(r.Context(), a.waitLimit())
	defer cancel()
	st, err := a.start(ctx, &q)
	if err != nil {
		s.fail(http.StatusInternalServerError, err)
		return
	}
	// Subscribed after the investigation was queued, perhaps after it
	// started: the broker's backlog has what was published before.
	sub := a.o.Progress.Subscribe(st.id)
	defer sub.Close()
	s.comment(fmt.Sprintf("investigation %d of incident %d", st.id, st.incidentID))
	if n := sub.Missed(); n > 0 {
		s.comment(fmt.Sprintf("%d earlier events of this investigation were not kept", n))
	}
	f := &follower{a: a, s: s, sub: sub, events: sub.Events(), id: st.id}
	inv, err := f.follow(ctx)
	if err != nil {
		s.fail(http.StatusInternalServerError, err)
		return
	}
	res, err := a.result(&q, st, inv)
	if err != nil {
		s.fail(http.StatusInternalServerError, err)
		return
	}
	if f.live == 0 {
		// Nothing was seen running: the investigation had finished before
		// (a deduplicated request), or there is no broker. The stored
		// report's steps stand in: its tool calls, the model's token count.
		var rep report.Report
		if err := json.Unmarshal(inv.Report, &rep); err != nil {
			s.fail(http.StatusInternalServerError, fmt.Errorf("investigation %d: decode report: %w", inv.ID, err))
			return
		}
		for _, c := range rep.ToolCalls {
			sendCall(s, c)
		}
		if u, ok := res.Metadata["usage"]; ok {
			s.event("token_count", map[string]any{"metadata": map[string]any{"usage": u}})
		}
	}
	s.event("ai_answer_end", map[string]any{"sections": res.Sections, "analysis": res.Analysis, "instructions": res.Instructions, "metadata": res.Metadata})
}

// sendCall sends a finished tool call as HolmesGPT's pair of events. A
// stream always carries the calls with their output, as HolmesGPT's does:
// include_tool_calls and include_tool_call_results shape the answer's
// tool_calls list, not the stream.
func sendCall(s *sse, c toolcall.Call) {
	tc := toolCalls([]toolcall.Call{c}, true, true)[0]
	s.event("start_tool_calling", map[string]any{"tool_name": tc.ToolName, "id": tc.ToolCallID})
	s.event("tool_calling_result", map[string]any{"tool_call_id": tc.ToolCallID, "role": "tool", "description": tc.Description, "name": tc.ToolName, "result": tc.Result})
}

// follower forwards one investigation's progress to a stream until the
// investigation ends.
type follower struct {
	a      *API
	s      *sse
	sub    *progress.Subscription
	events <-chan progress.Event
	id     int64
	// live counts the events forwarded while the investigation ran.
	live int
}

// follow forwards events until the investigation is done (its stored
// record is returned) or failed. The store is polled too: it tells when an
// investigation that finished before the subscription ends, and when one
// ends whose events this stream lost.
func (f *follower) follow(ctx context.Context) (*store.Investigation, error) {
	poll := time.NewTicker(f.a.o.Poll)
	defer poll.Stop()
	keepAlive := time.NewTicker(f.a.o.KeepAlive)
	defer keepAlive.Stop()
	state, written := "", f.s.written
	for {
		select {
		case ev, ok := <-f.events:
			if !ok {
				f.events = nil
				if f.sub.Dropped() {
					f.s.comment("this stream fell behind and lost events; the answer follows when the investigation ends")
				}
				continue
			}
			if end, inv, err := f.handle(ctx, ev); end {
				return inv, err
			}
		case <-poll.C:
			inv, err := f.a.o.Store.Investigation(ctx, f.id)
			if err != nil {
				return nil, fmt.Errorf("read investigation %d: %w", f.id, err)
			}
			switch inv.State {
			case store.StateDone:
				f.drain()
				return inv, nil
			case store.StateFailed:
				f.drain()
				return inv, fmt.Errorf("investigation %d failed: %s", f.id, inv.Error)
			}
			if inv.State != state {
				f.s.comment("investigation " + inv.State)
				state = inv.State
			}
		case <-keepAlive.C:
			if f.s.written == written {
				f.s.comment("keep-alive")
			}
			written = f.s.written
		case <-ctx.Done():
			return nil, fmt.Errorf("investigation %d is still %s (GET /api/investigations/%d for its outcome): %w", f.id, orDefault(state, "queued"), f.id, ctxErr(ctx))
		}
	}
}

// handle forwards one event; end says the investigation ended, with its
// stored record or why it failed.
func (f *follower) handle(ctx context.Context, ev progress.Event) (bool, *store.Investigation, error) {
	switch ev.Kind {
	case progress.ToolCall:
		sendCall(f.s, ev.Call)
		f.live++
	case progress.Step:
		streamStep(f.s, ev.Step)
		f.live++
	case progress.Retry:
		f.s.comment(fmt.Sprintf("the attempt ended without an answer (%s: %s); the next attempt's events follow", ev.Outcome, ev.Err))
	case progress.Done, progress.Failed:
		// The queue publishes the outcome after the store has it.
		got, rerr := f.a.o.Store.Investigation(ctx, f.id)
		switch {
		case rerr != nil:
			return true, nil, fmt.Errorf("read investigation %d: %w", f.id, rerr)
		case got.State == store.StateDone:
			return true, got, nil
		case got.State == store.StateFailed:
			return true, got, fmt.Errorf("investigation %d failed: %s", f.id, got.Error)
		}
		// The store did not take the outcome.
		return true, got, errors.New(ev.Err)
	}
	return false, nil, nil
}

// drain forwards the events already buffered: the store said the
// investigation ended, and everything it published came before that.
func (f *follower) drain() {
	for f.events != nil {
		select {
		case ev, ok := <-f.events:
			if !ok {
				return
			}
			if ev.Kind == progress.ToolCall || ev.Kind == progress.Step {
				f.handle(context.Background(), ev)
			}
		default:
			return
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
