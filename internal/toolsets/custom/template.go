package custom

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// How a {{ param }} placeholder becomes part of a command.
//
// HolmesGPT shell-quotes each value and pastes it into the text, which
// breaks inside quotes ('{{ x }}' un-quotes the value) and lets a value
// change the command wherever the author's quoting and HolmesGPT's disagree.
// Here a value never becomes shell text: each parameter is passed to the
// shell as the environment variable SLEUTH_PARAM_<name>, and each
// placeholder is replaced by a reference to that variable written for the
// quoting context it stands in, found with a real shell parser:
//
//	unquoted        {{ x }}       -> ${SLEUTH_PARAM_x:+"$SLEUTH_PARAM_x"}
//	                 (one word, or no word when empty, as HolmesGPT's quoting gives)
//	double quotes   "a{{ x }}b"   -> "a${SLEUTH_PARAM_x}b"
//	single quotes   'a{{ x }}b'   -> 'a'"${SLEUTH_PARAM_x}"'b'
//	here-document   {{ x }}       -> ${SLEUTH_PARAM_x}
//
// The shell expands a variable once and never parses its value, so a value
// is always data. Contexts where bash evaluates an expanded value as code
// are refused when the file is loaded: arithmetic ($((..)), ((..)), let,
// [[ -eq ]], array subscripts, ${a:off:len}), $'..' strings, quoted
// here-documents (no expansion at all) and the arguments of eval or of a
// shell's -c.
//
// ${ENV} references work as in HolmesGPT and are never shown to the model:
// the shell expands them from the server's environment at run time, and
// inside single quotes (where HolmesGPT's text expansion reaches but a
// shell's would not) they are rewritten like a placeholder.

// placeholderRE matches a {{ name }} placeholder.
var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// envRefRE matches $NAME and ${NAME}.
var envRefRE = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)

// ParamEnvPrefix starts the environment variable that carries a parameter.
const ParamEnvPrefix = "SLEUTH_PARAM_"

// template is a command or script ready to run.
type template struct {
	// source is the text as written, for display.
	source string
	// shell is the text the shell runs.
	shell string
	// params are the placeholder names, in order of first use.
	params []string
	// envRefs are the ${ENV} names the text refers to.
	envRefs []string
}

// context kinds of a position in shell source.
type ctxKind int

const (
	ctxUnquoted ctxKind = iota
	ctxDouble
	ctxSingle
	ctxHeredoc
	ctxForbidden
)

type span struct {
	start, end uint
	kind       ctxKind
	why        string // for ctxForbidden
}

// compile turns a command or script into a template. isSet says whether an
// environment variable is set (HolmesGPT leaves unset ${X} as written).
func compile(src string, lang syntax.LangVariant, isSet func(string) bool) (*template, error) {
	if rest := placeholderRE.ReplaceAllString(src, ""); strings.Contains(rest, "{{") {
		return nil, fmt.Errorf("unsupported template expression near %q: only {{ name }} placeholders are supported", excerpt(rest, strings.Index(rest, "{{")))
	}
	if strings.Contains(src, "{%") {
		return nil, fmt.Errorf("template statements ({%% ... %%}) are not supported: only {{ name }} placeholders")
	}
	t := &template{source: src}
	// Each placeholder becomes a unique marker that parses as a plain
	// word in every context, so the parser can say where it stands.
	var names []string
	marked := placeholderRE.ReplaceAllStringFunc(src, func(m string) string {
		name := placeholderRE.FindStringSubmatch(m)[1]
		names = append(names, name)
		if !slices.Contains(t.params, name) {
			t.params = append(t.params, name)
		}
		return marker(len(names) - 1)
	})
	f, err := syntax.NewParser(syntax.Variant(lang), syntax.KeepComments(true)).Parse(strings.NewReader(marked), "")
	if err != nil {
		return nil, fmt.Errorf("not valid shell: %w", err)
	}
	spans := contextSpans(f)

	// Rewrite from the end so earlier offsets stay valid.
	type edit struct {
		start, end uint
		text       string
	}
	var edits []edit
	for i := range names {
		m := marker(i)
		off := uint(strings.Index(marked, m))
		sp := innermost(spans, off)
		v := ParamEnvPrefix + names[i]
		var text string
		switch sp.kind {
		case ctxForbidden:
			return nil, fmt.Errorf("placeholder {{ %s }} stands %s, where a value would be run as code; pass it elsewhere", names[i], sp.why)
		case ctxUnquoted:
			text = "${" + v + `:+"$` + v + `"}`
		case ctxDouble, ctxHeredoc:
			text = "${" + v + "}"
		case ctxSingle:
			text = `'"${` + v + `}"'`
		}
		edits = append(edits, edit{off, off + uint(len(m)), text})
	}
	// ${ENV} inside single quotes: HolmesGPT's text expansion reaches it,
	// a shell would not; rewrite it to a double-quoted reference.
	for _, sp := range spans {
		if sp.kind != ctxSingle {
			continue
		}
		body := marked[sp.start:sp.end]
		for _, loc := range envRefRE.FindAllStringSubmatchIndex(body, -1) {
			var name string
			if loc[2] >= 0 {
				name = body[loc[2]:loc[3]]
			} else {
				name = body[loc[4]:loc[5]]
			}
			if !isSet(name) {
				continue
			}
			edits = append(edits, edit{sp.start + uint(loc[0]), sp.start + uint(loc[1]), `'"${` + name + `}"'`})
		}
	}
	slices.SortFunc(edits, func(a, b edit) int { return int(b.start) - int(a.start) })
	out := marked
	for _, e := range edits {
		out = out[:e.start] + e.text + out[e.end:]
	}
	t.shell = out
	for _, m := range envRefRE.FindAllStringSubmatch(src, -1) {
		name := m[1] + m[2]
		if !slices.Contains(t.envRefs, name) {
			t.envRefs = append(t.envRefs, name)
		}
	}
	return t, nil
}

