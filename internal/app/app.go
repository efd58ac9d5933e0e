// Package app wires sleuth's parts into the running service: store, queue,
// investigator and HTTP server, with startup checks and graceful shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/engine"
	"github.com/sleuth-sre/sleuth/internal/holmes"
	"github.com/sleuth-sre/sleuth/internal/progress"
	"github.com/sleuth-sre/sleuth/internal/queue"
	"github.com/sleuth-sre/sleuth/internal/server"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// OpenStore opens the store a URL names.
func OpenStore(ctx context.Context, u string) (store.Store, error) {
	switch {
	case strings.HasPrefix(u, "sqlite://"):
		path, err := sqlite.ParseURL(u)
		if err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return nil, fmt.Errorf("store %q: the PostgreSQL store is not implemented yet; use sqlite://PATH", redact(u))
	default:
		return nil, fmt.Errorf("store %q: unknown scheme, want sqlite://PATH", redact(u))
	}
}

// redact hides a password in a URL before it is logged.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return scheme + "://***@" + rest[at+1:]
	}
	return u
}

// Serve runs sleuth until ctx is cancelled. ready, if not nil, is called
// with the bound address once the listener accepts connections.
func Serve(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(addr string)) error {
	st, err := OpenStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.RecoverInterrupted(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Warn("requeued investigations interrupted by the previous run", "count", n)
	}

	m := telemetry.New()
	now := time.Now
	base, err := knowledgeBase(cfg, log)
	if err != nil {
		return err
	}
	var kbase engine.KnowledgeBase
	if base != nil {
		kbase = base
	}
	b, err := newBackends(cfg, log)
	if err != nil {
		return err
	}
	eng := newEngine(cfg, b, log, now, kbase)
	reg := &tools.Registry{}
	if err := addToolsets(ctx, cfg, reg, base, log); err != nil {
		return err
	}
	ag, err := newAgent(cfg, b, reg, m, log, now)
	if err != nil {
		return err
	}
	inv, err := withForward(cfg, investigator(eng, ag, m))
	if err != nil {
		return err
	}
	disp, err := newDispatcher(cfg, st, log, m, now)
	if err != nil {
		return err
	}
	// Running investigations publish their progress for
	// /api/stream/investigate; each attempt's stored outcome ends it.
	broker := progress.NewBroker(0, 0)
	pool := queue.New(queue.Config{
		Workers:     cfg.Queue.Workers,
		Deadline:    cfg.Queue.Deadline,
		MaxAttempts: cfg.Queue.MaxAttempts,
		Backoff:     cfg.Queue.RetryBackoff,
		Grace:       cfg.Server.ShutdownGrace,
		OnFinish:    broker.Finish,
	}, st, broker.Wrap(disp.Wrap(inv)), log, m, now)
	opts := server.Options{Store: st, Config: cfg, Log: log, Metrics: m, Now: now, Queued: pool.Notify, ReadyDetail: disp.ReadyDetail}
	if cfg.UI.Enabled {
		pages, err := newUI(cfg, b, st, log, now, disp)
		if err != nil {
			return err
		}
		opts.Pages, opts.SessionAuth = pages.Register, pages.APIRequest
	}
	api := holmes.New(holmes.Options{Store: st, Config: cfg, Queued: pool.Notify, Agent: ag, Registry: reg, Log: log, Now: now, Progress: broker})
	opts.Routes, opts.Ready = api.Routes(), api.Ready
	srv := server.New(opts)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	poolCtx, stopPool := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pool.Run(poolCtx)
	}()
	if base != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base.Watch(poolCtx, cfg.KnowledgeBase.ReloadInterval)
		}()
	}
	notifyCtx, stopNotify := context.WithCancel(context.WithoutCancel(ctx))
	var nwg sync.WaitGroup
	nwg.Add(1)
	go func() {
		defer nwg.Done()
		disp.Run(notifyCtx)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("sleuth listening", "addr", ln.Addr().String(), "store", redact(cfg.Store), "workers", cfg.Queue.Workers)
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
		err = nil
	case err = <-serveErr:
		err = fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down", "grace", cfg.Server.ShutdownGrace)
	// Stop intake first (in-flight deliveries finish and are committed),
	// then the workers, whose running attempts get the grace period.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownGrace+5*time.Second)
	defer cancel()
	if serr := hs.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", serr)
	}
	stopPool()
	wg.Wait()
	// Give the last reports' notifications a moment; what is still queued
	// after it is lost (see package notify).
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = disp.Flush(fctx)
	fcancel()
	stopNotify()
	nwg.Wait()
	log.Info("stopped")
	return err
}
