// Package notify provides the delivery of investigation results where
// people work: Slack, Telegram, Mattermost, a generic JSON webhook and
// Grafana annotations. A Dispatcher announces each finished investigation
// and, in the same thread where the sink has threads, the incident's
// resolution. Delivery is asynchronous through a bounded queue per sink,
// with routing, a rate limit and retries with backoff, so a slow or dead
// sink never holds back an investigation.
//
// Queues live in memory: messages waiting when the process stops are lost,
// and after a restart the resolution of an incident announced before it is
// not announced. Investigations themselves are durable (the store), and a
// lost message is counted in sleuth_notifications_total{outcome="dropped"}
// only when the queue was full, not at shutdown.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
)

// Event kinds.
const (
	// Investigated: an investigation finished with a report.
	Investigated = "investigated"
	// Resolved: the incident's alerts all resolved.
	Resolved = "resolved"
)

// Event is what a message tells.
type Event struct {
	Kind            string    `json:"kind"`
	IncidentID      int64     `json:"incident_id"`
	InvestigationID int64     `json:"investigation_id,omitempty"`
	AlertName       string    `json:"alertname"`
	Severity        string    `json:"severity,omitempty"`
	Namespace       string    `json:"namespace,omitempty"`
	Workload        string    `json:"workload,omitempty"`
	Category        string    `json:"category,omitempty"`
	Object          string    `json:"object,omitempty"`
	Confidence      float64   `json:"confidence,omitempty"`
	Summary         string    `json:"summary,omitempty"`
	Remediation     string    `json:"remediation,omitempty"`
	URL             string    `json:"url,omitempty"`
	GeneratorURL    string    `json:"generator_url,omitempty"`
	StartsAt        time.Time `json:"starts_at,omitzero"`
	Time            time.Time `json:"time"`
}

// Sink delivers messages to one place.
type Sink interface {
	// Name identifies the sink in logs, metrics and /readyz.
	Name() string
	// Send delivers e. thread is what Send returned for the incident's first
	// message ("" if none); ref is what replies to this message need. A
	// failed send says whether trying again later may succeed.
	Send(ctx context.Context, e Event, thread string) (ref string, retry bool, err error)
}

// Route selects the events a sink gets.
type Route struct {
	Severities []string
	Namespaces []string
	Categories []string
	// PerMinute bounds the messages per minute; 0 means no bound.
	PerMinute int
}

func (r Route) match(e Event) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	return in(r.Severities, e.Severity) && in(r.Namespaces, e.Namespace) && in(r.Categories, e.Category)
}

// Metrics is what the dispatcher reports to (telemetry.Metrics).
type Metrics interface {
	Notified(sink, outcome string)
	Gauge(name string, f func() float64)
}

// IncidentReader reads incidents, to see when they resolve.
type IncidentReader interface {
	Incident(ctx context.Context, id int64) (*store.Incident, error)
}

// Config tunes a dispatcher. Zero values take the defaults.
type Config struct {
	QueueSize    int           // per sink (default 1000)
	MaxAttempts  int           // per message and sink (default 5)
	RetryBackoff time.Duration // before the first retry, doubling (default 2s)
	// ResolvePoll is how often announced incidents are checked for
	// resolution (default 30s).
	ResolvePoll time.Duration
	// ExternalURL is the UI's address; messages link to it when set.
	ExternalURL string
}

// maxTracked bounds the incidents remembered for their resolution and
// threads; past it the oldest are forgotten (their resolution then goes
// unannounced), which keeps memory flat through an alert storm.
const maxTracked = 10000

// maxBackoff caps the wait between retries.
const maxBackoff = 5 * time.Minute

// Dispatcher routes events to sinks.
type Dispatcher struct {
	cfg     Config
	sinks   []*sinkState
	store   IncidentReader
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time
	// sleep waits, or returns early with ctx's error; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	mu sync.Mutex
	// tracked are incidents announced and not yet resolved, oldest first.
	tracked []int64
	// threads holds each incident's first message per sink.
	threads map[int64]map[string]string
	// pending counts events queued or being sent, for Flush.
	pending atomic.Int64
}

