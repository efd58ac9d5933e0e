// Package runbook provides runbooks: what to do when an alert fires. It
// loads HolmesGPT's runbook YAML unchanged (regexes on issue_id, issue_name
// and source, instructions for the model) and sleuth's native runbooks, which
// match alerts by alertname and Alertmanager-style label matchers and add
// deterministic steps: tool calls whose arguments are templates over the
// alert, rendered with escaping for the query language they end up in.
//
// The runbooks sleuth ships are embedded in the binary (Builtin); operators
// add their own directories (Load), typically ConfigMaps mounted as files.
package runbook

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Kind tells the two runbook formats apart.
type Kind string

// Runbook kinds.
const (
	// Legacy is a HolmesGPT runbook: an entry of the top-level "runbooks" list.
	Legacy Kind = "legacy"
	// Native is a sleuth runbook: an entry of the top-level "sleuth_runbooks" list.
	Native Kind = "native"
)

// Source is the issue source HolmesGPT gives alerts that come from
// Alertmanager; legacy runbooks match it with their "source" pattern.
const Source = "prometheus"

// categories is the root-cause taxonomy of the scenario format, without
// "none" and "unknown": a runbook is about something being wrong.
var categories = []string{
	"oom-killed", "crash-loop", "config-error", "image-pull", "unschedulable",
	"volume", "probe-failure", "cpu-throttling", "cpu-saturation", "disk-pressure",
	"node-failure", "dependency-failure", "bad-rollout", "job-failure",
	"quota-exceeded", "certificate-expiry", "network-policy", "scaling-limit",
}

// Categories returns the root-cause categories a native runbook's category
// field may name, in the taxonomy's order.
func Categories() []string { return slices.Clone(categories) }

// Runbook is one loaded runbook of either kind.
type Runbook struct {
	Kind Kind
	// Name identifies a native runbook; a legacy runbook has none.
	Name string
	// Source is the file the runbook was loaded from; Line is its line.
	Source string
	Line   int
	// Index is the runbook's position in its file's list.
	Index int
	// Categories are the root-cause categories a native runbook is about.
	Categories []string
	// Instructions is the text for people and the model, as written.
	Instructions string

	// IssueID, IssueName and IssueSource are a legacy runbook's patterns
	// as written; nil means the key is absent (it then matches anything).
	IssueID, IssueName, IssueSource *string

	// AlertName is a native runbook's alertname pattern as written, ""
	// when absent; Matchers are its label matchers.
	AlertName string
	Matchers  []*Matcher
	// Steps are a native runbook's tool calls, in order.
	Steps []*Step

	issue     [3]*regexp.Regexp // issue_id, issue_name, source
	alertName *regexp.Regexp
}

// String names the runbook for people: a native runbook's name, or a
// legacy runbook's match keys.
func (r *Runbook) String() string {
	if r.Kind == Native {
		return r.Name
	}
	var parts []string
	for i, p := range []*string{r.IssueID, r.IssueName, r.IssueSource} {
		if p != nil {
			parts = append(parts, fmt.Sprintf("%s=%q", issueKeys[i], *p))
		}
	}
	if len(parts) == 0 {
		return "match {} (every issue)"
	}
	return "match {" + strings.Join(parts, ", ") + "}"
}

