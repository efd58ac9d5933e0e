// Package telemetry provides sleuth's own Prometheus metrics. Counters are
// kept in process; gauges that describe stored state are refreshed from the
// store on every scrape, so they are right after a restart too.
package telemetry

import (
	"fmt"
	"io"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sleuth-sre/sleuth/internal/store"
)

// Metrics holds the metric set. The zero value is not usable; call New.
type Metrics struct {
	set *metrics.Set

	AlertsReceived     *metrics.Counter
	AlertsDeduplicated *metrics.Counter
	AlertsResolved     *metrics.Counter
	IncidentsCreated   *metrics.Counter
	Queued             *metrics.Counter
	duration           *metrics.PrometheusHistogram
}

// New returns a fresh metric set.
func New() *Metrics {
	s := metrics.NewSet()
	return &Metrics{
		set:                s,
		AlertsReceived:     s.NewCounter("sleuth_alerts_received_total"),
		AlertsDeduplicated: s.NewCounter("sleuth_alerts_deduplicated_total"),
		AlertsResolved:     s.NewCounter("sleuth_alerts_resolved_total"),
		IncidentsCreated:   s.NewCounter("sleuth_incidents_created_total"),
		Queued:             s.NewCounter("sleuth_investigations_queued_total"),
		duration:           s.NewPrometheusHistogram("sleuth_investigation_duration_seconds"),
	}
}

// Rejected counts a rejected webhook request by reason (a short, fixed word
// such as "unauthorized", "malformed", "too_large", "store").
func (m *Metrics) Rejected(reason string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_alerts_rejected_total{reason=%q}`, reason)).Inc()
}

// Finished records a finished investigation attempt with its outcome
// (done, failed, retry, requeued) and how long it ran.
func (m *Metrics) Finished(outcome string, d time.Duration) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_investigation_attempts_total{outcome=%q}`, outcome)).Inc()
	m.duration.Update(d.Seconds())
}

// InvestigationFinished counts an investigation stored with its report, by
// the report's root-cause category ("unknown" when it has none). Failed
// investigations have no category: sleuth_investigation_attempts_total
// counts them.
func (m *Metrics) InvestigationFinished(category string) {
	if category == "" {
		category = "unknown"
	}
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_investigations_finished_total{category=%q}`, category)).Inc()
}

// toolCallBuckets span a tool call's durations: a few milliseconds for a
// cached Kubernetes read up to the 30s a tool may run.
var toolCallBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// ToolCall records a tool call of an investigation by backend (kubernetes,
// prometheus, victorialogs for the deterministic stage, llm for the model's
// calls) and status (success, no_data, error), with its duration.
func (m *Metrics) ToolCall(backend, status string, d time.Duration) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_tool_calls_total{backend=%q,status=%q}`, backend, status)).Inc()
	m.set.GetOrCreatePrometheusHistogramExt(fmt.Sprintf(`sleuth_tool_call_duration_seconds{backend=%q}`, backend), toolCallBuckets).Update(d.Seconds())
}

// Notified counts a notification by sink and outcome (sent, failed,
// retried, dropped).
func (m *Metrics) Notified(sink, outcome string) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_notifications_total{sink=%q,outcome=%q}`, sink, outcome)).Inc()
}

// Gauge registers a gauge read from f at every scrape.
func (m *Metrics) Gauge(name string, f func() float64) {
	m.set.GetOrCreateGauge(name, f)
}

// LLMRequest records one request to the model: its outcome ("ok" or the
// error kind: timeout, context_overflow, server, ...), duration and the
// server's token counts.
func (m *Metrics) LLMRequest(model, outcome string, d time.Duration, promptTokens, completionTokens int) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_llm_requests_total{model=%q,outcome=%q}`, model, outcome)).Inc()
	m.set.GetOrCreateHistogram(fmt.Sprintf(`sleuth_llm_request_duration_seconds{model=%q}`, model)).Update(d.Seconds())
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_llm_prompt_tokens_total{model=%q}`, model)).Add(promptTokens)
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_llm_completion_tokens_total{model=%q}`, model)).Add(completionTokens)
	if outcome != "ok" {
		m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_llm_errors_total{model=%q,kind=%q}`, model, outcome)).Inc()
	}
}

// LLMStage records a finished model stage by outcome (accepted,
// commentary, failed) and whether it was partial.
func (m *Metrics) LLMStage(outcome string, partial bool) {
	m.set.GetOrCreateCounter(fmt.Sprintf(`sleuth_llm_stages_total{outcome=%q,partial="%t"}`, outcome, partial)).Inc()
}

// WritePrometheus writes the metrics in the Prometheus text format, with
// the gauges computed from st.
func (m *Metrics) WritePrometheus(w io.Writer, st store.Stats, now time.Time) {
	for state, n := range st.Investigations {
		m.set.GetOrCreateGauge(fmt.Sprintf(`sleuth_investigations{state=%q}`, state), nil).Set(float64(n))
	}
	m.set.GetOrCreateGauge("sleuth_incidents_open", nil).Set(float64(st.OpenIncidents))
	m.set.GetOrCreateGauge("sleuth_queue_depth", nil).Set(float64(st.Investigations[store.StateQueued]))
	m.set.GetOrCreateGauge("sleuth_queue_ready", nil).Set(float64(st.Ready))
	age := 0.0
	if !st.OldestQueued.IsZero() {
		age = now.Sub(st.OldestQueued).Seconds()
	}
	m.set.GetOrCreateGauge("sleuth_queue_oldest_age_seconds", nil).Set(age)
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}
