package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
)

// Kind classifies a failed call by what the caller can do about it.
type Kind string

// Kinds of errors.
const (
	// KindTimeout: the attempt ran past the configured timeout.
	KindTimeout Kind = "timeout"
	// KindUnreachable: no answer at all (connection refused, DNS, reset).
	KindUnreachable Kind = "unreachable"
	// KindAuth: the server refused the key (401, 403).
	KindAuth Kind = "auth"
	// KindRateLimit: 429.
	KindRateLimit Kind = "rate_limit"
	// KindContextOverflow: the prompt does not fit the model's context as
	// the server loaded it; retrying the same request cannot help, a
	// shorter one can.
	KindContextOverflow Kind = "context_overflow"
	// KindServer: a 5xx that is not an overflow.
	KindServer Kind = "server"
	// KindBadRequest: another 4xx (unknown model, bad parameters).
	KindBadRequest Kind = "bad_request"
	// KindBadResponse: a 2xx the client could not use.
	KindBadResponse Kind = "bad_response"
	// KindCanceled: the caller's context ended.
	KindCanceled Kind = "canceled"
)

// Error is a failed call.
type Error struct {
	Kind Kind
	// Status is the HTTP status, 0 without an answer.
	Status int
	// Message is the server's own words, bounded.
	Message string
	// ContextLimit is the server's context size when an overflow error
	// says it (LM Studio, vLLM and llama.cpp do), else 0.
	ContextLimit int
	// Attempts is how many requests were made.
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("llm ")
	b.WriteString(string(e.Kind))
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	} else if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed later.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindTimeout, KindUnreachable, KindRateLimit, KindServer, KindBadResponse:
		return true
	}
	return false
}

// overflowWords are how servers say a prompt is too long: LM Studio
// ("...the model is loaded with context length of only 4096 tokens"),
// vLLM and OpenAI ("maximum context length is 4096 tokens"), llama.cpp
// ("the request exceeds the available context size"), Ollama
// ("input length exceeds the context length").
var overflowWords = []string{
	"context length", "context size", "context window", "maximum context",
	"exceeds the available context", "too many tokens", "prompt is too long",
	"n_ctx", "context_length_exceeded", "exceed_context_size",
}

// limitRes find the context size in an overflow message.
var limitRes = []*regexp.Regexp{
	regexp.MustCompile(`(?i)context length of only (\d+)`),
	regexp.MustCompile(`(?i)maximum context length is (\d+)`),
	regexp.MustCompile(`"n_ctx"\s*:\s*(\d+)`),
	regexp.MustCompile(`(?i)n_ctx\D{0,4}(\d+)`),
	regexp.MustCompile(`(?i)context (?:length|size|window)(?: is| of)?\D{0,4}(\d{3,7})`),
}

func classify(err error, h *errorBody, parent, attempt context.Context, timeout time.Duration) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	h.mu.Lock()
	status, body := h.status, h.body
	h.mu.Unlock()
	var apiErr *openai.Error
	if errors.As(err, &apiErr) && status == 0 {
		status = apiErr.StatusCode
		if body == "" {
			body = apiErr.Message
		}
	}
	switch {
	case status != 0:
		e = &Error{Status: status, Message: serverMessage(body), Err: err}
		switch {
		case isOverflow(body):
			e.Kind, e.ContextLimit = KindContextOverflow, contextLimit(body)
		case status == 401 || status == 403:
			e.Kind = KindAuth
		case status == 429:
			e.Kind = KindRateLimit
		case status == 408 || status >= 500:
			e.Kind = KindServer
		default:
			e.Kind = KindBadRequest
		}
		return e
	case parent.Err() != nil:
		return &Error{Kind: KindCanceled, Err: parent.Err()}
	case errors.Is(attempt.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindTimeout, Message: fmt.Sprintf("no answer within llm.timeout (%v)", timeout), Err: err}
	}
	var ne net.Error
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr), strings.Contains(err.Error(), "unmarshal"), strings.Contains(err.Error(), "invalid character"),
		strings.Contains(err.Error(), "content-type"):
		return &Error{Kind: KindBadResponse, Message: "the answer is not a chat completion: " + err.Error(), Err: err}
	case errors.As(err, &ne) && ne.Timeout():
		return &Error{Kind: KindTimeout, Err: err}
	}
	return &Error{Kind: KindUnreachable, Err: err}
}

func isOverflow(body string) bool {
	l := strings.ToLower(body)
	for _, w := range overflowWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

func contextLimit(body string) int {
	for _, re := range limitRes {
		if m := re.FindStringSubmatch(body); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n >= 256 {
				return n
			}
		}
	}
	return 0
}

// serverMessage extracts the server's words from an error body: the
// "message" of {"error": {...}}, the string of {"error": "..."}, or the
// body itself, bounded.
func serverMessage(body string) string {
	var obj struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	msg := strings.TrimSpace(body)
	if json.Unmarshal([]byte(body), &obj) == nil {
		var s string
		var inner struct {
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(obj.Error, &s) == nil && s != "":
			msg = s
		case json.Unmarshal(obj.Error, &inner) == nil && inner.Message != "":
			msg = inner.Message
		case obj.Message != "":
			msg = obj.Message
		case obj.Detail != "":
			msg = obj.Detail
		}
	}
	if len(msg) > 500 {
		msg = msg[:500] + "..."
	}
	return msg
}
