package bash

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The allowlist. A command runs only if its program is here and every
// flag and operand fits its spec; a flag not listed is refused, so a new
// kubectl flag is refused until someone decides it is safe. The text
// filters take no file operands: they read the pipe and nothing else, so
// no pipeline can read a file from sleuth's disk (its service account
// token, say).

// argSpec is what a program may be given.
type argSpec struct {
	// bools are flags without a value ("-i", "--ignore-case").
	bools []string
	// values are flags taking one value ("-n", "--namespace").
	values []string
	// pairs are flags taking two values (jq's --arg NAME VALUE).
	pairs []string
	// numericShort allows head -5 and tail -5.
	numericShort bool
	// minPos and maxPos bound the operands.
	minPos, maxPos int
	// check is called with the flags and operands for further rules.
	check func(flags map[string][]string, pos []string) error
}

var filters = map[string]*argSpec{
	"grep": {
		bools: []string{"-i", "--ignore-case", "-v", "--invert-match", "-E", "--extended-regexp", "-F", "--fixed-strings",
			"-G", "--basic-regexp", "-P", "--perl-regexp", "-w", "--word-regexp", "-x", "--line-regexp", "-c", "--count",
			"-n", "--line-number", "-o", "--only-matching", "-h", "--no-filename", "-s", "--no-messages", "-q", "--quiet",
			"-a", "--text", "-H", "-z", "--null-data"},
		values: []string{"-e", "--regexp", "-A", "--after-context", "-B", "--before-context", "-C", "--context",
			"-m", "--max-count", "--color", "--colour"},
		minPos: 0, maxPos: 1,
		check: func(flags map[string][]string, pos []string) error {
			patterns := len(flags["-e"]) + len(flags["--regexp"])
			switch {
			case patterns == 0 && len(pos) == 0:
				return fmt.Errorf("grep needs a pattern")
			case patterns > 0 && len(pos) > 0:
				return fmt.Errorf("grep reads only its input: no file operands")
			}
			return nil
		},
	},
	"jq": {
		bools: []string{"-r", "--raw-output", "-j", "--join-output", "-c", "--compact-output", "-s", "--slurp",
			"-S", "--sort-keys", "-e", "--exit-status", "-a", "--ascii-output", "-n", "--null-input", "-M",
			"--monochrome-output", "--tab", "--raw-output0", "--seq"},
		values: []string{"--indent"},
		pairs:  []string{"--arg", "--argjson"},
		minPos: 1, maxPos: 1,
		check: func(_ map[string][]string, pos []string) error {
			// import and include read jq modules and JSON files from disk.
			if jqFileRE.MatchString(pos[0]) {
				return fmt.Errorf("jq import and include are not allowed")
			}
			return nil
		},
	},
	"head": {
		bools:        []string{"-q", "--quiet", "--silent", "-v", "--verbose", "-z", "--zero-terminated"},
		values:       []string{"-n", "--lines", "-c", "--bytes"},
		numericShort: true,
	},
	"tail": {
		// No -f: following a pipe would wait until the timeout.
		bools:        []string{"-q", "--quiet", "--silent", "-v", "--verbose", "-z", "--zero-terminated"},
		values:       []string{"-n", "--lines", "-c", "--bytes"},
		numericShort: true,
	},
	"sort": {
		// No -o (writes a file), -T, --compress-program (runs a program),
		// --files0-from and --random-source (read files), -S/--parallel.
		bools: []string{"-b", "--ignore-leading-blanks", "-d", "--dictionary-order", "-f", "--ignore-case",
			"-g", "--general-numeric-sort", "-i", "--ignore-nonprinting", "-M", "--month-sort", "-h",
			"--human-numeric-sort", "-n", "--numeric-sort", "-r", "--reverse", "-V", "--version-sort",
			"-s", "--stable", "-u", "--unique", "-z", "--zero-terminated", "-c", "--check"},
		values: []string{"-k", "--key", "-t", "--field-separator"},
	},
	"uniq": {
		// No operands: uniq's second operand is a file it writes.
		bools:  []string{"-c", "--count", "-d", "--repeated", "-D", "-u", "--unique", "-i", "--ignore-case", "-z", "--zero-terminated"},
		values: []string{"-f", "--skip-fields", "-s", "--skip-chars", "-w", "--check-chars"},
	},
	"wc": {
		bools: []string{"-l", "--lines", "-w", "--words", "-c", "--bytes", "-m", "--chars", "-L", "--max-line-length"},
	},
	"cut": {
		bools:  []string{"-s", "--only-delimited", "--complement", "-z", "--zero-terminated", "-n"},
		values: []string{"-d", "--delimiter", "-f", "--fields", "-c", "--characters", "-b", "--bytes", "--output-delimiter"},
	},
	"tr": {
		bools:  []string{"-d", "--delete", "-s", "--squeeze-repeats", "-c", "-C", "--complement", "-t", "--truncate-set1"},
		minPos: 1, maxPos: 2,
	},
}

