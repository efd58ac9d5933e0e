// Package server provides sleuth's HTTP interface: alert intake from
// Alertmanager, the read API, health and metrics.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
)

// Server serves the HTTP interface.
type Server struct {
	store   store.Store
	auth    config.Auth
	intake  config.Intake
	groups  config.Incidents
	log     *slog.Logger
	metrics *telemetry.Metrics
	now     func() time.Time
	// queued is called after a delivery queued investigations.
	queued func()
	// sessionAuth and readyDetail: see Options.
	sessionAuth func(*http.Request) bool
	readyDetail func() map[string]string
	ready       func() map[string]any
	mux         *http.ServeMux
}

// Options are the server's collaborators.
type Options struct {
	Store   store.Store
	Config  config.Config
	Log     *slog.Logger
	Metrics *telemetry.Metrics
	Now     func() time.Time
	// Queued is called when an intake queued investigations (the pool's Notify).
	Queued func()
	// Pages, if set, adds the web pages' routes (ui.UI.Register).
	Pages func(*http.ServeMux)
	// SessionAuth, if set, accepts an API request authenticated by a web
	// page session instead of the token (ui.UI.APIRequest).
	SessionAuth func(*http.Request) bool
	// ReadyDetail, if set, adds entries to /readyz's checks that do not
	// make sleuth unready (notification sinks).
	ReadyDetail func() map[string]string
	// Routes are more API endpoints by ServeMux pattern, served behind the
	// API token (the HolmesGPT-compatible API).
	Routes map[string]http.Handler
	// Ready, if set, adds top-level keys to /readyz (HolmesGPT's "models",
	// the toolsets with why one is disabled).
	Ready func() map[string]any
}

