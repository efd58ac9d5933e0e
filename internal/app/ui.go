package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/notify"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/ui"
)

// newDispatcher builds the notification sinks the configuration enables.
func newDispatcher(cfg config.Config, st store.Store, log *slog.Logger, m notify.Metrics, now func() time.Time) (*notify.Dispatcher, error) {
	targets, err := notify.Targets(cfg.Notify)
	if err != nil {
		return nil, err
	}
	d := notify.New(notify.Config{
		QueueSize: cfg.Notify.QueueSize, MaxAttempts: cfg.Notify.MaxAttempts, RetryBackoff: cfg.Notify.RetryBackoff,
		ExternalURL: cfg.UI.ExternalURL,
	}, targets, st, log, m, now)
	if names := d.Sinks(); len(names) > 0 {
		log.Info("notifications enabled", "sinks", strings.Join(names, ","))
	}
	return d, nil
}

// newUI builds the web pages over the runbooks the engine loaded (the
// runbooks page lists the files that failed too).
func newUI(cfg config.Config, b *backends, st store.Store, log *slog.Logger, now func() time.Time, d *notify.Dispatcher) (*ui.UI, error) {
	return ui.New(ui.Options{
		Store: st, Config: cfg, Runbooks: b.runbooks, RunbookErrors: b.runbookErrs, Log: log, Now: now,
		Health: healthChecks(cfg, d),
	})
}

// healthChecks probes each configured backend, the LLM and the sinks, for
// the health page. Probes run one after another with a short timeout each:
// the page is for a person, not a load balancer.
func healthChecks(cfg config.Config, d *notify.Dispatcher) func(ctx context.Context) []ui.Check {
	client := &http.Client{Timeout: 5 * time.Second}
	var kc *kube.Client
	var kerr error
	if cfg.Kubernetes.Enabled {
		kc, kerr = kube.New(kube.Config{Kubeconfig: cfg.Kubernetes.Kubeconfig, Context: cfg.Kubernetes.Context, Timeout: 5 * time.Second})
	}
	return func(ctx context.Context) []ui.Check {
		var out []ui.Check
		probe := func(group, name, base, path, off string) {
			if base == "" {
				out = append(out, ui.Check{Group: group, Name: name, Status: "not configured", Detail: off})
				return
			}
			out = append(out, httpProbe(ctx, client, group, name, strings.TrimRight(base, "/")+path))
		}
		probe("backend", "metrics (prometheus.url)", cfg.Prometheus.URL, "/api/v1/query?query=1", "prometheus.url is not set")
		probe("backend", "logs (victorialogs.url)", cfg.VictoriaLogs.URL, "/health", "victorialogs.url is not set")
		switch {
		case !cfg.Kubernetes.Enabled:
			out = append(out, ui.Check{Group: "backend", Name: "kubernetes", Status: "not configured", Detail: "kubernetes.enabled is false"})
		case kerr != nil:
			out = append(out, ui.Check{Group: "backend", Name: "kubernetes", Status: "failing", Detail: kerr.Error()})
		default:
			start := time.Now()
			_, err := kc.Get(ctx, "namespaces", "", "kube-system")
			c := ui.Check{Group: "backend", Name: "kubernetes", Latency: time.Since(start), OK: true, Status: "ok", Detail: "API server answers"}
			if err != nil {
				msg := err.Error()
				if strings.Contains(msg, "forbidden") || strings.Contains(msg, "not found") {
					c.Detail = "API server answers: " + msg
				} else {
					c.OK, c.Status, c.Detail = false, "failing", msg
				}
			}
			out = append(out, c)
		}
		probe("llm", "model (llm.url)", cfg.LLM.URL, "/models", "llm.url is not set: reports are deterministic only")
		for _, s := range d.Statuses() {
			c := ui.Check{Group: "notify", Name: s.Name, OK: s.OK, Status: "ok",
				Detail: fmt.Sprintf("%d sent, %d failed, %d dropped, %d queued", s.Sent, s.Failed, s.Dropped, s.Queued)}
			if !s.OK {
				c.Status = "failing"
				c.Detail += "; since " + s.FailingSince.UTC().Format(time.RFC3339) + ": " + s.LastError
			}
			out = append(out, c)
		}
		return out
	}
}

// httpProbe GETs url: any answer below 500 shows the service is up (an
// LLM proxy may want a key for /models; that is still reachable).
func httpProbe(ctx context.Context, c *http.Client, group, name, url string) ui.Check {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ui.Check{Group: group, Name: name, Status: "failing", Detail: err.Error()}
	}
	resp, err := c.Do(req)
	lat := time.Since(start)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return ui.Check{Group: group, Name: name, Status: "failing", Detail: err.Error(), Latency: lat}
	}
	resp.Body.Close()
	ck := ui.Check{Group: group, Name: name, Latency: lat, OK: resp.StatusCode < 500, Status: "ok", Detail: "HTTP " + resp.Status}
	if !ck.OK {
		ck.Status = "failing"
	}
	return ck
}