var jqFileRE = regexp.MustCompile(`\b(import|include)\b`)

// kubectlVerbs are the read-only verbs; everything else (exec, cp,
// port-forward, proxy, apply, delete, edit, patch, config, auth,
// cluster-info, plugins) is refused.
var kubectlVerbs = []string{"get", "describe", "events", "logs", "top", "explain", "api-resources", "api-versions", "version"}

// kubectl flags. Credential and target flags (--kubeconfig, --token,
// --as, --server, --context, --user ...), file readers (-f, -k), writers
// (--profile-output, --log-file), followers (-w, -f on logs), --raw,
// verbosity (-v, which logs requests) and template files are all absent.
var kubectlSpec = &argSpec{
	bools: []string{"-A", "--all-namespaces", "--show-labels", "--show-kind", "--no-headers", "--ignore-not-found",
		"--timestamps", "-p", "--previous", "--all-containers", "--prefix", "--ignore-errors", "--show-managed-fields",
		"--containers", "--sum", "--use-protocol-buffers", "--show-capacity", "--client", "--namespaced",
		"--recursive", "-h", "--help"},
	values: []string{"-n", "--namespace", "-o", "--output", "-l", "--selector", "--field-selector", "--sort-by",
		"-L", "--label-columns", "--tail", "--since", "--since-time", "-c", "--container", "--limit-bytes",
		"--max-log-requests", "--for", "--types", "--chunk-size", "--request-timeout", "--api-group",
		"--api-version", "--verbs", "--subresource", "--pod-running-timeout"},
	maxPos: 16,
}

// outputFormat is what -o may be: plain formats and the inline template
// kinds that only render the objects fetched (no -file variants, which
// read a file; no go-template, whose functions we would have to audit).
var outputFormatRE = regexp.MustCompile(`^(json|yaml|wide|name|(jsonpath|jsonpath-as-json|custom-columns)=.*)$`)

// namesSecrets reports whether an operand could name secrets, in any of
// the ways kubectl reads a resource: secret, Secrets, secrets.v1.,
// .secret, pod,secret, secret/name. Any component equal to secret(s)
// counts; refusing a pod named "secret" too is the price of never
// guessing how kubectl resolves an odd spelling.
func namesSecrets(operand string) bool {
	for _, part := range strings.FieldsFunc(strings.ToLower(operand), func(r rune) bool { return r == ',' || r == '/' || r == '.' }) {
		switch strings.TrimSpace(part) {
		case "secret", "secrets":
			return true
		}
	}
	return false
}

// parsedArgs are a command's flags (name -> values) and operands.
type parsedArgs struct {
	flags map[string][]string
	pos   []string
}

// parseArgs checks args (argv without the program) against spec, GNU
// style: --long, --long=value, -s value, -svalue, bundled -abc, "--" ends
// the flags.
func parseArgs(prog string, spec *argSpec, args []string) (*parsedArgs, error) {
	pa := &parsedArgs{flags: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pa.pos = append(pa.pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a, "=")
			switch {
			case slices.Contains(spec.bools, name):
				if hasVal {
					return nil, fmt.Errorf("%s %s takes no value", prog, name)
				}
				pa.flags[name] = append(pa.flags[name], "")
			case slices.Contains(spec.values, name):
				if !hasVal {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("%s %s needs a value", prog, name)
					}
					i++
					val = args[i]
				}
				pa.flags[name] = append(pa.flags[name], val)
			case slices.Contains(spec.pairs, name) && !hasVal:
				if i+2 >= len(args) {
					return nil, fmt.Errorf("%s %s needs two values", prog, name)
				}
				pa.flags[name] = append(pa.flags[name], args[i+1]+"="+args[i+2])
				i += 2
			default:
				return nil, fmt.Errorf("%s flag %s is not allowed", prog, name)
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if spec.numericShort && isDigits(a[1:]) {
				pa.flags["-n"] = append(pa.flags["-n"], a[1:])
				continue
			}
			for j := 1; j < len(a); j++ {
				f := "-" + string(a[j])
				if slices.Contains(spec.bools, f) {
					pa.flags[f] = append(pa.flags[f], "")
					continue
				}
				if slices.Contains(spec.values, f) {
					val := a[j+1:]
					if val == "" {
						if i+1 >= len(args) {
							return nil, fmt.Errorf("%s %s needs a value", prog, f)
						}
						i++
						val = args[i]
					}
					val = strings.TrimPrefix(val, "=")
					pa.flags[f] = append(pa.flags[f], val)
					break
				}
				return nil, fmt.Errorf("%s flag %s is not allowed", prog, f)
			}
		default:
			pa.pos = append(pa.pos, a)
		}
	}
	if len(pa.pos) < spec.minPos {
		return nil, fmt.Errorf("%s needs %d operand(s)", prog, spec.minPos)
	}
	if len(pa.pos) > spec.maxPos {
		if spec.maxPos == 0 {
			return nil, fmt.Errorf("%s reads only its input: no operands (files) allowed, got %q", prog, pa.pos[0])
		}
		return nil, fmt.Errorf("%s takes at most %d operand(s), got %d", prog, spec.maxPos, len(pa.pos))
	}
	if spec.check != nil {
		if err := spec.check(pa.flags, pa.pos); err != nil {
			return nil, err
		}
	}
	return pa, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Policy decides which commands may run.
