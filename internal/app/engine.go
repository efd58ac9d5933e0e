package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/engine"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/logsql"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/runbook"
)

// NewEngine builds the investigation engine from the configuration. A
// backend that is not configured, or cannot be set up, is left out with the
// reason, which reports then show under "could not check"; broken runbook
// files are logged and the others still load.
func NewEngine(cfg config.Config, log *slog.Logger, now func() time.Time) (*engine.Engine, error) {
	base, err := openKnowledgeBase(cfg, log)
	if err != nil {
		return nil, err
	}
	return NewEngineWith(cfg, log, now, base)
}

// NewEngineWith is NewEngine with the knowledge base given (nil: none), so
// that the service shares one with the model's tools and its reloader.
func NewEngineWith(cfg config.Config, log *slog.Logger, now func() time.Time, kbase engine.KnowledgeBase) (*engine.Engine, error) {
	b := engine.Backends{Missing: map[string]string{}, KB: kbase}
	if cfg.Prometheus.URL != "" {
		c, err := promql.New(promql.Config{URL: cfg.Prometheus.URL, Timeout: cfg.Prometheus.Timeout})
		if err != nil {
			return nil, fmt.Errorf("prometheus.url: %w", err)
		}
		b.Prom = c
	} else {
		b.Missing["metrics"] = "prometheus.url is not configured"
	}
	if cfg.VictoriaLogs.URL != "" {
		c, err := logsql.New(logsql.Config{URL: cfg.VictoriaLogs.URL, Timeout: cfg.VictoriaLogs.Timeout})
		if err != nil {
			return nil, fmt.Errorf("victorialogs.url: %w", err)
		}
		b.Logs = c
	} else {
		b.Missing["logs"] = "victorialogs.url is not configured"
	}
	if cfg.Kubernetes.Enabled {
		c, err := kube.New(kube.Config{Kubeconfig: cfg.Kubernetes.Kubeconfig, Context: cfg.Kubernetes.Context})
		if err != nil {
			// No cluster is a normal state on a laptop: investigate without.
			log.Warn("no Kubernetes access; investigations will not read the cluster", "err", err)
			b.Missing["kubernetes"] = "no cluster access: " + err.Error()
		} else {
			b.Kube = c
		}
	} else {
		b.Missing["kubernetes"] = "kubernetes.enabled is false"
	}
	b.Runbooks = loadRunbooks(cfg.Runbooks, log)
	return engine.New(engine.Config{LookBack: cfg.Investigation.LookBack}, b, log, now), nil
}

func loadRunbooks(cfg config.Runbooks, log *slog.Logger) *runbook.Set {
	var sets []*runbook.Set
	if cfg.Builtin {
		s, errs := runbook.Builtin()
		for _, e := range errs {
			log.Error("built-in runbook broken", "err", e.Error())
		}
		sets = append(sets, s)
	}
	if len(cfg.Dirs) > 0 {
		s, errs := runbook.Load(cfg.Dirs...)
		for _, e := range errs {
			log.Error("runbook file not loaded", "file", e.File, "line", e.Line, "err", e.Error())
		}
		sets = append(sets, s)
	}
	set := runbook.Join(sets...)
	log.Info("runbooks loaded", "count", set.Len())
	return set
}
