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
	"github.com/sleuth-sre/sleuth/internal/queue"
	"github.com/sleuth-sre/sleuth/internal/server"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
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
	eng, err := NewEngine(cfg, log, now)
	if err != nil {
		return err
	}
	pool := queue.New(queue.Config{
		Workers:     cfg.Queue.Workers,
		Deadline:    cfg.Queue.Deadline,
		MaxAttempts: cfg.Queue.MaxAttempts,
		Backoff:     cfg.Queue.RetryBackoff,
		Grace:       cfg.Server.ShutdownGrace,
	}, st, eng, log, m, now)
	srv := server.New(server.Options{Store: st, Config: cfg, Log: log, Metrics: m, Now: now, Queued: pool.Notify})

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
	log.Info("stopped")
	return err
}
