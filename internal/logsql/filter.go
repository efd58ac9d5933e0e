package logsql

import (
	"strconv"
	"strings"
)

// QuoteString returns s as a double-quoted LogsQL string literal, quotes
// included. VictoriaLogs reads double-quoted strings with Go's rules
// (strconv.QuotedPrefix, then Unquote), and Go's quoting escapes quotes,
// backslashes, newlines and every non-printable or invalid byte, so the
// literal always ends where it should and reads back as exactly s.
func QuoteString(s string) string {
	return strconv.Quote(s)
}

// PodQuery returns a LogsQL filter selecting the container logs of pod in
// namespace, and of container if it is not empty, by the stream fields
// vlagent writes:
//
//	{kubernetes.pod_namespace="shop",kubernetes.pod_name="checkout-7d9f",kubernetes.container_name="app"}
//
// An empty namespace or pod is left out of the filter. Every value is
// quoted with QuoteString.
//
// extra, if not empty, is a LogsQL filter the lines must match too, such
// as `error OR ~"timeout"`. It is put in parentheses after the stream
// filter, so it can only narrow the selection. An extra that could reach
// outside its parentheses (unbalanced brackets, a malformed quoted string,
// a pipe or a comment) is matched as a literal phrase instead.
func PodQuery(namespace, pod, container, extra string) string {
	var m []string
	for _, f := range [][2]string{{FieldNamespace, namespace}, {FieldPod, pod}, {FieldContainer, container}} {
		if f[1] != "" {
			m = append(m, f[0]+"="+QuoteString(f[1]))
		}
	}
	q := "*"
	if len(m) > 0 {
		q = "{" + strings.Join(m, ",") + "}"
	}
	if strings.TrimSpace(extra) == "" {
		return q
	}
	if !selfContained(extra) {
		return q + " " + QuoteString(extra)
	}
	return q + " (" + extra + ")"
}

// selfContained reports whether the LogsQL fragment s, put in parentheses,
// stays inside them: its brackets balance, its quoted strings are ones
// VictoriaLogs' lexer reads the same way (so a quote cannot hide a
// bracket from this scan and show it to the lexer), and it has no pipe
// and no comment (which would hide the closing parenthesis).
func selfContained(s string) bool {
	var stack []byte
	closer := map[byte]byte{'(': ')', '[': ']', '{': '}'}
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '"', '`':
			prefix, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return false
			}
			if _, err := strconv.Unquote(prefix); err != nil {
				return false
			}
			i += len(prefix)
			continue
		case '\'':
			n, ok := singleQuoted(s[i:])
			if !ok {
				return false
			}
			i += n
			continue
		case '(', '[', '{':
			stack = append(stack, closer[c])
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return false
			}
			stack = stack[:len(stack)-1]
		case '|', '#':
			return false
		}
		i++
	}
	return len(stack) == 0
}

// singleQuoted returns the length of the single-quoted string at the start
// of s, read as VictoriaLogs' lexer reads it.
func singleQuoted(s string) (int, bool) {
	tail := s[1:]
	for !strings.HasPrefix(tail, "'") {
		if tail == "" {
			return 0, false
		}
		_, _, next, err := strconv.UnquoteChar(tail, '\'')
		if err != nil {
			return 0, false
		}
		tail = next
	}
	n := len(s) - len(tail) + 1
	return n, true
}
