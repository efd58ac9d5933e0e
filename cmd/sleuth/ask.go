package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/agent"
	"github.com/sleuth-sre/sleuth/internal/app"
	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// askCmd answers a free question with the model and the read-only tools,
// printing each step on stderr as it happens and the answer on stdout.
func askCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file` (llm.*, backends)")
	investigation := fs.Int64("investigation", 0, "ask about this investigation `ID` (read from the configured store)")
	quiet := fs.Bool("quiet", false, "print only the answer")
	logLevel := fs.String("log-level", "warn", "log level on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if question == "" {
		fmt.Fprintln(stderr, `usage: sleuth ask [--config FILE] [--investigation ID] "question"`)
		return 2
	}
	cfg, err := loadWithLogLevel(*configPath, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "sleuth:", err)
		return 1
	}
	if cfg.LLM.URL == "" {
		fmt.Fprintln(stderr, "sleuth: no model is configured: set llm.url and llm.model (or SLEUTH_LLM_URL, SLEUTH_LLM_MODEL)")
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	ag, err := app.NewAgent(cfg, &tools.Registry{}, nil, log, time.Now)
	if err != nil {
		fmt.Fprintln(stderr, "sleuth:", err)
		return 1
	}
	req := agent.ChatRequest{Ask: question}
	if *investigation > 0 {
		r, err := loadReport(ctx, cfg, *investigation)
		if err != nil {
			fmt.Fprintln(stderr, "sleuth:", err)
			return 1
		}
		req.Investigation = r
	}
	if !*quiet {
		req.OnStep = func(s agent.Step) { printStep(stderr, s) }
	}
	res, err := ag.Chat(ctx, req)
	if err != nil {
		fmt.Fprintln(stderr, "sleuth:", err)
		return 1
	}
	fmt.Fprintln(stdout, strings.TrimSpace(res.Answer))
	if !*quiet {
		st := res.Stage
		partial := ""
		if st.Partial {
			partial = ", partial: " + st.Note
		}
		fmt.Fprintf(stderr, "\n[%d model calls, %d prompt + %d completion tokens (largest prompt %d), %d tool calls, %.1fs%s]\n",
			st.Calls, st.PromptTokens, st.CompletionTokens, st.MaxPromptTokens, len(res.ToolCalls), st.WallMS/1000, partial)
	}
	return 0
}

func printStep(w io.Writer, s agent.Step) {
	switch s.Kind {
	case agent.StepToolStart:
		fmt.Fprintf(w, "-> %s %s\n", s.ToolName, clipLine(s.Arguments, 160))
	case agent.StepToolResult:
		lines := strings.Count(s.Result, "\n") + 1
		fmt.Fprintf(w, "<- %s %s (%d lines)\n", s.ToolName, s.Status, lines)
	case agent.StepTokenCount:
		fmt.Fprintf(w, "   step %d: %d prompt tokens\n", s.Number, s.PromptTokens)
	}
}

func clipLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func loadReport(ctx context.Context, cfg config.Config, id int64) (*report.Report, error) {
	st, err := app.OpenStore(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	inv, err := st.Investigation(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("investigation %d: %w", id, err)
	}
	if len(inv.Report) == 0 {
		return nil, fmt.Errorf("investigation %d has no report yet (state %s)", id, inv.State)
	}
	var r report.Report
	if err := json.Unmarshal(inv.Report, &r); err != nil {
		return nil, fmt.Errorf("investigation %d: %w", id, err)
	}
	return &r, nil
}
