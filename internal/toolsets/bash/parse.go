package bash

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"mvdan.cc/sh/v3/syntax"
)

// Limits on what one command line may be; a model that writes more is
// confused, and a parser fed megabytes is a cost nobody asked for.
const (
	maxCommandBytes = 4096
	maxCalls        = 16
	maxArgs         = 64
)

// Plan is a parsed, validated command line: statements run in order, each
// a pipeline, joined by ;, && or ||.
type Plan struct {
	// Steps are the top-level statements, in order.
	Steps []*Step
}

// Step is a pipeline, or two steps joined by && or ||.
type Step struct {
	// Pipeline is set for a simple pipeline: argv per process.
	Pipeline [][]string
	// Op is "&&" or "||" when the step joins Left and Right.
	Op          string
	Left, Right *Step
}

// Calls returns every argv of the plan, in order.
func (p *Plan) Calls() [][]string {
	var out [][]string
	var walk func(s *Step)
	walk = func(s *Step) {
		if s.Op != "" {
			walk(s.Left)
			walk(s.Right)
			return
		}
		out = append(out, s.Pipeline...)
	}
	for _, s := range p.Steps {
		walk(s)
	}
	return out
}

// RejectError says why a command line is refused, in words a model can act
// on.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return "command refused: " + e.Reason }

func reject(format string, args ...any) error {
	return &RejectError{Reason: fmt.Sprintf(format, args...)}
}

// parse turns a command line into a plan of literal argvs. Only simple
// commands of literal words (quoted or not), pipes, ;, && and || are
// accepted: every expansion, redirection, substitution, assignment,
// subshell, background job, function or control structure is refused,
// because the plan is executed without a shell and must mean exactly what
// a shell would have run.
func parse(cmd string) (*Plan, error) {
	if len(cmd) > maxCommandBytes {
		return nil, reject("the command is %d bytes; at most %d", len(cmd), maxCommandBytes)
	}
	if !utf8.ValidString(cmd) {
		return nil, reject("the command is not valid UTF-8")
	}
	if strings.TrimSpace(cmd) == "" {
		return nil, reject("empty command")
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(cmd), "")
	if err != nil {
		return nil, reject("not a valid shell command: %v", err)
	}
	p := &Plan{}
	for _, st := range f.Stmts {
		s, err := step(st)
		if err != nil {
			return nil, err
		}
		p.Steps = append(p.Steps, s)
	}
	if len(p.Steps) == 0 {
		return nil, reject("empty command")
	}
	if n := len(p.Calls()); n > maxCalls {
		return nil, reject("%d commands; at most %d", n, maxCalls)
	}
	return p, nil
}

func step(st *syntax.Stmt) (*Step, error) {
	switch {
	case st.Background || st.Coprocess || st.Disown:
		return nil, reject("background jobs are not allowed")
	case st.Negated:
		return nil, reject("! is not allowed")
	case len(st.Redirs) > 0:
		return nil, reject("redirections (<, >, <<, 2>&1 ...) are not allowed; output is returned to you as it is")
	case st.Cmd == nil:
		return nil, reject("empty statement")
	}
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		argv, err := callArgv(c)
		if err != nil {
			return nil, err
		}
		return &Step{Pipeline: [][]string{argv}}, nil
	case *syntax.BinaryCmd:
		switch c.Op {
		case syntax.Pipe:
			left, err := step(c.X)
			if err != nil {
				return nil, err
			}
			right, err := step(c.Y)
			if err != nil {
				return nil, err
			}
			// A pipe binds tighter than && and ||: both sides are pipelines.
			if left.Op != "" || right.Op != "" {
				return nil, reject("a pipe between && or || chains is not allowed")
			}
			return &Step{Pipeline: append(left.Pipeline, right.Pipeline...)}, nil
		case syntax.AndStmt, syntax.OrStmt:
			left, err := step(c.X)
			if err != nil {
				return nil, err
			}
			right, err := step(c.Y)
			if err != nil {
				return nil, err
			}
			return &Step{Op: c.Op.String(), Left: left, Right: right}, nil
		case syntax.PipeAll:
			return nil, reject("|& is not allowed")
		}
		return nil, reject("operator %s is not allowed", c.Op)
	case *syntax.Subshell, *syntax.Block:
		return nil, reject("subshells and { } blocks are not allowed")
	case *syntax.FuncDecl:
		return nil, reject("functions are not allowed")
	case *syntax.DeclClause, *syntax.LetClause, *syntax.ArithmCmd:
		return nil, reject("declarations and arithmetic are not allowed")
	}
	return nil, reject("only simple commands, pipes, ;, && and || are allowed")
}

