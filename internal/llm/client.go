package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one call: a 30B model on a laptop reads an 8K
	// prompt in one or two minutes.
	DefaultTimeout = 3 * time.Minute
	// DefaultRetries is the retries of a call that failed transiently.
	DefaultRetries = 2
	// DefaultBackoff is the delay before the first retry; it doubles.
	DefaultBackoff = 2 * time.Second
	// DefaultMaxTokens bounds an answer when a request does not.
	DefaultMaxTokens = 1024
	// maxErrorBody bounds what is kept of an error answer.
	maxErrorBody = 4 << 10
)

// Config says how to reach the model.
type Config struct {
	// URL is the OpenAI-compatible base URL, such as http://llm-proxy:8080/v1.
	URL   string
	Model string
	// APIKey is sent as a bearer token; local servers need none.
	APIKey string
	// Timeout bounds one attempt (0: DefaultTimeout).
	Timeout time.Duration
	// Retries of a transient failure (negative: none; 0: DefaultRetries).
	Retries int
	// Backoff before the first retry, doubled per retry (0: DefaultBackoff).
	Backoff time.Duration
	// MaxTokens bounds answers of requests without their own bound.
	MaxTokens int
	// HTTPClient is used when set (tests, proxies).
	HTTPClient *http.Client
	// Sleep waits between retries (nil: a timer honouring ctx); tests
	// inject one that does not wait.
	Sleep func(ctx context.Context, d time.Duration) error
	// Observe, when set, is told about every attempt: for metrics.
	Observe func(Attempt)
}

// Attempt describes one request to the server, for metrics.
type Attempt struct {
	Model    string
	Duration time.Duration
	Usage    Usage
	// Err is nil on success; errors.As it to *Error for the kind.
	Err error
}

// Client calls one model. It is safe for concurrent use.
type Client struct {
	cfg Config
	oa  openai.Client
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("llm: no URL configured")
	}
	if cfg.Model == "" {
		return nil, errors.New("llm: no model configured")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.Retries < 0:
		cfg.Retries = 0
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	key := cfg.APIKey
	if key == "" {
		// The SDK insists on a key; local servers ignore it.
		key = "none"
	}
	oa := openai.NewClient(
		option.WithBaseURL(strings.TrimRight(cfg.URL, "/")+"/"),
		option.WithAPIKey(key),
		option.WithHTTPClient(hc),
		// Retries are ours: they honour the configured backoff and tell a
		// context overflow (never worth retrying as is) from a timeout.
		option.WithMaxRetries(0),
		option.WithMiddleware(keepErrorBody),
	)
	return &Client{cfg: cfg, oa: oa}, nil
}

// Model returns the configured model name.
func (c *Client) Model() string { return c.cfg.Model }

// Complete sends the request, retrying transient failures with backoff.
// Each attempt is bounded by the configured timeout. The error is an
// *Error.
func (c *Client) Complete(ctx context.Context, req Request) (*Response, error) {
	params, err := c.params(req)
	if err != nil {
		return nil, &Error{Kind: KindBadRequest, Err: err}
	}
	delay := c.cfg.Backoff
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, params)
		if err == nil {
			resp.Attempts = attempt
			return resp, nil
		}
		var e *Error
		if !errors.As(err, &e) || !e.Retryable() || attempt > c.cfg.Retries || ctx.Err() != nil {
			if e != nil {
				e.Attempts = attempt
			}
			return nil, err
		}
		if serr := c.cfg.Sleep(ctx, delay); serr != nil {
			e.Attempts = attempt
			return nil, err
		}
		delay *= 2
	}
}

func (c *Client) once(ctx context.Context, params openai.ChatCompletionNewParams) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	holder := &errorBody{}
	actx = context.WithValue(actx, errorBodyKey{}, holder)
	start := time.Now()
	cc, err := c.oa.Chat.Completions.New(actx, params)
	d := time.Since(start)
	var resp *Response
	if err == nil {
		resp, err = convert(cc)
	}
	if err != nil {
		err = classify(err, holder, ctx, actx, c.cfg.Timeout)
	}
	if c.cfg.Observe != nil {
		a := Attempt{Model: c.cfg.Model, Duration: d, Err: err}
		if resp != nil {
			a.Usage = resp.Usage
		}
		c.cfg.Observe(a)
	}
	return resp, err
}

