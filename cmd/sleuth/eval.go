package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/eval"
	"github.com/sleuth-sre/sleuth/internal/lab"
)

func evalCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: sleuth eval [flags] PATH...

Scores the investigator on incident scenarios (files, or directories of
*.yaml): for each, the lab is reset, the scenario loaded, its alerts
delivered to a fresh sleuth as Alertmanager would, and the report scored.
A scenario that fails to load fails alone; the others still run. The exit
status is 0 when every scenario passed, 1 otherwise.

Flags:`)
		fs.PrintDefaults()
	}
	jsonPath := fs.String("json", "", "write the results as JSON to `file`")
	configPath := fs.String("config", "", "sleuth config `file` to evaluate (its backends are replaced by the lab's)")
	e2e := fs.Bool("e2e", false, "let vmalert and Alertmanager deliver the alerts from the scenario's metrics")
	labDir := fs.String("lab", "", "use the lab running in `dir` (\"current\": the one started last) instead of starting one")
	timeout := fs.Duration("timeout", 3*time.Minute, "bound on one scenario")
	logPath := fs.String("log", "", "write sleuth's logs to `file` (default: discarded)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "sleuth eval:", err)
		return 1
	}
	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		return fail(err)
	}
	files, err := eval.Files(fs.Args())
	if err != nil {
		return fail(err)
	}
	if len(files) == 0 {
		return fail(fmt.Errorf("no scenario files (*.yaml) in %q", fs.Args()))
	}
	log := slog.New(slog.DiscardHandler)
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		log = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	var l *lab.Lab
	if *labDir != "" && *e2e {
		return fail(errors.New("--e2e restarts vmalert and Alertmanager between scenarios, so it needs a lab of its own: drop --lab"))
	}
	if *labDir != "" {
		dir := *labDir
		if dir == "current" {
			dir = ""
		}
		if l, err = lab.Attach(ctx, dir); err != nil {
			return fail(err)
		}
	} else {
		o := lab.Options{Progress: stderr}
		if *e2e {
			if o.Rules, err = shippedRules(); err != nil {
				return fail(err)
			}
			// Each scenario's sleuth listens where Alertmanager delivers.
			if o.SleuthListen, err = lab.FreeAddr(); err != nil {
				return fail(err)
			}
		}
		if l, err = lab.Start(ctx, o); err != nil {
			return fail(err)
		}
		defer l.Stop()
	}
	fmt.Fprintf(stderr, "eval: %d scenarios\n", len(files))
	sum, err := eval.Run(ctx, eval.Options{Lab: l, Config: cfg, E2E: *e2e, Timeout: *timeout, Out: stdout, Log: log}, files)
	if err != nil {
		return fail(err)
	}
	if *jsonPath != "" {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return fail(err)
		}
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			return fail(err)
		}
	}
	if sum.Passed != sum.Total {
		return 1
	}
	return 0
}