// Selector describes what a runbook matches, in the file's own terms.
func (r *Runbook) Selector() string {
	if r.Kind == Legacy {
		return strings.TrimPrefix(r.String(), "match ")
	}
	var parts []string
	if r.alertName != nil {
		parts = append(parts, fmt.Sprintf("alertname=~%q", r.AlertName))
	}
	for _, m := range r.Matchers {
		parts = append(parts, m.String())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// RenderSteps renders every step for data. A step that cannot be rendered
// (a label the alert lacks) is left out and its error returned, so that the
// others still run.
func (r *Runbook) RenderSteps(data TemplateData) ([]RenderedStep, []error) {
	var out []RenderedStep
	var errs []error
	for _, s := range r.Steps {
		rs, err := s.Render(data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rs)
	}
	return out, errs
}

// Alert is what runbooks are matched against: an Alertmanager alert, or a
// request that stands for one.
type Alert struct {
	// Name is the alertname; empty means Labels["alertname"].
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Fingerprint string
	StartsAt    time.Time
	// Source and IssueID override what legacy runbooks see for requests
	// that are not Alertmanager alerts (HolmesGPT's /api/investigate has
	// its own source and context id). Empty means Source ("prometheus")
	// and <alertname>-<fingerprint>-<startsAt>.
	Source  string
	IssueID string
}

// Issue is what HolmesGPT matches legacy runbooks against.
type Issue struct {
	ID, Name, Source string
}

// AlertName returns the alert's name.
func (a Alert) AlertName() string {
	if a.Name != "" {
		return a.Name
	}
	return a.Labels["alertname"]
}

// Issue returns the alert as HolmesGPT sees it: issue_name is the
// alertname, source is "prometheus", issue_id is
// <alertname>-<fingerprint>-<startsAt>, with startsAt printed the way
// Python prints a datetime (HolmesGPT formats it with an f-string), so that
// issue_id patterns written against HolmesGPT match the same alerts.
func (a Alert) Issue() Issue {
	is := Issue{ID: a.IssueID, Name: a.AlertName(), Source: a.Source}
	if is.Source == "" {
		is.Source = Source
	}
	if is.ID == "" {
		is.ID = is.Name + "-" + a.Fingerprint + "-" + pythonTime(a.StartsAt)
	}
	return is
}

// pythonTime formats t as str(datetime) does for an aware datetime:
// "2026-03-01 12:00:00+00:00", microseconds only when non-zero.
func pythonTime(t time.Time) string {
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + t.Format("-07:00")
}

// Match is a runbook that applies to an alert.
type Match struct {
	Runbook *Runbook
	// Source is the file the runbook comes from.
	Source string
	Kind   Kind
}

// Set is a loaded, ordered collection of runbooks. It is immutable and
// safe for concurrent use.
type Set struct {
	runbooks []*Runbook
	files    []File
}

// File is one file a Set was loaded from.
type File struct {
	Path string
	// Runbooks is the number of runbooks loaded from the file.
	Runbooks int
	// Failed says the file had errors and none of its runbooks loaded.
	Failed bool
}

// Runbooks returns the runbooks in load order.
func (s *Set) Runbooks() []*Runbook {
	if s == nil {
		return nil
	}
	return slices.Clone(s.runbooks)
}

// Files returns the files the set was loaded from, in load order, with
// those that failed.
func (s *Set) Files() []File {
	if s == nil {
		return nil
	}
	return slices.Clone(s.files)
}

// Len returns the number of runbooks.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.runbooks)
}

// Match returns every runbook that applies to the alert, in load order, as
// HolmesGPT applies every matching runbook. A legacy runbook applies when
// each of its patterns matches the start of the issue's field; a native one
// when its alertname pattern matches the whole alertname and every label
// matcher holds.
func (s *Set) Match(a Alert) []Match {
	if s == nil {
		return nil
	}
	is := a.Issue()
	var out []Match
	for _, r := range s.runbooks {
		if r.matches(a, is) {
			out = append(out, Match{Runbook: r, Source: r.Source, Kind: r.Kind})
		}
	}
	return out
}

func (r *Runbook) matches(a Alert, is Issue) bool {
	if r.Kind == Legacy {
		for i, v := range []string{is.ID, is.Name, is.Source} {
			if re := r.issue[i]; re != nil && !re.MatchString(v) {
				return false
			}
		}
		return true
	}
	if r.alertName != nil && !r.alertName.MatchString(a.AlertName()) {
		return false
	}
	for _, m := range r.Matchers {
		if !m.Matches(a.Labels[m.Name]) {
			return false
		}
	}
	return true
}

// Join returns the runbooks of the sets in order. A native runbook replaces
// an earlier native runbook of the same name, so that an operator's
// directory can override a builtin runbook; legacy runbooks have no names
// and all apply, as in HolmesGPT.
func Join(sets ...*Set) *Set {
	out := &Set{}
	at := map[string]int{}
	for _, s := range sets {
		if s == nil {
			continue
		}
		out.files = append(out.files, s.files...)
		for _, r := range s.runbooks {
			if r.Kind == Native {
				if i, ok := at[r.Name]; ok {
					out.runbooks[i] = nil
				}
				at[r.Name] = len(out.runbooks)
			}
			out.runbooks = append(out.runbooks, r)
		}
	}
	out.runbooks = slices.DeleteFunc(out.runbooks, func(r *Runbook) bool { return r == nil })
	return out
}