func (c *Client) params(req Request) (openai.ChatCompletionNewParams, error) {
	p := openai.ChatCompletionNewParams{Model: shared.ChatModel(c.cfg.Model)}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = c.cfg.MaxTokens
	}
	// max_tokens, not max_completion_tokens: the local servers read the
	// older name, and OpenAI still accepts it for non-reasoning models.
	p.MaxTokens = openai.Int(int64(maxTokens))
	// Investigations want the most likely reading, not creativity.
	p.Temperature = openai.Float(0)
	for _, m := range req.Messages {
		mp, err := messageParam(m)
		if err != nil {
			return p, err
		}
		p.Messages = append(p.Messages, mp)
	}
	for _, t := range req.Tools {
		fd := shared.FunctionDefinitionParam{Name: t.Name}
		if t.Description != "" {
			fd.Description = openai.String(t.Description)
		}
		if len(t.Parameters) > 0 {
			var schema map[string]any
			if err := json.Unmarshal(t.Parameters, &schema); err != nil {
				return p, fmt.Errorf("tool %s: parameters are not a JSON object: %w", t.Name, err)
			}
			fd.Parameters = schema
		} else {
			fd.Parameters = map[string]any{"type": "object", "properties": map[string]any{}}
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(fd))
	}
	if len(req.Tools) > 0 && req.NoTools {
		p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("none")}
	}
	return p, nil
}

func messageParam(m Message) (openai.ChatCompletionMessageParamUnion, error) {
	switch m.Role {
	case RoleSystem:
		return openai.SystemMessage(m.Content), nil
	case RoleUser:
		return openai.UserMessage(m.Content), nil
	case RoleTool:
		return openai.ToolMessage(m.Content, m.ToolCallID), nil
	case RoleAssistant:
		a := openai.ChatCompletionAssistantMessageParam{}
		if m.Content != "" || len(m.ToolCalls) == 0 {
			a.Content.OfString = openai.String(m.Content)
		}
		for _, tc := range m.ToolCalls {
			a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
					ID:       tc.ID,
					Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Function.Name, Arguments: tc.Function.Arguments},
				},
			})
		}
		return openai.ChatCompletionMessageParamUnion{OfAssistant: &a}, nil
	}
	return openai.ChatCompletionMessageParamUnion{}, fmt.Errorf("message role %q: want system, user, assistant or tool", m.Role)
}

func convert(cc *openai.ChatCompletion) (*Response, error) {
	if len(cc.Choices) == 0 {
		return nil, &Error{Kind: KindBadResponse, Err: errors.New("the answer has no choices")}
	}
	ch := cc.Choices[0]
	msg := Message{Role: RoleAssistant, Content: ch.Message.Content}
	for _, name := range []string{"reasoning_content", "reasoning"} {
		if f, ok := ch.Message.JSON.ExtraFields[name]; ok {
			var s string
			if json.Unmarshal([]byte(f.Raw()), &s) == nil && s != "" {
				msg.Reasoning = s
				break
			}
		}
	}
	for _, tc := range ch.Message.ToolCalls {
		if tc.Function.Name == "" {
			continue
		}
		msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: tc.ID, Type: "function",
			Function: FunctionCall{Name: tc.Function.Name, Arguments: tc.Function.Arguments}})
	}
	return &Response{
		Message:      msg,
		FinishReason: ch.FinishReason,
		Usage:        Usage{PromptTokens: int(cc.Usage.PromptTokens), CompletionTokens: int(cc.Usage.CompletionTokens)},
		Model:        cc.Model,
	}, nil
}

// errorBody keeps the status and body of an error answer: servers word
// their errors differently (LM Studio sends {"error": "a string"}, which
// the SDK does not decode), and the words tell a context overflow apart.
type errorBody struct {
	mu     sync.Mutex
	status int
	body   string
}

type errorBodyKey struct{}

func keepErrorBody(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	if err != nil || resp == nil || resp.StatusCode < 400 {
		return resp, err
	}
	if h, ok := req.Context().Value(errorBodyKey{}).(*errorBody); ok {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		h.mu.Lock()
		h.status, h.body = resp.StatusCode, string(b)
		h.mu.Unlock()
	}
	return resp, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ResolveKey returns the API key a configuration value names: the value
// itself, "file:PATH" (the file's content, trimmed: a mounted Secret) or
// "env:NAME" (that variable).
func ResolveKey(v string, getenv func(string) string) (string, error) {
	switch {
	case strings.HasPrefix(v, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(v, "file:"))
		if err != nil {
			return "", fmt.Errorf("llm.api_key: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		k := getenv(name)
		if k == "" {
			return "", fmt.Errorf("llm.api_key: environment variable %s is empty or not set", name)
		}
		return k, nil
	}
	return v, nil
}