type job struct {
	e Event
}

type sinkState struct {
	sink  Sink
	route Route
	queue chan job

	mu           sync.Mutex
	lastSend     time.Time
	sent, failed int
	dropped      int
	lastErr      string
	failingSince time.Time
	consecutive  int
}

// Target is a sink with its route.
type Target struct {
	Sink  Sink
	Route Route
}

// New returns a dispatcher; call Run to start delivering.
func New(cfg Config, targets []Target, st IncidentReader, log *slog.Logger, m Metrics, now func() time.Time) *Dispatcher {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1000
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 2 * time.Second
	}
	if cfg.ResolvePoll <= 0 {
		cfg.ResolvePoll = 30 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{cfg: cfg, store: st, log: log, metrics: m, now: now, sleep: sleepCtx, threads: map[int64]map[string]string{}}
	for _, t := range targets {
		s := &sinkState{sink: t.Sink, route: t.Route, queue: make(chan job, cfg.QueueSize)}
		d.sinks = append(d.sinks, s)
		if m != nil {
			name := t.Sink.Name()
			m.Gauge(fmt.Sprintf(`sleuth_notify_queue_length{sink=%q}`, name), func() float64 { return float64(len(s.queue)) })
			m.Gauge(fmt.Sprintf(`sleuth_notify_sink_failing{sink=%q}`, name), func() float64 {
				if s.status().OK {
					return 0
				}
				return 1
			})
		}
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Sinks names the configured sinks.
func (d *Dispatcher) Sinks() []string {
	var out []string
	for _, s := range d.sinks {
		out = append(out, s.sink.Name())
	}
	return out
}

// Run delivers until ctx is cancelled: one worker per sink, and the
// resolution check.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range d.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.worker(ctx, s)
		}()
	}
	if d.store != nil && len(d.sinks) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(d.cfg.ResolvePoll)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					d.CheckResolved(ctx)
				}
			}
		}()
	}
	wg.Wait()
}

// Notify queues e for every sink whose route matches. It never blocks: a
// full queue drops the message and counts it.
func (d *Dispatcher) Notify(e Event) {
	if e.Time.IsZero() {
		e.Time = d.now()
	}
	if e.Kind == Investigated {
		d.track(e.IncidentID)
	}
	for _, s := range d.sinks {
		if e.Kind == Resolved && !d.announced(e.IncidentID, s.sink.Name()) {
			continue // never told about it: nothing to resolve there
		}
		if e.Kind == Investigated {
			if !s.route.match(e) {
				continue
			}
			// Mark the incident announced at once, so that a resolution
			// found while this message waits is queued behind it.
			d.setThread(e.IncidentID, s.sink.Name(), "")
		}
		d.pending.Add(1)
		select {
		case s.queue <- job{e: e}:
		default:
			d.pending.Add(-1)
			s.mu.Lock()
			s.dropped++
			s.mu.Unlock()
			d.count(s, "dropped")
			d.log.Warn("notification dropped: queue full", "sink", s.sink.Name(), "incident", e.IncidentID)
		}
	}
}

