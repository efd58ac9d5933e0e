package scenario

import (
	"slices"
	"strings"
)

// Verdict is what a report concluded, as scoring reads it.
type Verdict struct {
	Category string
	Culprit  Object
	// Text is the report's summary, findings and remediation as one string.
	Text string
}

// Result is one scenario's score, in the JSON shape of
// docs/scenario-format.md.
type Result struct {
	Name       string  `json:"name"`
	Pass       bool    `json:"pass"`
	CategoryOK bool    `json:"category_ok"`
	CulpritOK  bool    `json:"culprit_ok"`
	MentionsOK bool    `json:"mentions_ok"`
	Category   string  `json:"category"`
	Culprit    Object  `json:"culprit"`
	Seconds    float64 `json:"seconds"`
	Error      string  `json:"error"`
	// File and Missing are extensions for people reading a failure.
	File    string   `json:"file,omitempty"`
	Missing []string `json:"missing_mentions,omitempty"`
	// Expected says what would have passed, for the printed line.
	Expected string `json:"expected,omitempty"`
	// Phases splits Seconds: reset and load, investigate (from starting
	// sleuth to the finished report), score.
	Phases *Phases `json:"phases,omitempty"`
}

// Phases are the seconds a scenario spent in each step of an eval.
type Phases struct {
	Load        float64 `json:"load"`
	Investigate float64 `json:"investigate"`
	Score       float64 `json:"score"`
}

// Score scores a verdict against what the scenario expects: the category
// is one of the expected ones, the culprit matches one of the expected
// objects (kind, namespace and name, case-insensitive; an expected object
// without a namespace, such as a Node, matches on kind and name), and
// every mention appears in the text, case-insensitive.
func Score(e Expect, v Verdict) Result {
	r := Result{Category: v.Category, Culprit: v.Culprit, Expected: e.String()}
	r.CategoryOK = slices.Contains(e.Categories, v.Category)
	r.CulpritOK = len(e.Culprits) == 0
	for _, c := range e.Culprits {
		if c.Matches(v.Culprit) {
			r.CulpritOK = true
			break
		}
	}
	text := strings.ToLower(v.Text)
	for _, m := range e.Mentions {
		if !strings.Contains(text, strings.ToLower(m)) {
			r.Missing = append(r.Missing, m)
		}
	}
	r.MentionsOK = len(r.Missing) == 0
	r.Pass = r.CategoryOK && r.CulpritOK && r.MentionsOK
	return r
}

// Matches reports whether got is the object o names.
func (o Object) Matches(got Object) bool {
	if !strings.EqualFold(o.Kind, got.Kind) || !strings.EqualFold(o.Name, got.Name) {
		return false
	}
	return o.Namespace == "" || strings.EqualFold(o.Namespace, got.Namespace)
}

// String renders the expectation on one line: "oom-killed Deployment shop/checkout".
func (e Expect) String() string {
	var b strings.Builder
	b.WriteString(strings.Join(e.Categories, "|"))
	for i, c := range e.Culprits {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString(" or ")
		}
		b.WriteString(c.String())
	}
	return b.String()
}