// New returns the server.
func New(o Options) *Server {
	s := &Server{
		store: o.Store, auth: o.Config.Auth, intake: o.Config.Intake, groups: o.Config.Incidents,
		log: o.Log, metrics: o.Metrics, now: o.Now, queued: o.Queued,
		sessionAuth: o.SessionAuth, readyDetail: o.ReadyDetail, ready: o.Ready,
		mux: http.NewServeMux(),
	}
	for pattern, h := range o.Routes {
		s.mux.Handle(pattern, s.apiAuth(h))
	}
	if s.queued == nil {
		s.queued = func() {}
	}
	s.mux.Handle("POST /api/alerts", s.webhookAuth(http.HandlerFunc(s.handleAlerts)))
	s.mux.Handle("POST /webhook", s.webhookAuth(http.HandlerFunc(s.handleAlerts)))
	s.mux.Handle("GET /api/incidents", s.apiAuth(http.HandlerFunc(s.handleIncidents)))
	s.mux.Handle("GET /api/incidents/{id}", s.apiAuth(http.HandlerFunc(s.handleIncident)))
	s.mux.Handle("GET /api/investigations", s.apiAuth(http.HandlerFunc(s.handleInvestigations)))
	s.mux.Handle("GET /api/investigations/{id}", s.apiAuth(http.HandlerFunc(s.handleInvestigation)))
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)
	if o.Pages != nil {
		o.Pages(s.mux)
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// webhookAuth accepts the webhook bearer token or the basic auth pair,
// whichever is configured; with neither configured, everyone.
func (s *Server) webhookAuth(next http.Handler) http.Handler {
	token, user, pass := s.auth.WebhookToken, s.auth.WebhookUsername, s.auth.WebhookPassword
	if token == "" && user == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			if t, ok := bearer(r); ok && equal(t, token) {
				next.ServeHTTP(w, r)
				return
			}
		}
		if user != "" {
			if u, p, ok := r.BasicAuth(); ok && equal(u, user) && equal(p, pass) {
				next.ServeHTTP(w, r)
				return
			}
		}
		s.metrics.Rejected("unauthorized")
		s.log.Warn("webhook request rejected: bad or missing credentials", "remote", r.RemoteAddr, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="sleuth"`)
		writeError(w, http.StatusUnauthorized, "missing or invalid credentials")
	})
}

// apiAuth accepts the API token as a bearer token or in X-API-Key.
func (s *Server) apiAuth(next http.Handler) http.Handler {
	token := s.auth.APIToken
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessionAuth != nil && s.sessionAuth(r) {
			next.ServeHTTP(w, r)
			return
		}
		t, ok := bearer(r)
		if !ok {
			t = r.Header.Get("X-API-Key")
		}
		if t == "" || !equal(t, token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sleuth"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid API token (Authorization: Bearer or X-API-Key)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, t, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(t), true
}

// intakeResponse answers an accepted delivery.
type intakeResponse struct {
	Status string `json:"status"`
	store.IngestResult
}

// handleAlerts takes an Alertmanager delivery. Alertmanager retries 5xx and
// transport errors but never 4xx, so 4xx is reserved for payloads that can
// never succeed, and 2xx is sent only after the commit.
func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.intake.MaxBodyBytes)
	p, err := alert.Decode(r.Body)
	var ae *alert.Error
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
	case errors.As(err, &ae):
		s.metrics.Rejected("malformed")
		s.log.Warn("webhook payload rejected", "remote", r.RemoteAddr, "err", err)
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error(), Field: ae.Field})
		return
	case errors.As(err, &mbe):
		s.metrics.Rejected("too_large")
		writeError(w, http.StatusRequestEntityTooLarge, "body larger than intake.max_body_bytes ("+strconv.FormatInt(s.intake.MaxBodyBytes, 10)+" bytes)")
		return
	default:
		// The body could not be read (client gone, read timeout): nothing
		// says the payload is bad, so invite a retry.
		s.metrics.Rejected("read_error")
		s.log.Warn("webhook body not read", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	in := store.Ingest{Now: s.now(), Receiver: p.Receiver, Cooldown: s.groups.Cooldown, Alerts: make([]store.KeyedAlert, len(p.Alerts))}
	for i, a := range p.Alerts {
		in.Alerts[i] = store.KeyedAlert{Alert: a, Key: incident.Key(s.groups.GroupBy, a.Labels), Workload: incident.Workload(a.Labels)}
	}
	res, err := s.store.Ingest(r.Context(), in)
	if err != nil {
		s.metrics.Rejected("store")
		s.log.Error("store alerts", "alerts", len(p.Alerts), "err", err)
		// 503 makes Alertmanager retry: the store may be back.
		writeError(w, http.StatusServiceUnavailable, "store unavailable, retry later")
		return
	}
	s.metrics.AlertsReceived.Add(len(p.Alerts))
	s.metrics.AlertsDeduplicated.Add(res.Duplicates)
	s.metrics.AlertsResolved.Add(res.Resolved)
	s.metrics.IncidentsCreated.Add(res.NewIncidents)
	s.metrics.Queued.Add(res.Queued)
	if res.Queued > 0 {
		s.queued()
	}
	s.log.Debug("alerts stored", "receiver", p.Receiver, "new", res.New, "duplicates", res.Duplicates,
		"resolved", res.Resolved, "incidents", res.NewIncidents, "queued", res.Queued)
	writeJSON(w, http.StatusOK, intakeResponse{Status: "ok", IngestResult: res})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness: store not writable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "checks": map[string]string{"store": err.Error()}})
		return
	}
	checks := map[string]string{"store": "ok"}
	if s.readyDetail != nil {
		for k, v := range s.readyDetail() {
			checks[k] = v
		}
	}
	body := map[string]any{"status": "ready", "checks": checks}
	if s.ready != nil {
		for k, v := range s.ready() {
			body[k] = v
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	now := s.now()
	st, err := s.store.Stats(ctx, now)
	if err != nil {
		s.log.Error("metrics: read store stats", "err", err)
		http.Error(w, "store stats: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.metrics.WritePrometheus(w, st, now)
}