// Flush waits until every queued message was delivered or given up, or
// ctx ends. Tests and shutdown use it.
func (d *Dispatcher) Flush(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for d.pending.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (d *Dispatcher) track(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if slices.Contains(d.tracked, id) {
		return
	}
	d.tracked = append(d.tracked, id)
	if len(d.tracked) > maxTracked {
		old := d.tracked[0]
		d.tracked = d.tracked[1:]
		delete(d.threads, old)
	}
}

// announced reports whether the sink was sent (or is being sent) the
// incident's first message.
func (d *Dispatcher) announced(id int64, sink string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.threads[id][sink]
	return ok
}

func (d *Dispatcher) thread(id int64, sink string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.threads[id][sink]
}

func (d *Dispatcher) setThread(id int64, sink, ref string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.Contains(d.tracked, id) {
		return
	}
	m := d.threads[id]
	if m == nil {
		m = map[string]string{}
		d.threads[id] = m
	}
	if _, ok := m[sink]; !ok || m[sink] == "" {
		m[sink] = ref
	}
}

// CheckResolved announces the resolution of tracked incidents that
// resolved since the last check.
func (d *Dispatcher) CheckResolved(ctx context.Context) {
	d.mu.Lock()
	ids := slices.Clone(d.tracked)
	d.mu.Unlock()
	for _, id := range ids {
		in, err := d.store.Incident(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			d.untrack(id)
			continue
		}
		if err != nil {
			d.log.Warn("notify: read incident", "incident", id, "err", err)
			return // the store is down: try again at the next tick
		}
		if in.State != store.IncidentResolved {
			continue
		}
		e := Event{Kind: Resolved, IncidentID: id, AlertName: in.AlertName, Severity: in.Severity, Namespace: in.Namespace,
			Workload: in.Workload, URL: d.incidentURL(id), StartsAt: in.OpenedAt, Time: d.now()}
		if in.ResolvedAt != nil {
			e.Time = *in.ResolvedAt
		}
		if in.LastInvestigationID != 0 {
			e.InvestigationID = in.LastInvestigationID
			e.URL = d.investigationURL(in.LastInvestigationID)
		}
		d.Notify(e)
		d.untrack(id)
	}
}

// untrack forgets an incident once its resolution is queued; the thread
// refs stay until the workers have used them.
func (d *Dispatcher) untrack(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tracked = slices.DeleteFunc(d.tracked, func(x int64) bool { return x == id })
}

func (d *Dispatcher) worker(ctx context.Context, s *sinkState) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.queue:
			d.deliver(ctx, s, j.e)
			d.pending.Add(-1)
		}
	}
}

// deliver sends one event with the sink's rate limit and retries.
func (d *Dispatcher) deliver(ctx context.Context, s *sinkState, e Event) {
	name := s.sink.Name()
	thread := d.thread(e.IncidentID, name)
	backoff := d.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		if s.route.PerMinute > 0 {
			s.mu.Lock()
			wait := s.lastSend.Add(time.Minute / time.Duration(s.route.PerMinute)).Sub(d.now())
			s.mu.Unlock()
			if err := d.sleep(ctx, wait); err != nil {
				return
			}
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		ref, retry, err := s.sink.Send(sctx, e, thread)
		cancel()
		s.mu.Lock()
		s.lastSend = d.now()
		s.mu.Unlock()
		if err == nil {
			if e.Kind == Investigated && ref != "" {
				d.setThread(e.IncidentID, name, ref)
			}
			s.succeeded()
			d.count(s, "sent")
			if e.Kind == Resolved {
				d.mu.Lock()
				if m := d.threads[e.IncidentID]; m != nil {
					delete(m, name)
					if len(m) == 0 {
						delete(d.threads, e.IncidentID)
					}
				}
				d.mu.Unlock()
			}
			return
		}
		var ra *retryAfterError
		if errors.As(err, &ra) && ra.after > backoff {
			backoff = ra.after
		}
		if !retry || attempt >= d.cfg.MaxAttempts || ctx.Err() != nil {
			s.failedSend(err, d.now())
			d.count(s, "failed")
			d.log.Error("notification not delivered", "sink", name, "incident", e.IncidentID, "kind", e.Kind, "attempts", attempt, "err", err)
			return
		}
		d.count(s, "retried")
		d.log.Warn("notification failed, retrying", "sink", name, "incident", e.IncidentID, "attempt", attempt, "in", backoff, "err", err)
		// ±20% jitter, so that sinks failing together do not retry together.
		if err := d.sleep(ctx, time.Duration(float64(backoff)*(0.8+0.4*rand.Float64()))); err != nil {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (d *Dispatcher) count(s *sinkState, outcome string) {
	if d.metrics != nil {
		d.metrics.Notified(s.sink.Name(), outcome)
	}
}

func (s *sinkState) succeeded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent++
	s.consecutive = 0
	s.lastErr = ""
	s.failingSince = time.Time{}
}

func (s *sinkState) failedSend(err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed++
	s.consecutive++
	s.lastErr = err.Error()
	if s.failingSince.IsZero() {
		s.failingSince = now
	}
}

// Status is a sink's state for health pages.
type Status struct {
	Name string
	// OK is false once a message could not be delivered after all its
	// attempts, until the next delivery succeeds.
	OK                    bool
	Sent, Failed, Dropped int
	Queued                int
	LastError             string
	FailingSince          time.Time
}

func (s *sinkState) status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Name: s.sink.Name(), OK: s.consecutive == 0, Sent: s.sent, Failed: s.failed, Dropped: s.dropped,
		Queued: len(s.queue), LastError: s.lastErr, FailingSince: s.failingSince}
}

