// Package queue provides the investigation workers: a bounded pool that
// claims queued investigations from the store, most urgent first, runs them
// with a deadline, retries transient failures with backoff and requeues
// interrupted work on shutdown.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Store is what the pool needs of the store.
type Store interface {
	Claim(ctx context.Context, now time.Time) (*store.Investigation, error)
	Finish(ctx context.Context, f store.Finish) error
	Incident(ctx context.Context, id int64) (*store.Incident, error)
	IncidentAlerts(ctx context.Context, incidentID int64) ([]store.Alert, error)
}

// Investigator produces the report of a job.
type Investigator interface {
	Investigate(ctx context.Context, job investigate.Job) (*report.Report, error)
}

// Config tunes a pool.
type Config struct {
	Workers     int
	Deadline    time.Duration // per attempt
	MaxAttempts int
	Backoff     time.Duration // before the first retry; doubles each attempt
	// Grace is how long running attempts may go on after Run's context is
	// cancelled before they are cancelled and requeued.
	Grace time.Duration
	// Poll is how often idle workers look for work whose retry time came;
	// new work wakes them at once through Notify.
	Poll time.Duration
	// OnFinish, if set, is told about every attempt once its outcome is
	// stored: the outcome (done, failed, retry, requeued) and the attempt's
	// error; or "unrecorded" with the store's error when the outcome could
	// not be stored. Live streams end on it, so it runs after the store has
	// the report. It must not block.
	OnFinish func(id int64, outcome string, err error)
}

// maxBackoff caps the retry delay: a backend down for longer is better
// served by failing and showing the error than by waiting.
const maxBackoff = 10 * time.Minute

// Pool runs investigations.
type Pool struct {
	cfg     Config
	store   Store
	inv     Investigator
	log     *slog.Logger
	metrics *telemetry.Metrics
	now     func() time.Time
	wake    chan struct{}
}

// New returns a pool; call Run to start it.
func New(cfg Config, st Store, inv Investigator, log *slog.Logger, m *telemetry.Metrics, now func() time.Time) *Pool {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	return &Pool{cfg: cfg, store: st, inv: inv, log: log, metrics: m, now: now, wake: make(chan struct{}, 1)}
}

// Notify wakes an idle worker: new work was queued.
func (p *Pool) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run runs the workers until ctx is cancelled, then waits for the running
// attempts: each may finish within the grace period, after which it is
// cancelled and requeued.
func (p *Pool) Run(ctx context.Context) {
	// work outlives ctx by the grace period, so that a shutdown lets short
	// attempts finish instead of throwing their work away.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(p.cfg.Grace, cancelWork) })
	defer stop()

	var wg sync.WaitGroup
	for i := 0; i < p.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.worker(ctx, work)
		}()
	}
	wg.Wait()
}

func (p *Pool) worker(ctx, work context.Context) {
	poll := time.NewTicker(p.cfg.Poll)
	defer poll.Stop()
	for ctx.Err() == nil {
		inv, err := p.store.Claim(ctx, p.now())
		switch {
		case errors.Is(err, store.ErrNoWork), ctx.Err() != nil:
			select {
			case <-ctx.Done():
			case <-p.wake:
			case <-poll.C:
			}
			continue
		case err != nil:
			p.log.Error("claim investigation", "err", err)
			select {
			case <-ctx.Done():
			case <-poll.C:
			}
			continue
		}
		// More work may be waiting: pass the wake-up on to another worker.
		p.Notify()
		p.run(work, inv)
	}
}

// run executes one attempt and records its outcome.
func (p *Pool) run(work context.Context, inv *store.Investigation) {
	start := p.now()
	log := p.log.With("investigation", inv.ID, "incident", inv.IncidentID, "attempt", inv.Attempts)
	ctx, cancel := context.WithTimeout(work, p.cfg.Deadline)
	ctx = toolcall.WithObserver(ctx, func(c toolcall.Call) {
		p.metrics.ToolCall(c.Backend, string(c.Status), time.Duration(c.DurationMS*float64(time.Millisecond)))
	})
	rep, err := p.attempt(ctx, inv)
	cancel()
	dur := p.now().Sub(start)

	f := store.Finish{ID: inv.ID, Attempt: inv.Attempts, Now: p.now()}
	outcome := ""
	switch {
	case err == nil:
		body, merr := json.Marshal(rep)
		if merr != nil {
			f.State, f.Error, outcome = store.StateFailed, "encode report: "+merr.Error(), "failed"
			break
		}
		f.State, f.Report, outcome = store.StateDone, body, "done"
	case work.Err() != nil:
		// Shutdown ran out of grace: give the work back to the queue.
		f.State, f.NotBefore, f.Error, outcome = store.StateQueued, f.Now, "interrupted by shutdown", "requeued"
	case investigate.IsPermanent(err) || inv.Attempts >= p.cfg.MaxAttempts:
		f.State, f.Error, outcome = store.StateFailed, err.Error(), "failed"
	default:
		f.State, f.NotBefore, f.Error, outcome = store.StateQueued, f.Now.Add(p.backoff(inv.Attempts)), err.Error(), "retry"
	}
	// The outcome is recorded even during shutdown, with a context of its
	// own: losing it would make the attempt run again after a restart.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(work), 10*time.Second)
	defer fcancel()
	if ferr := p.store.Finish(fctx, f); ferr != nil {
		log.Error("record investigation outcome", "outcome", outcome, "err", ferr)
		p.onFinish(inv.ID, "unrecorded", fmt.Errorf("record the outcome (%s) of investigation %d: %w", outcome, inv.ID, ferr))
		return
	}
	p.metrics.Finished(outcome, dur)
	if outcome == "done" {
		p.metrics.InvestigationFinished(rep.RootCause.Category)
	}
	p.onFinish(inv.ID, outcome, err)
	if err != nil {
		log.Warn("investigation attempt failed", "outcome", outcome, "err", err, "duration", dur)
		return
	}
	log.Info("investigation done", "duration", dur)
}

func (p *Pool) onFinish(id int64, outcome string, err error) {
	if p.cfg.OnFinish != nil {
		p.cfg.OnFinish(id, outcome, err)
	}
}

func (p *Pool) attempt(ctx context.Context, inv *store.Investigation) (rep *report.Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("investigator panicked", "investigation", inv.ID, "panic", r, "stack", string(debug.Stack()))
			err = investigate.Permanent(fmt.Errorf("investigator panicked: %v", r))
		}
	}()
	incident, err := p.store.Incident(ctx, inv.IncidentID)
	if err != nil {
		return nil, fmt.Errorf("load incident %d: %w", inv.IncidentID, err)
	}
	alerts, err := p.store.IncidentAlerts(ctx, inv.IncidentID)
	if err != nil {
		return nil, err
	}
	return p.inv.Investigate(ctx, investigate.Job{Investigation: *inv, Incident: *incident, Alerts: alerts})
}

// backoff returns the delay before the retry that follows attempt n, with
// ±20% jitter so that retries of a storm do not hit a backend together.
func (p *Pool) backoff(n int) time.Duration {
	d := p.cfg.Backoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