func callArgv(c *syntax.CallExpr) ([]string, error) {
	if len(c.Assigns) > 0 {
		return nil, reject("environment assignments (NAME=value cmd) are not allowed")
	}
	if len(c.Args) == 0 {
		return nil, reject("empty command")
	}
	if len(c.Args) > maxArgs {
		return nil, reject("%d arguments; at most %d", len(c.Args), maxArgs)
	}
	argv := make([]string, 0, len(c.Args))
	for _, w := range c.Args {
		s, err := literal(w)
		if err != nil {
			return nil, err
		}
		if err := printable(s); err != nil {
			return nil, err
		}
		argv = append(argv, s)
	}
	return argv, nil
}

// literal returns the word after quote removal, or refuses a word a shell
// would expand.
func literal(w *syntax.Word) (string, error) {
	var b strings.Builder
	for _, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			s, err := unquoted(p.Value)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		case *syntax.SglQuoted:
			if p.Dollar {
				return "", reject("$'...' strings are not allowed; use '...'")
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			if p.Dollar {
				return "", reject(`$"..." strings are not allowed`)
			}
			for _, q := range p.Parts {
				lit, ok := q.(*syntax.Lit)
				if !ok {
					return "", reject("%s inside double quotes is not allowed: use single quotes for literal text", what(q))
				}
				b.WriteString(inDouble(lit.Value))
			}
		default:
			return "", reject("%s is not allowed: every word must be literal text", what(part))
		}
	}
	return b.String(), nil
}

func what(n syntax.Node) string {
	switch n := n.(type) {
	case *syntax.ParamExp:
		return "variable expansion ($NAME)"
	case *syntax.CmdSubst:
		if n.Backquotes {
			return "command substitution (`...`)"
		}
		return "command substitution ($(...))"
	case *syntax.ArithmExp:
		return "arithmetic expansion ($((...)))"
	case *syntax.ProcSubst:
		return "process substitution (<(...))"
	case *syntax.ExtGlob:
		return "an extended glob"
	case *syntax.BraceExp:
		return "brace expansion"
	}
	return fmt.Sprintf("%T", n)
}

// unquoted removes the backslashes of an unquoted literal and refuses the
// characters a shell would expand there (globs, braces, tilde): the plan
// runs without a shell, so they would silently mean something else.
func unquoted(raw string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '\\':
			if i+1 < len(raw) {
				i++
				if raw[i] != '\n' {
					b.WriteByte(raw[i])
				}
			}
			continue
		case '*', '?', '[', ']':
			return "", reject("unquoted %q would be a glob: quote the word ('...')", string(c))
		case '{', '}':
			return "", reject("unquoted %q would be brace expansion: quote the word ('...')", string(c))
		case '~':
			return "", reject("unquoted ~ would be a home directory: quote the word")
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// inDouble removes the backslashes that escape a character in double
// quotes (only $ ` " \ and newline are escapable there).
func inDouble(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			switch raw[i+1] {
			case '$', '`', '"', '\\':
				b.WriteByte(raw[i+1])
				i++
				continue
			case '\n':
				i++
				continue
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// printable refuses control characters (a tab aside) and invisible
// formatting characters (bidirectional overrides, zero-width joiners) that
// make an argument read differently from what it is.
func printable(s string) error {
	for _, r := range s {
		switch {
		case r == '\t':
		case r < 0x20 || r == 0x7f:
			return reject("control character %U in an argument", r)
		case unicode.Is(unicode.Cf, r):
			return reject("invisible formatting character %U in an argument", r)
		}
	}
	return nil
}
