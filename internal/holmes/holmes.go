// Package holmes provides sleuth's HolmesGPT-compatible HTTP API, so that
// HolmesGPT's clients (the seed's Alertmanager bridge, Robusta, curl
// checks) can point at sleuth unchanged: POST /api/investigate and
// /api/stream/investigate, POST /api/chat (plain and streamed), POST
// /api/issue_chat and GET /api/model, with HolmesGPT's field names
// exactly. An investigation asked for here is the same investigation as
// one from Alertmanager: the request becomes an alert, goes through the
// store's dedup and incident rules and the queue, is stored and listed in
// /api/investigations, and the answer is its report (deterministic stage
// first, the model's when one is configured). Where HolmesGPT misbehaves,
// this API is correct instead; docs/compat.md lists the differences.
package holmes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/progress"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// Store is what the API needs of the store.
type Store interface {
	storeIngester
	storeReader
}

// Options are the API's collaborators.
type Options struct {
	Store  Store
	Config config.Config
	// Queued wakes the queue after an investigation was queued.
	Queued func()
	// Agent answers chat questions; nil without a model.
	Agent *agent.Agent
	// Registry holds the toolsets, for /readyz and the tool list.
	Registry *tools.Registry
	Log      *slog.Logger
	Now      func() time.Time
	// Poll is how often a waiting request looks at its investigation
	// (default 200ms).
	Poll time.Duration
	// Progress passes running investigations' events to
	// /api/stream/investigate; nil: streams replay the stored report when
	// the investigation is done.
	Progress *progress.Broker
	// KeepAlive is how long a stream may stay silent before an SSE comment
	// is sent, so that proxies keep it open while it is queued or the model
	// thinks (default 15s).
	KeepAlive time.Duration
}

// API serves the HolmesGPT-compatible endpoints.
type API struct {
	o Options
}

// New returns the API.
func New(o Options) *API {
	if o.Queued == nil {
		o.Queued = func() {}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.Registry == nil {
		o.Registry = &tools.Registry{}
	}
	return &API{o: o}
}

// Routes returns the endpoints by ServeMux pattern; the server puts them
// behind its API token.
func (a *API) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"POST /api/investigate":        http.HandlerFunc(a.handleInvestigate),
		"POST /api/stream/investigate": http.HandlerFunc(a.handleStreamInvestigate),
		"POST /api/chat":               http.HandlerFunc(a.handleChat),
		"POST /api/issue_chat":         http.HandlerFunc(a.handleIssueChat),
		"GET /api/model":               http.HandlerFunc(a.handleModel),
	}
}

// Models returns the model keys requests may name: the configured model,
// when there is one.
func (a *API) Models() []string {
	if a.o.Config.LLM.URL == "" || a.o.Config.LLM.Model == "" {
		return []string{}
	}
	return []string{a.o.Config.LLM.Model}
}

// Ready returns what /readyz adds: the models, as HolmesGPT's /readyz has
// them, and each toolset with why it is disabled.
func (a *API) Ready() map[string]any {
	type ts struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
		Reason  string `json:"reason,omitempty"`
		Tools   int    `json:"tools"`
	}
	var sets []ts
	for _, t := range a.o.Registry.Toolsets() {
		sets = append(sets, ts{Name: t.Name, Enabled: t.Enabled, Reason: t.Reason, Tools: len(t.Tools)})
	}
	if sets == nil {
		sets = []ts{}
	}
	return map[string]any{"models": a.Models(), "toolsets": sets}
}

// handleModel answers HolmesGPT's odd shape: the model list JSON-encoded
// inside a string.
func (a *API) handleModel(w http.ResponseWriter, r *http.Request) {
	list, _ := json.Marshal(a.Models())
	writeJSON(w, http.StatusOK, map[string]string{"model_name": string(list)})
}

// checkModel answers 400 for a model key that is not configured, where
// HolmesGPT silently uses its default.
func (a *API) checkModel(model string) error {
	if model == "" || slices.Contains(a.Models(), model) {
		return nil
	}
	return fmt.Errorf("unknown model %q; the configured models are %q", model, a.Models())
}

// maxBody bounds a request body: a chat history with tool results is the
// largest, and 4 MiB holds far more than a local model's context.
const maxBody = 4 << 20

// fieldError is FastAPI's validation error item, which HolmesGPT's clients
// receive with a 422.
type fieldError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// decode reads a JSON body; a malformed one is a 422 as in HolmesGPT.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeDetail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody))
			return false
		}
		writeDetail(w, http.StatusBadRequest, "read body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []fieldError{{Loc: []string{"body"}, Msg: "invalid JSON: " + err.Error(), Type: "json_invalid"}}})
		return false
	}
	return true
}

func missing(w http.ResponseWriter, fields ...string) bool {
	if len(fields) == 0 {
		return false
	}
	var errs []fieldError
	for _, f := range fields {
		errs = append(errs, fieldError{Loc: []string{"body", f}, Msg: "Field required", Type: "missing"})
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": errs})
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeDetail writes HolmesGPT's error body.
func writeDetail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"detail": msg})
}

// llmStatus maps a model failure to HolmesGPT's status codes: 401 for a
// refused key, 429 for rate limiting, 500 otherwise.
func llmStatus(err error) int {
	var le *llm.Error
	if errors.As(err, &le) {
		switch le.Kind {
		case llm.KindAuth:
			return http.StatusUnauthorized
		case llm.KindRateLimit:
			return http.StatusTooManyRequests
		}
	}
	return http.StatusInternalServerError
}

// sse writes Server-Sent Events.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// written counts what was sent: a stream silent for a while gets a
	// keep-alive comment.
	written int
}

func startSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx in front (the seed's llm-proxy pattern)
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w)}
	_ = s.rc.Flush()
	return s
}

func (s *sse) event(name string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b)
	_ = s.rc.Flush()
	s.written++
}

// comment keeps a proxy from closing an idle stream.
func (s *sse) comment(text string) {
	fmt.Fprintf(s.w, ": %s\n\n", strings.ReplaceAll(text, "\n", " "))
	_ = s.rc.Flush()
	s.written++
}

// fail ends a stream with HolmesGPT's error event; HolmesGPT sometimes
// just drops the connection, which a client cannot tell from a network
// failure.
func (s *sse) fail(code int, err error) {
	s.event("error", map[string]any{"description": err.Error(), "error_code": code, "msg": err.Error(), "success": false})
}

func ctxErr(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return ctx.Err()
}
