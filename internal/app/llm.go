package app

import (
	"errors"
	"log/slog"
	"maps"
	"os"
	"time"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/engine"
	"github.com/sleuth-sre/sleuth/internal/holmes"
	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/core"
)

// NewAgent registers the built-in toolsets in reg and, when llm.url is
// set, returns the model stage over reg's tools (nil without a model).
// m may be nil.
func NewAgent(cfg config.Config, reg *tools.Registry, m *telemetry.Metrics, log *slog.Logger, now func() time.Time) (*agent.Agent, error) {
	// The commands build the engine beside it, which already logged what
	// the backends and runbooks say.
	b, err := newBackends(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return newAgent(cfg, b, reg, m, log, now)
}

// newAgent is NewAgent over shared backends.
func newAgent(cfg config.Config, b *backends, reg *tools.Registry, m *telemetry.Metrics, log *slog.Logger, now func() time.Time) (*agent.Agent, error) {
	cb := core.Backends{Kube: b.kube, Prom: b.prom, Logs: b.logs, Runbooks: b.runbooks, Missing: maps.Clone(b.missing)}
	if err := core.Register(reg, cb); err != nil {
		return nil, err
	}
	if cfg.LLM.URL == "" {
		return nil, nil
	}
	if cfg.LLM.Model == "" {
		return nil, errors.New("llm.model: set the model name the server serves (llm.url is set)")
	}
	key, err := llm.ResolveKey(cfg.LLM.APIKey, os.Getenv)
	if err != nil {
		return nil, err
	}
	lc := llm.Config{URL: cfg.LLM.URL, Model: cfg.LLM.Model, APIKey: key, Timeout: cfg.LLM.Timeout,
		Retries: cfg.LLM.Retries, MaxTokens: cfg.LLM.MaxOutputTokens}
	if cfg.LLM.Retries == 0 {
		lc.Retries = -1 // zero means none here, not the client's default
	}
	if m != nil {
		lc.Observe = func(a llm.Attempt) {
			outcome := "ok"
			var le *llm.Error
			if errors.As(a.Err, &le) {
				outcome = string(le.Kind)
			}
			m.LLMRequest(a.Model, outcome, a.Duration, a.Usage.PromptTokens, a.Usage.CompletionTokens)
		}
	}
	client, err := llm.New(lc)
	if err != nil {
		return nil, err
	}
	ac := agent.Config{ContextTokens: cfg.LLM.ContextTokens, MaxOutputTokens: cfg.LLM.MaxOutputTokens,
		MaxSteps: cfg.LLM.MaxSteps, Log: log, Now: now}
	if b.kube != nil {
		ac.Checker = agent.KubeChecker{Kube: b.kube}
	}
	a := agent.New(client, reg, ac)
	log.Info("llm stage enabled", "url", redact(cfg.LLM.URL), "model", cfg.LLM.Model, "context_tokens", cfg.LLM.ContextTokens,
		"token_counter", llm.CounterFor(cfg.LLM.Model).Name())
	return a, nil
}

// investigator runs the engine, then the model stage when there is one.
func investigator(eng *engine.Engine, ag *agent.Agent, m *telemetry.Metrics) holmes.Deterministic {
	if ag == nil {
		return eng
	}
	return &agent.Investigator{Engine: eng, Agent: ag, Finished: func(s *report.LLMStage) { m.LLMStage(s.Outcome, s.Partial) }}
}
