package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/app"
	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// investigateCmd runs one investigation synchronously and prints the
// report. It exits 0 whenever a report was produced, also when the cause is
// unknown: a non-zero code means sleuth itself failed.
func investigateCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("investigate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alertPath := fs.String("alert", "", "Alertmanager webhook payload, or one alert object from it (`FILE`, - for stdin)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	configPath := fs.String("config", "", "YAML config `file` (backends, runbooks)")
	logLevel := fs.String("log-level", "warn", "log level on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *alertPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: sleuth investigate --alert FILE|- [--json] [--config FILE]")
		return 2
	}
	cfg, err := loadWithLogLevel(*configPath, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "sleuth:", err)
		return 1
	}
	var data []byte
	if *alertPath == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, cfg.Intake.MaxBodyBytes+1))
	} else {
		data, err = os.ReadFile(*alertPath)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sleuth: read alert:", err)
		return 1
	}
	alerts, err := parseAlerts(data)
	if err != nil {
		fmt.Fprintf(stderr, "sleuth: %s: %v\n", *alertPath, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	eng, err := app.NewEngine(cfg, log, time.Now)
	if err != nil {
		fmt.Fprintln(stderr, "sleuth:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Queue.Deadline)
	defer cancel()
	r, err := eng.InvestigateAlerts(ctx, alerts)
	if err != nil {
		fmt.Fprintln(stderr, "sleuth: investigation failed:", err)
		return 1
	}
	// With llm.url set, the model deepens the report (never failing it).
	if ag, err := app.NewAgent(cfg, &tools.Registry{}, nil, log, time.Now); err != nil {
		fmt.Fprintln(stderr, "sleuth: llm stage skipped:", err)
	} else if ag != nil {
		r = ag.Investigate(ctx, r, agent.InvestigateOptions{})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprint(stdout, r.Text())
	return 0
}

// parseAlerts reads a webhook payload, or a single alert object, which is
// wrapped into a payload so that it gets the same validation.
func parseAlerts(data []byte) ([]store.Alert, error) {
	var probe struct {
		Alerts json.RawMessage `json:"alerts"`
		Labels json.RawMessage `json:"labels"`
	}
	if err := json.Unmarshal(data, &probe); err == nil && probe.Alerts == nil && probe.Labels != nil {
		var obj map[string]any
		if err := json.Unmarshal(data, &obj); err == nil {
			if _, ok := obj["status"]; !ok {
				obj["status"] = alert.StatusFiring
			}
			data, _ = json.Marshal(map[string]any{"alerts": []any{obj}})
		}
	}
	p, err := alert.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	out := make([]store.Alert, 0, len(p.Alerts))
	for _, a := range p.Alerts {
		out = append(out, store.Alert{
			Fingerprint: a.Fingerprint, Status: a.Status, Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL, Receiver: p.Receiver, ReceivedAt: now,
		})
	}
	return out, nil
}

// loadWithLogLevel loads the config for a one-shot command, whose log level
// is its flag's rather than the service's, and validates it.
func loadWithLogLevel(path, level string) (config.Config, error) {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return cfg, err
	}
	cfg.Log.Level = level
	return cfg, cfg.Validate()
}
