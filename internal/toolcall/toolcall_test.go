package toolcall

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestObserverSeesEveryCallInIDOrder: the observer a context carries (a
// live stream, the metrics) is told about each call as it is recorded,
// by every observer in the chain, in the order of the calls' IDs, also
// when the calls finish concurrently as the engine's do.
func TestObserverSeesEveryCallInIDOrder(t *testing.T) {
	var mu sync.Mutex
	var first, second []string
	ctx := WithObserver(context.Background(), func(c Call) { first = append(first, c.ID) })
	ctx = WithObserver(ctx, func(c Call) {
		mu.Lock()
		defer mu.Unlock()
		second = append(second, c.ID+" "+string(c.Status))
	})
	ctx = WithObserver(ctx, nil)
	rec := NewRecorder(0, nil).Observe(ObserverFrom(ctx))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			p := rec.Start("metrics.query", "prometheus", nil, fmt.Sprint(i))
			var err error
			if i%2 == 1 {
				err = errors.New("timeout")
			}
			p.Finish(err, false, false, func() string { return "1" })
		})
	}
	wg.Wait()
	if len(first) != 8 || len(second) != 8 {
		t.Fatalf("observed %d and %d calls, want 8", len(first), len(second))
	}
	for i, id := range first {
		if want := fmt.Sprintf("call-%d", i+1); id != want {
			t.Errorf("observed %s at %d, want %s", id, i, want)
		}
	}
	errs := 0
	for _, s := range second {
		if s[len(s)-5:] == "error" {
			errs++
		}
	}
	if errs != 4 {
		t.Errorf("second observer: %q", second)
	}
	if ObserverFrom(context.Background()) != nil {
		t.Error("a context without an observer has one")
	}
	// A recorder without an observer records the same.
	plain := NewRecorder(0, nil).Observe(nil)
	plain.Start("t", "b", nil, "d").Done(Success, "x", false, nil)
	if len(plain.Calls()) != 1 {
		t.Error("a recorder without an observer lost its call")
	}
}
