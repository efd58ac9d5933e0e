package bash

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzValidate feeds arbitrary command lines to run_bash_command with an
// executor that records instead of running, and checks every recorded
// process against an oracle written independently of the validator: a
// known program, by name; kubectl only with a read-only verb, never a
// credential, target, file or follow flag, never a secrets operand; the
// filters never with a file-reading, file-writing or program-running flag
// and never with more operands than their pattern. Run it with
//
//	go test -run '^$' -fuzz FuzzValidate -fuzztime 60s ./internal/toolsets/bash
func FuzzValidate(f *testing.F) {
	for _, c := range refused {
		f.Add(c)
	}
	for c := range allowed {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		tool, rec := recordingTool(Policy{})
		_, _ = tool.Run(context.Background(), map[string]any{"command": cmd})
		for _, argv := range rec.runs {
			if why := oracle(argv); why != "" {
				t.Fatalf("%q ran %q: %s", cmd, argv, why)
			}
		}
	})
}

var (
	oraclePrograms = []string{"kubectl", "grep", "jq", "head", "tail", "sort", "uniq", "wc", "cut", "tr"}
	oracleVerbs    = []string{"get", "describe", "events", "logs", "top", "explain", "api-resources", "api-versions", "version"}
	// Flags (by prefix) that must never reach kubectl.
	oracleKubectlFlags = []string{"--kubeconfig", "--token", "--as", "--server", "--user", "--cluster", "--context",
		"--raw", "--watch", "--follow", "--filename", "--kustomize", "--template", "--profile", "--insecure",
		"--certificate", "--client-", "--password", "--username", "--cache-dir", "--log", "--v", "-v", "-w", "-f", "-k", "-s"}
	// kubectl flags whose next argument is a value, not an operand.
	oracleKubectlValues = []string{"-n", "--namespace", "-o", "--output", "-l", "--selector", "--field-selector",
		"--sort-by", "-L", "--label-columns", "--tail", "--since", "--since-time", "-c", "--container", "--limit-bytes",
		"--max-log-requests", "--for", "--types", "--chunk-size", "--request-timeout", "--api-group", "--api-version",
		"--verbs", "--subresource", "--pod-running-timeout"}
	// Per filter: flags (by name) that read or write files or run
	// programs, flags whose next argument is a value, and how many
	// operands (patterns, sets, filters) it may have at most.
	oracleFilters = map[string]struct {
		forbidden, values []string
		operands          int
	}{
		"grep": {[]string{"-r", "-R", "--recursive", "--dereference-recursive", "-d", "--directories", "-D", "--devices", "--include", "--exclude", "--exclude-dir", "-f", "--file"},
			[]string{"-e", "--regexp", "-A", "--after-context", "-B", "--before-context", "-C", "--context", "-m", "--max-count"}, 1},
		"jq":   {[]string{"--rawfile", "--slurpfile", "-f", "--from-file", "-L", "--args", "--jsonargs"}, []string{"--indent", "--arg", "--argjson"}, 1},
		"head": {nil, []string{"-n", "--lines", "-c", "--bytes"}, 0},
		"tail": {[]string{"-f", "-F", "--follow", "--retry"}, []string{"-n", "--lines", "-c", "--bytes"}, 0},
		"sort": {[]string{"-o", "--output", "-T", "--temporary-directory", "--compress-program", "--files0-from", "--random-source", "--parallel", "-S", "--buffer-size"},
			[]string{"-k", "--key", "-t", "--field-separator"}, 0},
		"uniq": {nil, []string{"-f", "--skip-fields", "-s", "--skip-chars", "-w", "--check-chars"}, 0},
		"wc":   {[]string{"--files0-from"}, nil, 0},
		"cut":  {nil, []string{"-d", "--delimiter", "-f", "--fields", "-c", "--characters", "-b", "--bytes", "--output-delimiter"}, 0},
		"tr":   {nil, nil, 2},
	}
)

func oracle(argv []string) string {
	prog := argv[0]
	if !slices.Contains(oraclePrograms, prog) {
		return "not an allowed program"
	}
	if spec, ok := oracleFilters[prog]; ok {
		ops := 0
		for i := 1; i < len(argv); i++ {
			a := argv[i]
			if a == "--" {
				ops += len(argv) - i - 1
				break
			}
			if !strings.HasPrefix(a, "-") || a == "-" {
				ops++
				continue
			}
			name, _, hasVal := strings.Cut(a, "=")
			if slices.Contains(spec.forbidden, name) {
				return "forbidden flag " + name
			}
			if slices.Contains(spec.values, name) && !hasVal {
				i++
				if name == "--arg" || name == "--argjson" {
					i++
				}
			}
		}
		if ops > spec.operands {
			return "too many operands: a file"
		}
		if prog == "jq" && regexp.MustCompile(`\b(import|include)\b`).MatchString(strings.Join(argv, " ")) {
			return "jq modules"
		}
		return ""
	}
	verb := ""
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if strings.HasPrefix(a, "-") {
			name, _, hasVal := strings.Cut(a, "=")
			if a == "--context=prod" {
				continue
			}
			for _, f := range oracleKubectlFlags {
				if name == f || (strings.HasPrefix(name, f) && strings.HasPrefix(f, "--")) || (len(f) == 2 && strings.HasPrefix(a, f) && !strings.HasPrefix(a, "--")) {
					// -c value "-f..." and similar: a value, not a flag.
					if !valueOfPrevious(argv, i) {
						return "kubectl flag " + a
					}
				}
			}
			if slices.Contains(oracleKubectlValues, name) && !hasVal && !isBundledValue(a) {
				i++
			}
			continue
		}
		if verb == "" {
			verb = a
			if !slices.Contains(oracleVerbs, verb) {
				return "kubectl verb " + verb
			}
			continue
		}
		for _, part := range strings.FieldsFunc(strings.ToLower(a), func(r rune) bool { return r == ',' || r == '/' || r == '.' }) {
			if part == "secret" || part == "secrets" {
				return "a secrets operand"
			}
		}
	}
	if verb == "" {
		return "kubectl without a verb"
	}
	return ""
}

func valueOfPrevious(argv []string, i int) bool {
	if i < 2 {
		return false
	}
	p := argv[i-1]
	return slices.Contains(oracleKubectlValues, p)
}

// isBundledValue reports -nshop (a short flag with its value attached).
func isBundledValue(a string) bool {
	return len(a) > 2 && a[1] != '-'
}
