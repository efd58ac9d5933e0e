// Package logfold provides log template mining in the style of Drain (He
// et al., 2017): lines are split into tokens, obviously variable tokens
// (numbers, IDs, addresses, timestamps) are masked, and lines of the same
// length whose tokens mostly agree are folded into one template in which
// the positions that differ read <*>. A thousand lines of a retry loop
// become one template with a count, which is what a person, or a model with
// a small context, can read.
//
// Tokens naming what is under investigation (a pod, a namespace) are never
// masked: a line about the pod under investigation is never folded together
// with a line about another pod.
package logfold

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Wildcard stands for a variable token in a template.
const Wildcard = "<*>"

// Options tune folding. Zero values take the defaults.
type Options struct {
	// Keep lists strings that are never masked: a token containing one is
	// kept verbatim and must match exactly to fold.
	Keep []string
	// Similarity is the share of equal tokens for a line to join a
	// template (default 0.5, Drain's usual threshold).
	Similarity float64
	// MaxGroups bounds the templates (default 200); lines that would start
	// a new template beyond it join the most similar one regardless.
	MaxGroups int
}

// Line is one log line.
type Line struct {
	Time time.Time // zero when unknown
	Text string
}

// Group is a template and the lines it folds.
type Group struct {
	Template string
	Count    int
	// Example is the newest line as written.
	Example     string
	First, Last time.Time
	// order is the index of the first line, for a stable rendering.
	order  int
	tokens []string
}

// maxTokens bounds the tokens compared per line; the rest of a long line
// is one opaque tail token.
const maxTokens = 64

var (
	uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	ipRe   = regexp.MustCompile(`^\[?\d{1,3}(\.\d{1,3}){3}(:\d+)?\]?$|^\[?[0-9a-fA-F:]*::[0-9a-fA-F:]*\]?(:\d+)?$`)
	hexRe  = regexp.MustCompile(`^(0x)?[0-9a-fA-F]{6,}$`)
	numRe  = regexp.MustCompile(`^[-+]?\d+([.,:]\d+)*(ms|s|m|h|us|µs|ns|b|kb|mb|gb|ki|mi|gi|%)?$`)
	timeRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]?[\d:.,]*Z?([+-]\d{2}:?\d{2})?$|^\d{2}:\d{2}:\d{2}([.,]\d+)?$`)
	kvRe   = regexp.MustCompile(`^([A-Za-z_][\w.\-]*[=:])(.+)$`)
)

// mask returns the token, or Wildcard for an obviously variable one.
func mask(tok string, keep []string) string {
	for _, k := range keep {
		if k != "" && strings.Contains(tok, k) {
			return tok
		}
	}
	core := strings.Trim(tok, `"'()[]{},;`)
	if core == "" {
		return tok
	}
	if m := kvRe.FindStringSubmatch(core); m != nil {
		if v := mask(m[2], nil); v == Wildcard {
			return m[1] + Wildcard
		}
		return tok
	}
	switch {
	case uuidRe.MatchString(core), ipRe.MatchString(core), timeRe.MatchString(core):
		return Wildcard
	case numRe.MatchString(core):
		// Short numbers (status codes, exit codes, ports) carry meaning
		// and are kept; Drain still folds them if they vary.
		if digits(core) >= 4 || strings.ContainsAny(core, ".:") {
			return Wildcard
		}
		return tok
	case hexRe.MatchString(core) && digits(core) > 0:
		return Wildcard
	}
	return tok
}

func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

func tokenize(s string, keep []string) (toks, masked []string) {
	toks = strings.Fields(s)
	if len(toks) > maxTokens {
		tail := strings.Join(toks[maxTokens-1:], " ")
		toks = append(toks[:maxTokens-1:maxTokens-1], tail)
	}
	masked = make([]string, len(toks))
	for i, t := range toks {
		masked[i] = mask(t, keep)
	}
	return toks, masked
}

func kept(tok string, keep []string) bool {
	for _, k := range keep {
		if k != "" && strings.Contains(tok, k) {
			return true
		}
	}
	return false
}