func marker(i int) string { return fmt.Sprintf("SLEUTHxPLACEHOLDERx%dx", i) }

func excerpt(s string, i int) string {
	return s[i:min(len(s), i+30)]
}

// contextSpans records the quoting context of every region of the parsed
// source that changes how a word there is read.
func contextSpans(f *syntax.File) []span {
	var spans []span
	add := func(n syntax.Node, kind ctxKind, why string) {
		if n == nil || !n.Pos().IsValid() {
			return
		}
		spans = append(spans, span{n.Pos().Offset(), n.End().Offset(), kind, why})
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.SglQuoted:
			if n.Dollar {
				add(n, ctxForbidden, "in a $'...' string")
			} else {
				spans = append(spans, span{n.Left.Offset() + 1, n.Right.Offset(), ctxSingle, ""})
			}
		case *syntax.DblQuoted:
			add(n, ctxDouble, "")
		case *syntax.CmdSubst:
			add(n, ctxUnquoted, "")
		case *syntax.ProcSubst:
			add(n, ctxUnquoted, "")
		case *syntax.ArithmExp:
			add(n, ctxForbidden, "in an arithmetic expansion")
		case *syntax.ArithmCmd:
			add(n, ctxForbidden, "in an arithmetic command")
		case *syntax.LetClause:
			add(n, ctxForbidden, "in let")
		case *syntax.CStyleLoop:
			add(n, ctxForbidden, "in a for ((...)) loop")
		case *syntax.ParamExp:
			if n.Index != nil {
				add(n.Index, ctxForbidden, "in an array subscript")
			}
			if n.Slice != nil {
				add(n.Slice.Offset, ctxForbidden, "in a ${var:offset:length}")
				if n.Slice.Length != nil {
					add(n.Slice.Length, ctxForbidden, "in a ${var:offset:length}")
				}
			}
		case *syntax.Assign:
			if n.Index != nil {
				add(n.Index, ctxForbidden, "in an array subscript")
			}
		case *syntax.BinaryTest:
			switch n.Op {
			case syntax.TsEql, syntax.TsNeq, syntax.TsLeq, syntax.TsGeq, syntax.TsLss, syntax.TsGtr:
				add(n, ctxForbidden, "in an arithmetic comparison of [[ ]]")
			}
		case *syntax.Redirect:
			if n.Hdoc != nil && len(n.Hdoc.Parts) > 0 {
				if n.Word != nil && heredocQuoted(n.Word) {
					add(n.Hdoc, ctxForbidden, "in a quoted here-document (it expands nothing)")
				} else {
					add(n.Hdoc, ctxHeredoc, "")
				}
			}
		case *syntax.CallExpr:
			if len(n.Args) == 0 {
				break
			}
			switch cmd := n.Args[0].Lit(); cmd {
			case "eval":
				for _, a := range n.Args[1:] {
					add(a, ctxForbidden, "in an argument of eval")
				}
			case "sh", "bash", "dash", "zsh", "ksh", "ash":
				for i, a := range n.Args[1:] {
					if strings.HasPrefix(a.Lit(), "-") && strings.Contains(a.Lit(), "c") {
						// The -c script and the rest: a value there is code.
						for _, b := range n.Args[1+i:] {
							add(b, ctxForbidden, "in a "+cmd+" -c script")
						}
						break
					}
				}
			}
		}
		return true
	})
	return spans
}

func heredocQuoted(w *syntax.Word) bool {
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.SglQuoted, *syntax.DblQuoted:
			return true
		case *syntax.Lit:
			if strings.Contains(p.Value, `\`) {
				return true
			}
		}
	}
	return false
}

// innermost returns the smallest span holding off, a forbidden one
// anywhere around it winning; outside every span the context is unquoted.
func innermost(spans []span, off uint) span {
	best := span{kind: ctxUnquoted}
	bestLen := ^uint(0)
	for _, s := range spans {
		if off < s.start || off >= s.end {
			continue
		}
		if s.kind == ctxForbidden {
			return s
		}
		if l := s.end - s.start; l < bestLen {
			best, bestLen = s, l
		}
	}
	return best
}
