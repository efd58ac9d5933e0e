package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/engine"
	"github.com/sleuth-sre/sleuth/internal/holmes"
	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/queue"
	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/bash"
	"github.com/sleuth-sre/sleuth/internal/toolsets/bounded"
	"github.com/sleuth-sre/sleuth/internal/toolsets/custom"
	"github.com/sleuth-sre/sleuth/internal/toolsets/kb"
)

// openKnowledgeBase opens knowledge_base.dir, or returns nil (as the
// interface, so that a missing base is nil) when it is not configured.
func openKnowledgeBase(cfg config.Config, log *slog.Logger) (engine.KnowledgeBase, error) {
	base, err := knowledgeBase(cfg, log)
	if base == nil {
		return nil, err
	}
	return base, nil
}

func knowledgeBase(cfg config.Config, log *slog.Logger) (*kb.Base, error) {
	if cfg.KnowledgeBase.Dir == "" {
		return nil, nil
	}
	base, err := kb.Open(cfg.KnowledgeBase.Dir, log)
	if err != nil {
		return nil, fmt.Errorf("knowledge_base.dir: %w", err)
	}
	log.Info("knowledge base loaded", "dir", cfg.KnowledgeBase.Dir, "documents", base.Len())
	return base, nil
}

func toolLimits(cfg config.Config) bounded.Limits {
	return bounded.Limits{Timeout: cfg.Toolsets.Timeout, MaxOutput: cfg.Toolsets.MaxOutputBytes, MaxMemory: cfg.Toolsets.MemoryLimitBytes}
}

// addToolsets registers the custom toolsets, the bash toolset and the
// knowledge base. A custom toolset file with errors is not loaded and the
// error is returned: a toolset the operator wrote and the model silently
// lacks is worse than a refusal to start. A toolset whose prerequisites
// fail is registered disabled, with the reason (/readyz, the prompt).
func addToolsets(ctx context.Context, cfg config.Config, reg *tools.Registry, base *kb.Base, log *slog.Logger) error {
	if len(cfg.Toolsets.CustomFiles) > 0 {
		sets, err := custom.Load(cfg.Toolsets.CustomFiles, custom.Options{Limits: toolLimits(cfg)})
		if err != nil {
			return fmt.Errorf("toolsets.custom_files: %w", err)
		}
		for _, s := range sets {
			ts := s.Check(ctx)
			if !ts.Enabled {
				log.Warn("custom toolset disabled", "toolset", ts.Name, "reason", ts.Reason)
			}
			if err := reg.Add(ts); err != nil {
				return fmt.Errorf("toolsets.custom_files: %w", err)
			}
		}
	}
	if cfg.Toolsets.Bash.Enabled {
		ts := bash.Toolset(bash.Config{
			Policy: bash.Policy{Allow: cfg.Toolsets.Bash.Allow, Deny: cfg.Toolsets.Bash.Deny},
			Limits: toolLimits(cfg), Kubeconfig: cfg.Kubernetes.Kubeconfig, Context: cfg.Kubernetes.Context,
		})
		if err := reg.Add(ts); err != nil {
			return err
		}
	}
	if base != nil {
		if err := reg.Add(kb.Toolset(base)); err != nil {
			return err
		}
	}
	return nil
}

// withForward wraps the investigator in forward mode.
func withForward(cfg config.Config, inv holmes.Deterministic) (queue.Investigator, error) {
	if cfg.Forward.URL == "" {
		return inv, nil
	}
	key := ""
	if cfg.Forward.APIKey != "" {
		k, err := llm.ResolveKey(cfg.Forward.APIKey, os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("forward.api_key: %w", err)
		}
		key = k
	}
	return &holmes.Forwarder{Engine: inv, URL: cfg.Forward.URL, APIKey: key, Timeout: cfg.Forward.Timeout, MaxAttempts: cfg.Queue.MaxAttempts}, nil
}