type Policy struct {
	// Allow, when not empty, narrows the allowlist to commands starting
	// with one of these prefixes ("kubectl get", "grep").
	Allow []string
	// Deny refuses commands starting with any of these prefixes; it wins
	// over everything.
	Deny []string
}

// check refuses an argv the policy does not allow.
func (p Policy) check(argv []string) error {
	prog := argv[0]
	var operands []string
	switch {
	case prog == "kubectl":
		pa, err := parseArgs(prog, kubectlSpec, argv[1:])
		if err != nil {
			return err
		}
		if len(pa.pos) == 0 {
			return fmt.Errorf("kubectl needs a verb: one of %s", strings.Join(kubectlVerbs, ", "))
		}
		verb := pa.pos[0]
		if !slices.Contains(kubectlVerbs, verb) {
			return fmt.Errorf("kubectl %s is not allowed: only %s", verb, strings.Join(kubectlVerbs, ", "))
		}
		for _, o := range pa.pos[1:] {
			if namesSecrets(o) {
				return fmt.Errorf("secrets are never read")
			}
		}
		for _, f := range append(pa.flags["-o"], pa.flags["--output"]...) {
			if !outputFormatRE.MatchString(f) {
				return fmt.Errorf("kubectl -o %s is not allowed: use json, yaml, wide, name, jsonpath=, jsonpath-as-json= or custom-columns=", f)
			}
		}
		for _, f := range pa.flags["--subresource"] {
			if f != "status" && f != "scale" {
				return fmt.Errorf("kubectl --subresource=%s is not allowed", f)
			}
		}
		if verb == "top" && (len(pa.pos) < 2 || !slices.Contains([]string{"pod", "pods", "po", "node", "nodes", "no"}, pa.pos[1])) {
			return fmt.Errorf("kubectl top needs pod or node")
		}
		operands = pa.pos
	case filters[prog] != nil:
		pa, err := parseArgs(prog, filters[prog], argv[1:])
		if err != nil {
			return err
		}
		operands = pa.pos
	default:
		return fmt.Errorf("%q is not an allowed command: use kubectl (%s) and the filters %s", prog, strings.Join(kubectlVerbs, ", "), strings.Join(filterNames(), ", "))
	}
	words := append([]string{prog}, operands...)
	for _, d := range p.Deny {
		if matchPrefix(d, words) {
			return fmt.Errorf("denied by the rule %q", d)
		}
	}
	if len(p.Allow) > 0 && !slices.ContainsFunc(p.Allow, func(a string) bool { return matchPrefix(a, words) }) {
		return fmt.Errorf("not among the allowed prefixes %q", p.Allow)
	}
	return nil
}

// matchPrefix reports whether words (the program and its operands, flags
// left out) start with the rule's words; an operand list "pods,nodes"
// matches a rule word "nodes".
func matchPrefix(rule string, words []string) bool {
	rw := strings.Fields(rule)
	if len(rw) == 0 || len(rw) > len(words) {
		return false
	}
	for i, r := range rw {
		w := strings.ToLower(words[i])
		if w == strings.ToLower(r) {
			continue
		}
		match := false
		for _, part := range strings.Split(w, ",") {
			typ, _, _ := strings.Cut(part, "/")
			if typ == strings.ToLower(r) {
				match = true
			}
		}
		if !match {
			return false
		}
	}
	return true
}

func filterNames() []string {
	var out []string
	for n := range filters {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
