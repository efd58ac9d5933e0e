package promql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BackendError is a call that the backend refused or that did not reach
// it. It names the backend and the query so that a person can retry it.
type BackendError struct {
	URL   string // the backend's base URL
	Op    string // query, query_range, series, label_values, rules, ...
	Query string // the expression or selector, if any
	// StatusCode is the HTTP status (0: no answer). Type and Message are
	// the API's errorType and error, or the start of a non-API body.
	StatusCode int
	Type       string
	Message    string
	// Err is the transport or decoding failure, if that is what happened.
	Err error
}

// Error says what was tried against which backend, and what went wrong.
func (e *BackendError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Query != "" {
		b.WriteString(" " + strconv.Quote(e.Query))
	}
	b.WriteString(" against " + e.URL + ": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	// VictoriaMetrics puts the status code in errorType; it says nothing new.
	if e.Type != "" && e.Type != strconv.Itoa(e.StatusCode) {
		b.WriteString(" (" + e.Type + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap returns the transport or decoding failure, if any.
func (e *BackendError) Unwrap() error { return e.Err }

// Retryable reports whether the same call may succeed later unchanged: the
// backend was unreachable, overloaded or too slow, not told something wrong.
func (e *BackendError) Retryable() bool {
	if e.Err != nil {
		return errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, syscall.ECONNREFUSED) ||
			errors.Is(e.Err, syscall.ECONNRESET)
	}
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.Type == "timeout"
}

// parseErrorBody reads an error answer: the API's JSON if it is one,
// otherwise the start of the body on one line (a proxy's HTML page, say).
func parseErrorBody(raw []byte) (typ, msg string) {
	var env struct {
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}
	if json.Unmarshal(raw, &env) == nil && env.Error != "" {
		return env.ErrorType, env.Error
	}
	s := strings.Join(strings.Fields(string(raw)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return "", s
}

// transportError explains a failed round trip in terms of what to do.
func transportError(ctx context.Context, err error, timeout time.Duration) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer within the %s timeout; narrow the time range or the selector, or raise the timeout: %w",
			timeout, context.DeadlineExceeded)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection refused; is the backend running at this URL? %w", err)
	}
	return err
}