// Statuses returns every sink's state.
func (d *Dispatcher) Statuses() []Status {
	var out []Status
	for _, s := range d.sinks {
		out = append(out, s.status())
	}
	return out
}

// ReadyDetail describes the sinks for /readyz: "ok", or since when and why
// a sink is failing. A failing sink does not make sleuth unready: intake
// and investigations still work.
func (d *Dispatcher) ReadyDetail() map[string]string {
	out := map[string]string{}
	for _, st := range d.Statuses() {
		v := "ok"
		if !st.OK {
			v = "failing since " + st.FailingSince.UTC().Format(time.RFC3339) + ": " + st.LastError
		}
		out["notify."+st.Name] = v
	}
	return out
}

// Investigator is what the queue runs (queue.Investigator).
type Investigator interface {
	Investigate(ctx context.Context, job investigate.Job) (*report.Report, error)
}

// Wrap returns inv announcing each report it produces.
func (d *Dispatcher) Wrap(inv Investigator) Investigator {
	if len(d.sinks) == 0 {
		return inv
	}
	return wrapped{inv: inv, d: d}
}

type wrapped struct {
	inv Investigator
	d   *Dispatcher
}

func (w wrapped) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	rep, err := w.inv.Investigate(ctx, job)
	if err == nil && rep != nil {
		w.d.Notify(w.d.eventFor(job, rep))
	}
	return rep, err
}

func (d *Dispatcher) eventFor(job investigate.Job, rep *report.Report) Event {
	in := job.Incident
	e := Event{Kind: Investigated, IncidentID: in.ID, InvestigationID: job.Investigation.ID, AlertName: in.AlertName,
		Severity: in.Severity, Namespace: in.Namespace, Workload: in.Workload, Category: rep.RootCause.Category,
		Object: rep.RootCause.Object.String(), Confidence: rep.RootCause.Confidence, Summary: rep.Summary,
		URL: d.investigationURL(job.Investigation.ID), Time: d.now()}
	if len(rep.Remediation) > 0 {
		e.Remediation = firstLine(rep.Remediation[0])
	}
	for _, a := range rep.Alerts {
		if e.StartsAt.IsZero() || a.StartsAt.Before(e.StartsAt) {
			e.StartsAt = a.StartsAt
		}
		if e.GeneratorURL == "" {
			e.GeneratorURL = a.GeneratorURL
		}
	}
	if e.Namespace == "" {
		e.Namespace = rep.Target.Namespace
	}
	return e
}

func (d *Dispatcher) investigationURL(id int64) string {
	if d.cfg.ExternalURL == "" {
		return ""
	}
	return strings.TrimRight(d.cfg.ExternalURL, "/") + "/investigations/" + strconv.FormatInt(id, 10)
}

func (d *Dispatcher) incidentURL(id int64) string {
	if d.cfg.ExternalURL == "" {
		return ""
	}
	return strings.TrimRight(d.cfg.ExternalURL, "/") + "/incidents/" + strconv.FormatInt(id, 10)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// retryAfterError carries a sink's request to wait before retrying
// (HTTP 429 Retry-After, Telegram's retry_after).
type retryAfterError struct {
	after time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// httpStatusError is a non-2xx answer.
type httpStatusError struct {
	sink   string
	status int
	body   string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("%s answered HTTP %d: %s", e.sink, e.status, e.body)
}

// retryable says whether an HTTP status may succeed on a later try:
// rate limiting and server errors, not a bad request or bad credentials.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// retryAfter reads a Retry-After header in seconds.
func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}