// similarity is the share of positions where the template and the line
// agree, or -1 when they must not fold: a kept token differs.
func similarity(tmpl, line []string, keep []string) float64 {
	same := 0
	for i := range tmpl {
		switch {
		case tmpl[i] == line[i]:
			same++
		case kept(tmpl[i], keep) || kept(line[i], keep):
			return -1
		case tmpl[i] == Wildcard:
			same++
		}
	}
	return float64(same) / float64(len(tmpl))
}

// Fold folds lines into templates, in the order of their first line.
func Fold(lines []Line, o Options) []Group {
	if o.Similarity <= 0 {
		o.Similarity = 0.5
	}
	if o.MaxGroups <= 0 {
		o.MaxGroups = 200
	}
	byLen := map[int][]*Group{}
	var all []*Group
	for i, l := range lines {
		text := strings.TrimSpace(l.Text)
		if text == "" {
			continue
		}
		_, masked := tokenize(text, o.Keep)
		var best *Group
		bestSim := -1.0
		for _, g := range byLen[len(masked)] {
			if s := similarity(g.tokens, masked, o.Keep); s > bestSim {
				best, bestSim = g, s
			}
		}
		if best == nil || bestSim < o.Similarity {
			if len(all) < o.MaxGroups || best == nil || bestSim < 0 {
				g := &Group{tokens: masked, order: i, First: l.Time}
				byLen[len(masked)] = append(byLen[len(masked)], g)
				all = append(all, g)
				best = g
			}
		}
		for j := range best.tokens {
			if best.tokens[j] != masked[j] {
				best.tokens[j] = Wildcard
			}
		}
		best.Count++
		best.Example = text
		if !l.Time.IsZero() {
			if best.First.IsZero() || l.Time.Before(best.First) {
				best.First = l.Time
			}
			if l.Time.After(best.Last) {
				best.Last = l.Time
			}
		}
	}
	out := make([]Group, len(all))
	for i, g := range all {
		g.Template = strings.Join(g.tokens, " ")
		out[i] = *g
		out[i].tokens = nil
	}
	return out
}

// Render writes the groups for a reader, at most maxBytes (0: no bound):
// one line per template with its count and time span, and an example when
// the template hides something. When not all fit, the templates with the
// fewest lines are left out and counted at the end. total is the number of
// lines the source had (0: the sum of the counts), so that lines the
// source cut are mentioned too.
func Render(groups []Group, maxBytes, total int) string {
	sum := 0
	for _, g := range groups {
		sum += g.Count
	}
	if total < sum {
		total = sum
	}
	lines := make([]string, len(groups))
	for i, g := range groups {
		lines[i] = renderGroup(g)
	}
	// Choose which fit: the biggest groups first, shown in order of
	// appearance.
	idx := make([]int, len(groups))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return groups[b].Count - groups[a].Count })
	chosen := make([]bool, len(groups))
	size, shown := 0, 0
	for _, i := range idx {
		if maxBytes > 0 && size+len(lines[i])+1 > maxBytes-120 {
			continue
		}
		chosen[i] = true
		size += len(lines[i]) + 1
		shown += groups[i].Count
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines folded into %d templates (<*> marks variable parts):\n", total, len(groups))
	left := 0
	for i, l := range lines {
		if chosen[i] {
			b.WriteString(l)
			b.WriteByte('\n')
		} else {
			left++
		}
	}
	if left > 0 || total > sum {
		fmt.Fprintf(&b, "[%d more templates (%d lines) left out", left, sum-shown)
		if total > sum {
			fmt.Fprintf(&b, "; the source cut %d lines", total-sum)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func renderGroup(g Group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%dx", g.Count)
	if !g.First.IsZero() {
		b.WriteString(" " + g.First.UTC().Format("15:04:05"))
		if g.Count > 1 && !g.Last.Equal(g.First) {
			b.WriteString("-" + g.Last.UTC().Format("15:04:05"))
		}
	}
	b.WriteString(" | ")
	b.WriteString(clip(g.Template, 400))
	if g.Count > 1 && strings.Contains(g.Template, Wildcard) {
		b.WriteString("\n    e.g. ")
		b.WriteString(clip(g.Example, 240))
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
