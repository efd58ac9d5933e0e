// Command sleuth is an incident investigator for Kubernetes: it takes
// alerts from Alertmanager, groups them into incidents and investigates each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/sleuth-sre/sleuth/internal/app"
	"github.com/sleuth-sre/sleuth/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

const usage = `sleuth investigates Kubernetes incidents from Alertmanager alerts.

Usage:
  sleuth demo                               play sample incidents through sleuth on a local lab
  sleuth serve [flags]                      run the service (sleuth serve -h for flags)
  sleuth investigate --alert FILE [--json]  investigate one alert now and print the report
  sleuth ask "QUESTION"                     ask the model (llm.*), with the read-only tools
  sleuth runbooks check|list|match ...      validate, list and test runbooks
  sleuth lab up|down|load|reset|status      a local lab of real backends for scenarios
  sleuth eval [flags] PATH...               score the investigator on incident scenarios
  sleuth version                            print the version

Configuration: a YAML file (--config), every key overridable by an
environment variable SLEUTH_<KEY_PATH> (SLEUTH_AUTH_API_TOKEN), the main
ones by flags. See README.md for the reference.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "investigate":
		return investigateCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "ask":
		return askCmd(ctx, args[1:], stdout, stderr)
	case "runbooks":
		return runbooksCmd(ctx, args[1:], stdout, stderr)
	case "lab":
		return labCmd(ctx, args[1:], stdout, stderr)
	case "eval":
		return evalCmd(ctx, args[1:], stdout, stderr)
	case "demo":
		return demoCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "sleuth", versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "sleuth: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file` (default: embedded defaults)")
	listen := fs.String("listen", "", "listen `address` (key listen, default 127.0.0.1:8080)")
	storeURL := fs.String("store", "", "store `URL` (key store, default sqlite://./sleuth.db)")
	logFormat := fs.String("log-format", "", "log format: text or json (key log.format)")
	logLevel := fs.String("log-level", "", "log level: debug, info, warn, error (key log.level)")
	workers := fs.Int("workers", 0, "investigations run at once (key queue.workers)")
	allowUnauth := fs.Bool("allow-unauthenticated", false, "allow a non-loopback listen address without credentials (key auth.allow_unauthenticated)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sleuth serve: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, "sleuth:", err)
		return 1
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["listen"] {
		cfg.Listen = *listen
	}
	if set["store"] {
		cfg.Store = *storeURL
	}
	if set["log-format"] {
		cfg.Log.Format = *logFormat
	}
	if set["log-level"] {
		cfg.Log.Level = *logLevel
	}
	if set["workers"] {
		cfg.Queue.Workers = *workers
	}
	if set["allow-unauthenticated"] {
		cfg.Auth.AllowUnauthenticated = *allowUnauth
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "sleuth: invalid configuration:\n%s\n", indent(err.Error()))
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	for _, name := range unknownEnv(os.Environ()) {
		log.Warn("environment variable is not a config key, ignored", "name", name)
	}
	if err := app.Serve(ctx, cfg, log, nil); err != nil {
		log.Error("sleuth stopped", "err", err)
		return 1
	}
	return 0
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by Config.Validate
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// unknownEnv lists SLEUTH_* variables that name no key: most likely a typo.
func unknownEnv(environ []string) []string {
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Env] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, config.EnvPrefix) && !known[name] {
			out = append(out, name)
		}
	}
	return out
}
