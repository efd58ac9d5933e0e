package app

import (
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/engine"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/logsql"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/runbook"
)

// backends are the clients and runbooks built once from the
// configuration and shared by the engine, the model's tools and the pages
// (the clients are safe for concurrent use; each call records through a
// copy made by WithRecorder). A backend that is not configured, or cannot
// be set up, is nil with the reason in missing, keyed by "kubernetes",
// "metrics", "logs".
type backends struct {
	prom        *promql.Client
	logs        *logsql.Client
	kube        *kube.Client
	missing     map[string]string
	runbooks    *runbook.Set
	runbookErrs []runbook.LoadError
}

func newBackends(cfg config.Config, log *slog.Logger) (*backends, error) {
	b := &backends{missing: map[string]string{}}
	if cfg.Prometheus.URL != "" {
		c, err := promql.New(promql.Config{URL: cfg.Prometheus.URL, Timeout: cfg.Prometheus.Timeout})
		if err != nil {
			return nil, fmt.Errorf("prometheus.url: %w", err)
		}
		b.prom = c
	} else {
		b.missing["metrics"] = "prometheus.url is not configured"
	}
	if cfg.VictoriaLogs.URL != "" {
		c, err := logsql.New(logsql.Config{URL: cfg.VictoriaLogs.URL, Timeout: cfg.VictoriaLogs.Timeout})
		if err != nil {
			return nil, fmt.Errorf("victorialogs.url: %w", err)
		}
		b.logs = c
	} else {
		b.missing["logs"] = "victorialogs.url is not configured"
	}
	if cfg.Kubernetes.Enabled {
		c, err := kube.New(kube.Config{Kubeconfig: cfg.Kubernetes.Kubeconfig, Context: cfg.Kubernetes.Context})
		if err != nil {
			// No cluster is a normal state on a laptop: investigate without.
			log.Warn("no Kubernetes access; investigations will not read the cluster", "err", err)
			b.missing["kubernetes"] = "no cluster access: " + err.Error()
		} else {
			b.kube = c
		}
	} else {
		b.missing["kubernetes"] = "kubernetes.enabled is false"
	}
	b.runbooks, b.runbookErrs = loadRunbooks(cfg.Runbooks, log)
	return b, nil
}

// NewEngine builds the investigation engine from the configuration. A
// backend that is not configured, or cannot be set up, is left out with the
// reason, which reports then show under "could not check"; broken runbook
// files are logged and the others still load.
func NewEngine(cfg config.Config, log *slog.Logger, now func() time.Time) (*engine.Engine, error) {
	base, err := openKnowledgeBase(cfg, log)
	if err != nil {
		return nil, err
	}
	b, err := newBackends(cfg, log)
	if err != nil {
		return nil, err
	}
	return newEngine(cfg, b, log, now, base), nil
}

// newEngine is the engine over shared backends, with the knowledge base
// given (nil: none), so that the service shares one with the model's tools
// and its reloader.
func newEngine(cfg config.Config, b *backends, log *slog.Logger, now func() time.Time, kbase engine.KnowledgeBase) *engine.Engine {
	eb := engine.Backends{Kube: b.kube, Prom: b.prom, Logs: b.logs, Runbooks: b.runbooks, Missing: maps.Clone(b.missing), KB: kbase}
	return engine.New(engine.Config{LookBack: cfg.Investigation.LookBack}, eb, log, now)
}

// loadRunbooks loads the built-in runbooks and the configured files, and
// logs the files that failed; the runbooks page lists them too.
func loadRunbooks(cfg config.Runbooks, log *slog.Logger) (*runbook.Set, []runbook.LoadError) {
	var sets []*runbook.Set
	var all []runbook.LoadError
	if cfg.Builtin {
		s, errs := runbook.Builtin()
		for _, e := range errs {
			log.Error("built-in runbook broken", "err", e.Error())
		}
		sets, all = append(sets, s), append(all, errs...)
	}
	if len(cfg.Dirs) > 0 {
		s, errs := runbook.Load(cfg.Dirs...)
		for _, e := range errs {
			log.Error("runbook file not loaded", "file", e.File, "line", e.Line, "err", e.Error())
		}
		sets, all = append(sets, s), append(all, errs...)
	}
	set := runbook.Join(sets...)
	log.Info("runbooks loaded", "count", set.Len())
	return set, all
}
