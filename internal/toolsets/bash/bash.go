// Package bash provides HolmesGPT's bash toolset (run_bash_command) in a
// form that is safe to hand to a model: the command line is parsed with a
// real shell parser (mvdan.cc/sh), reduced to literal argvs, checked
// against an allowlist of read-only programs and flags (and a denylist
// that always wins), and executed without a shell: each argv is exec'd
// directly and pipes are wired by sleuth, under a timeout, an output cap
// and a memory limit. Nothing a shell would expand, redirect, substitute
// or run in the background is accepted, so what runs is exactly what was
// checked. The toolset is off unless configured.
package bash

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/bounded"
)

// ToolName is HolmesGPT's name for the tool; models were tuned on it.
const ToolName = "run_bash_command"

// Executor runs one pipeline. The default is bounded.Run; tests record
// instead.
type Executor func(ctx context.Context, lim bounded.Limits, procs ...bounded.Proc) (bounded.Result, error)

// Config configures the toolset.
type Config struct {
	Policy Policy
	Limits bounded.Limits
	// Kubeconfig and Context are what kubectl uses (the same cluster
	// sleuth reads); empty: in-cluster or the default kubeconfig.
	Kubeconfig, Context string
	// Environ is the server's environment, of which only what kubectl
	// needs is passed on (default os.Environ).
	Environ func() []string
	// Exec runs pipelines (default bounded.Run).
	Exec Executor
}

// Toolset returns the bash toolset.
func Toolset(cfg Config) tools.Toolset {
	return tools.Toolset{
		Name:        "bash",
		Description: "Read-only shell commands: kubectl get/describe/events/logs/top and text filters in pipes.",
		Enabled:     true,
		Tools:       []tools.Tool{New(cfg)},
	}
}

// Tool is run_bash_command.
type Tool struct{ cfg Config }

// New returns the tool.
func New(cfg Config) *Tool {
	if cfg.Environ == nil {
		cfg.Environ = os.Environ
	}
	if cfg.Exec == nil {
		cfg.Exec = func(ctx context.Context, lim bounded.Limits, procs ...bounded.Proc) (bounded.Result, error) {
			return bounded.Run(ctx, lim, bounded.Options{}, procs...)
		}
	}
	return &Tool{cfg: cfg}
}

// Name implements tools.Tool.
func (t *Tool) Name() string { return ToolName }

// Description implements tools.Tool.
func (t *Tool) Description() string {
	return "Run a read-only command line: kubectl " + strings.Join(kubectlVerbs, "|") +
		" (never secrets), optionally piped into " + strings.Join(filterNames(), ", ") +
		". Pipes, ;, && and || work; variables, redirections, globs, $(...) and files do not. Quote patterns with '...'."
}

// Parameters implements tools.Tool.
func (t *Tool) Parameters() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"command":{"type":"string","description":"The command line, e.g. kubectl get pods -n shop | grep -v Running"},"timeout":{"type":"integer","description":"Seconds before the command is stopped (capped by the server)"}},"required":["command"]}`)
}

// Validate parses and checks a command line without running it.
func (t *Tool) Validate(cmd string) (*Plan, error) {
	p, err := parse(cmd)
	if err != nil {
		return nil, err
	}
	for _, argv := range p.Calls() {
		if err := t.cfg.Policy.check(argv); err != nil {
			return nil, &RejectError{Reason: err.Error()}
		}
	}
	return p, nil
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, args map[string]any) (tools.Result, error) {
	cmd, _ := args["command"].(string)
	res := tools.Result{Description: cmd}
	plan, err := t.Validate(cmd)
	if err != nil {
		return res, err
	}
	lim := t.cfg.Limits
	if lim.Timeout <= 0 {
		lim.Timeout = bounded.DefaultTimeout
	}
	if s, ok := args["timeout"].(float64); ok && s > 0 && time.Duration(s*float64(time.Second)) < lim.Timeout {
		lim.Timeout = time.Duration(s * float64(time.Second))
	}
	// One deadline for the whole line, however many steps it has.
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()

	var out strings.Builder
	var failed *bounded.Result
	var run func(s *Step) (int, error)
	run = func(s *Step) (int, error) {
		if s.Op != "" {
			code, err := run(s.Left)
			if err != nil {
				return code, err
			}
			if (s.Op == "&&") == (code == 0) {
				return run(s.Right)
			}
			return code, nil
		}
		procs := make([]bounded.Proc, len(s.Pipeline))
		for i, argv := range s.Pipeline {
			procs[i] = t.proc(argv)
		}
		stepLim := lim
		if dl, ok := ctx.Deadline(); ok {
			stepLim.Timeout = time.Until(dl)
		}
		if room := lim.MaxOutput - out.Len(); lim.MaxOutput > 0 {
			stepLim.MaxOutput = max(room, 1)
		}
		r, err := t.cfg.Exec(ctx, stepLim, procs...)
		if err != nil {
			return -1, err
		}
		out.WriteString(r.Output)
		if r.ExitCode != 0 || r.TimedOut || r.Truncated {
			failed = &r
		} else {
			failed = nil
		}
		if r.TimedOut {
			return r.ExitCode, fmt.Errorf("timed out after %s", lim.Timeout)
		}
		if r.Stderr != "" && r.ExitCode != 0 {
			out.WriteString(r.Stderr)
		}
		return r.ExitCode, nil
	}
	code := 0
	for _, s := range plan.Steps {
		if code, err = run(s); err != nil {
			res.Text = out.String()
			return res, err
		}
	}
	res.Text = strings.TrimRight(out.String(), "\n")
	if failed != nil && failed.Truncated {
		res.Truncated = true
		res.Text += "\n[output cut: the command printed more than the limit; filter it with grep, head or tail]"
		return res, nil
	}
	if code != 0 {
		return res, fmt.Errorf("exit code %d: %s", code, clip(res.Text, 2000))
	}
	res.NoData = res.Text == ""
	return res, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// proc turns a checked argv into a process: the program by name from PATH,
// a minimal environment, and kubectl pointed at sleuth's cluster.
func (t *Tool) proc(argv []string) bounded.Proc {
	env := []string{}
	for _, kv := range t.cfg.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "LANG", "LC_ALL", "TZ", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT":
			env = append(env, kv)
		}
	}
	argv = append([]string(nil), argv...)
	if argv[0] == "kubectl" {
		if t.cfg.Kubeconfig != "" {
			env = append(env, "KUBECONFIG="+t.cfg.Kubeconfig)
		}
		if t.cfg.Context != "" {
			argv = append([]string{"kubectl", "--context=" + t.cfg.Context}, argv[1:]...)
		}
	}
	return bounded.Proc{Path: argv[0], Args: argv, Env: env}
}

var _ tools.Tool = (*Tool)(nil)
