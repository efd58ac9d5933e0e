package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// scriptedInvestigator runs fn for each job.
type scriptedInvestigator func(ctx context.Context, job investigate.Job) (*report.Report, error)

func (f scriptedInvestigator) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	return f(ctx, job)
}

func newStore(t *testing.T, incidents int) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range incidents {
		labels := map[string]string{"alertname": fmt.Sprintf("Alert%d", i), "namespace": "ns", "severity": "warning"}
		a := store.KeyedAlert{
			Alert: alert.Alert{Status: "firing", Labels: labels, StartsAt: time.Now(), Fingerprint: alert.Fingerprint(labels)},
			Key:   incident.Key([]string{"alertname"}, labels),
		}
		if _, err := s.Ingest(context.Background(), store.Ingest{Now: time.Now(), Cooldown: time.Hour, Alerts: []store.KeyedAlert{a}}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func cfg() Config {
	return Config{Workers: 2, Deadline: time.Minute, MaxAttempts: 3, Backoff: time.Millisecond, Grace: time.Minute, Poll: 5 * time.Millisecond}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runUntil runs the pool until cond holds on the store's stats, then stops it.
func runUntil(t *testing.T, p *Pool, s store.Store, cond func(store.Stats) bool) store.Stats {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	deadline := time.After(30 * time.Second)
	for {
		st, err := s.Stats(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			cancel()
			<-done
			return st
		}
		select {
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("condition not reached; stats %+v", st)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func settled(n int) func(store.Stats) bool {
	return func(st store.Stats) bool {
		return st.Investigations[store.StateDone]+st.Investigations[store.StateFailed] == n
	}
}

func TestPoolRunsEveryInvestigationOnce(t *testing.T) {
	s := newStore(t, 10)
	var mu sync.Mutex
	seen := map[int64]int{}
	inv := scriptedInvestigator(func(ctx context.Context, job investigate.Job) (*report.Report, error) {
		mu.Lock()
		seen[job.Investigation.ID]++
		mu.Unlock()
		if len(job.Alerts) != 1 || job.Incident.ID != job.Investigation.IncidentID {
			return nil, investigate.Permanent(fmt.Errorf("job not loaded: %+v", job))
		}
		return &report.Report{Summary: "ok " + job.Alerts[0].Labels["alertname"]}, nil
	})
	p := New(cfg(), s, inv, discard(), telemetry.New(), time.Now)
	st := runUntil(t, p, s, settled(10))
	if st.Investigations[store.StateDone] != 10 {
		t.Fatalf("stats = %+v, want 10 done", st.Investigations)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("investigation %d ran %d times", id, n)
		}
	}
	v, err := s.Investigation(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var stored report.Report
	if err := json.Unmarshal(v.Report, &stored); err != nil || stored.Summary != "ok Alert0" {
		t.Fatalf("stored report = %s (%v)", v.Report, err)
	}
}

func TestPoolRetriesTransientFailures(t *testing.T) {
	s := newStore(t, 1)
	var calls atomic.Int32
	inv := scriptedInvestigator(func(ctx context.Context, job investigate.Job) (*report.Report, error) {
		if calls.Add(1) < 3 {
			return nil, errors.New("prometheus: connection refused")
		}
		return &report.Report{Summary: "third time"}, nil
	})
	p := New(cfg(), s, inv, discard(), telemetry.New(), time.Now)
	runUntil(t, p, s, settled(1))
	v, _ := s.Investigation(context.Background(), 1)
	if v.State != store.StateDone || v.Attempts != 3 || calls.Load() != 3 {
		t.Fatalf("investigation = %+v after %d calls, want done on attempt 3", v, calls.Load())
	}
}

func TestPoolFailures(t *testing.T) {
	cases := []struct {
		name      string
		fn        scriptedInvestigator
		attempts  int
		errSubstr string
	}{
		{"permanent", func(context.Context, investigate.Job) (*report.Report, error) {
			return nil, investigate.Permanent(errors.New("no such namespace"))
		}, 1, "no such namespace"},
		{"attempts exhausted", func(context.Context, investigate.Job) (*report.Report, error) {
			return nil, errors.New("timeout talking to VictoriaLogs")
		}, 3, "timeout talking to VictoriaLogs"},
		{"panic", func(context.Context, investigate.Job) (*report.Report, error) {
			var m map[string]int
			m["boom"]++
			return nil, nil
		}, 1, "investigator panicked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t, 1)
			p := New(cfg(), s, c.fn, discard(), telemetry.New(), time.Now)
			runUntil(t, p, s, settled(1))
			v, _ := s.Investigation(context.Background(), 1)
			if v.State != store.StateFailed || v.Attempts != c.attempts || !strings.Contains(v.Error, c.errSubstr) {
				t.Fatalf("investigation = %+v, want failed after %d attempts with %q", v, c.attempts, c.errSubstr)
			}
		})
	}
}

func TestPoolDeadline(t *testing.T) {
	s := newStore(t, 1)
	c := cfg()
	c.Deadline = 20 * time.Millisecond
	c.MaxAttempts = 1
	inv := scriptedInvestigator(func(ctx context.Context, job investigate.Job) (*report.Report, error) {
		<-ctx.Done() // a backend that never answers
		return nil, ctx.Err()
	})
	p := New(c, s, inv, discard(), telemetry.New(), time.Now)
	runUntil(t, p, s, settled(1))
	v, _ := s.Investigation(context.Background(), 1)
	if v.State != store.StateFailed || !strings.Contains(v.Error, "deadline exceeded") {
		t.Fatalf("investigation = %+v, want failed by its deadline", v)
	}
}

func TestPoolBoundsConcurrency(t *testing.T) {
	s := newStore(t, 8)
	var running, peak atomic.Int32
	release := make(chan struct{})
	inv := scriptedInvestigator(func(ctx context.Context, job investigate.Job) (*report.Report, error) {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		return &report.Report{}, nil
	})
	p := New(cfg(), s, inv, discard(), telemetry.New(), time.Now)
	go func() {
		// Let the workers saturate, then release them one by one.
		for peak.Load() < 2 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	runUntil(t, p, s, settled(8))
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency = %d, want 2 (the worker count)", peak.Load())
	}
}

func TestPoolShutdown(t *testing.T) {
	s := newStore(t, 2)
	c := cfg()
	c.Grace = 50 * time.Millisecond
	started := make(chan int64, 2)
	inv := scriptedInvestigator(func(ctx context.Context, job investigate.Job) (*report.Report, error) {
		started <- job.Investigation.ID
		if job.Investigation.ID == 1 {
			return &report.Report{Summary: "quick"}, nil // finishes within the grace period
		}
		<-ctx.Done() // stuck past the grace period
		return nil, ctx.Err()
	})
	p := New(c, s, inv, discard(), telemetry.New(), time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	<-started
	<-started
	cancel()
	<-done
	st, _ := s.Stats(context.Background(), time.Now())
	if st.Investigations[store.StateDone] != 1 || st.Investigations[store.StateQueued] != 1 || st.Investigations[store.StateRunning] != 0 {
		t.Fatalf("after shutdown: %+v, want 1 done and 1 requeued", st.Investigations)
	}
	v, _ := s.Investigation(context.Background(), 2)
	if v.Error != "interrupted by shutdown" {
		t.Fatalf("requeued investigation = %+v", v)
	}
}

func TestBackoff(t *testing.T) {
	p := New(Config{Backoff: 10 * time.Second}, nil, nil, discard(), telemetry.New(), time.Now)
	f := func(attempt int, base time.Duration) {
		t.Helper()
		for range 50 {
			d := p.backoff(attempt)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("backoff(%d) = %v, want %v ±20%%", attempt, d, base)
			}
		}
	}
	f(1, 10*time.Second)
	f(2, 20*time.Second)
	f(3, 40*time.Second)
	f(20, maxBackoff)
}

// TestPoolMetricsAndOnFinish: the tool calls an attempt records reach
// /metrics by backend and status with their durations, a stored
// investigation is counted by its root cause's category, and OnFinish hears
// of each attempt only once the store has its outcome.
func TestPoolMetricsAndOnFinish(t *testing.T) {
	s := newStore(t, 2)
	var attempts atomic.Int32
	inv := scriptedInvestigator(func(ctx context.Context, job investigate.Job) (*report.Report, error) {
		// As the engine records: through a Recorder observing the context.
		rec := toolcall.NewRecorder(0, nil).Observe(toolcall.ObserverFrom(ctx))
		rec.Start("kubernetes.get", "kubernetes", nil, "kubectl get pod").Done(toolcall.Success, "pod", false, nil)
		rec.Start("logs.query", "victorialogs", nil, "error").Done(toolcall.Error, "", false, errors.New("timeout"))
		if job.Investigation.ID == 2 && attempts.Add(1) == 1 {
			return nil, errors.New("prometheus: connection refused")
		}
		category := report.OOMKilled
		if job.Investigation.ID == 2 {
			category = "" // an engine that decided nothing
		}
		return &report.Report{RootCause: report.RootCause{Category: category}}, nil
	})
	c := cfg()
	c.Workers = 1
	var mu sync.Mutex
	var heard []string
	c.OnFinish = func(id int64, outcome string, err error) {
		v, serr := s.Investigation(context.Background(), id)
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, fmt.Sprintf("%d %s (stored %s, err %v, store err %v)", id, outcome, v.State, err, serr))
	}
	m := telemetry.New()
	p := New(c, s, inv, discard(), m, time.Now)
	runUntil(t, p, s, settled(2))

	want := []string{
		"1 done (stored done, err <nil>, store err <nil>)",
		"2 retry (stored queued, err prometheus: connection refused, store err <nil>)",
		"2 done (stored done, err <nil>, store err <nil>)",
	}
	mu.Lock()
	if diff := cmp.Diff(want, heard); diff != "" {
		t.Errorf("OnFinish (-want +got):\n%s", diff)
	}
	mu.Unlock()

	var buf strings.Builder
	m.WritePrometheus(&buf, store.Stats{}, time.Now())
	for _, line := range []string{
		`sleuth_tool_calls_total{backend="kubernetes",status="success"} 3`,
		`sleuth_tool_calls_total{backend="victorialogs",status="error"} 3`,
		`sleuth_tool_call_duration_seconds_count{backend="kubernetes"} 3`,
		`sleuth_tool_call_duration_seconds_bucket{backend="victorialogs",le="+Inf"} 3`,
		`sleuth_investigations_finished_total{category="oom-killed"} 1`,
		`sleuth_investigations_finished_total{category="unknown"} 1`,
	} {
		if !strings.Contains(buf.String(), line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}
