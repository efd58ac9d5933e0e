package runbook

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// issueKeys are the keys of a legacy runbook's match, in the order of
// Runbook.issue.
var issueKeys = [3]string{"issue_id", "issue_name", "source"}

// compilePython compiles a pattern written for Python's re.match, which
// HolmesGPT uses: it matches at the start of the string only, so the
// pattern is anchored with ^ and grouped so that ^ binds every alternative
// of "A|B"; it matches to the end only where the pattern says $.
//
// Go's RE2 syntax is Python's minus lookaround, backreferences and
// conditionals; Python's \Z (end of string) is Go's \z and is translated.
func compilePython(pattern string) (*regexp.Regexp, error) {
	translated := translatePythonEscapes(pattern)
	// Compile the pattern alone first so that an error quotes what the
	// user wrote rather than our wrapping.
	if _, err := regexp.Compile(translated); err != nil {
		return nil, regexpError(pattern, err)
	}
	return regexp.Compile(`^(?:` + translated + `)`)
}

// compileFull compiles a pattern that must match the whole string, as
// Alertmanager's and Prometheus' regex matchers do.
func compileFull(pattern string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, regexpError(pattern, err)
	}
	return regexp.Compile(`^(?:` + pattern + `)$`)
}

func translatePythonEscapes(p string) string {
	if !strings.Contains(p, `\Z`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			if p[i+1] == 'Z' {
				b.WriteString(`\z`)
			} else {
				b.WriteByte(p[i])
				b.WriteByte(p[i+1])
			}
			i++
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func regexpError(pattern string, err error) error {
	msg := err.Error()
	var re *syntax.Error
	if errors.As(err, &re) {
		msg = re.Code.String() + ": `" + re.Expr + "`"
		switch re.Code {
		case syntax.ErrInvalidPerlOp, syntax.ErrInvalidEscape, syntax.ErrInvalidNamedCapture:
			msg += " (Go's RE2 syntax has no lookahead, lookbehind, backreferences, conditionals or (?x) verbose mode; rewrite the pattern without them)"
		}
	}
	return fmt.Errorf("invalid regexp %q: %s", pattern, msg)
}

// MatchType is the operator of a label matcher.
type MatchType string

// Label matcher operators, as in Alertmanager.
const (
	MatchEqual     MatchType = "="
	MatchNotEqual  MatchType = "!="
	MatchRegexp    MatchType = "=~"
	MatchNotRegexp MatchType = "!~"
)

// Matcher is an Alertmanager-style label matcher. A label the alert lacks
// has the empty value, so namespace!="kube-system" holds for an alert with
// no namespace and pod="" holds only for one without a pod.
type Matcher struct {
	Name  string
	Type  MatchType
	Value string
	re    *regexp.Regexp
}

// matcherRE splits name, operator and value; the operators are tried
// longest first so that "=~" is not read as "=" followed by "~".
var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)

// ParseMatcher parses one matcher: name, an operator (=, !=, =~, !~) and a
// value, double-quoted (with Go/Alertmanager escapes) or bare.
func ParseMatcher(s string) (*Matcher, error) {
	m := matcherRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("bad matcher %q: want NAME OP VALUE with OP one of =, !=, =~, !~, such as 'severity=~\"critical|warning\"'", s)
	}
	mt := &Matcher{Name: m[1], Type: MatchType(m[2])}
	v := m[3]
	switch {
	case strings.HasPrefix(v, `"`):
		u, err := strconv.Unquote(v)
		if err != nil {
			return nil, fmt.Errorf("bad matcher %q: the value %s is not a complete double-quoted string", s, v)
		}
		mt.Value = u
	case strings.ContainsAny(v, "\"'`,{}"):
		return nil, fmt.Errorf("bad matcher %q: double-quote a value holding quotes, commas or braces (one matcher per list item)", s)
	default:
		mt.Value = v
	}
	if mt.Type == MatchRegexp || mt.Type == MatchNotRegexp {
		re, err := compileFull(mt.Value)
		if err != nil {
			return nil, fmt.Errorf("bad matcher %q: %w", s, err)
		}
		mt.re = re
	}
	return mt, nil
}

// Matches reports whether a label value satisfies the matcher.
func (m *Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// String returns the matcher in the syntax it is parsed from.
func (m *Matcher) String() string {
	return m.Name + string(m.Type) + strconv.Quote(m.Value)
}
