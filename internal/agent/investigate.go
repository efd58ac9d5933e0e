package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// confident is the deterministic confidence from which a model that
// disagrees is shown as commentary instead of overriding: the analyzers
// read the evidence exhaustively, a small local model reads a digest.
const confident = 0.7

// taskShare is the part of the prompt budget the task (the digest of the
// deterministic report) may take; the rest is for tool results.
const taskShare = 0.45

// InvestigateOptions tune one investigation.
type InvestigateOptions struct {
	// Task replaces the opening line of the task ("Investigate this
	// alert."), e.g. with HolmesGPT's request title and description.
	Task string
	// AdditionalSystemPrompt is appended to the system prompt.
	AdditionalSystemPrompt string
	// Sections are extra sections to write (title -> what to write in
	// it), as HolmesGPT's /api/investigate takes them.
	Sections map[string]string
	// OnStep receives the loop's events as they happen.
	OnStep StepFunc
}

// Answer is the model's final answer to an investigation.
type Answer struct {
	Category    string            `json:"category"`
	Culprit     report.Ref        `json:"culprit"`
	Confidence  float64           `json:"confidence"`
	Summary     string            `json:"summary"`
	Findings    []string          `json:"findings"`
	Remediation []string          `json:"remediation"`
	AppOrInfra  string            `json:"app_or_infra"`
	Sections    map[string]string `json:"sections"`
}

// Investigate deepens a deterministic report with the model. It never
// fails: when the model is unreachable, slow or misbehaving, the returned
// report is the deterministic one with LLM.Outcome "failed" and a note.
// det is not modified.
func (a *Agent) Investigate(ctx context.Context, det *report.Report, opts InvestigateOptions) *report.Report {
	out := clone(det)
	r := a.newRun(investigateSystem(opts.AdditionalSystemPrompt, opts.Sections), opts.OnStep)
	ctx = tools.WithNow(ctx, ReferenceTime(det, a.cfg.Now()))
	task := opts.Task
	if task == "" {
		task = "Investigate this alert."
	}
	share := int(float64(r.limit()-r.fixed(len(r.specs) > 0)) * taskShare)
	r.add(llm.Message{Role: llm.RoleUser, Content: llm.TrimToTokens(a.cfg.Counter, digest(det, task), max(share, minTaskTokens))}, true)

	text, err := r.loop(ctx, func(s string) bool { _, ok := parseAnswer(s); return ok }, finalNudge)
	st := r.stage()
	out.ToolCalls = append(out.ToolCalls, r.calls...)
	out.Timing.Calls = len(out.ToolCalls)
	if err != nil {
		st.Outcome = report.LLMFailed
		st.Note = joinNotes(failureNote(err), st.Note)
		out.LLM = &st
		a.cfg.Log.Warn("llm stage failed; the deterministic report stands", "incident", det.IncidentID, "err", err)
		return out
	}
	ans, ok := parseAnswer(text)
	if !ok {
		st.Outcome = report.LLMCommentary
		st.Commentary = strings.TrimSpace(text)
		st.Analysis = st.Commentary
		st.Note = joinNotes(st.Note, "no structured answer: the deterministic root cause stands")
		addCommentary(out, st.Commentary)
		out.LLM = &st
		return out
	}
	if why := a.check(ctx, det, ans, r.calls); why != "" {
		st.Outcome = report.LLMCommentary
		st.Commentary = renderAnswer(ans)
		st.Analysis = st.Commentary
		st.Note = joinNotes(st.Note, why+": the deterministic root cause stands")
		addCommentary(out, st.Commentary)
		out.LLM = &st
		return out
	}
	st.Outcome = report.LLMAccepted
	merge(out, det, ans)
	st.Analysis = renderAnswer(ans)
	out.LLM = &st
	return out
}

func failureNote(err error) string {
	var le *llm.Error
	switch {
	case errors.As(err, &le):
		return "the model could not be used: " + le.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "the investigation deadline ended the model stage: " + err.Error()
	}
	return "the model stage failed: " + err.Error()
}

func joinNotes(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

// clone copies a report deeply enough that the stage's changes do not
// reach the original.
func clone(r *report.Report) *report.Report {
	c := *r
	c.Findings = slices.Clone(r.Findings)
	c.Remediation = slices.Clone(r.Remediation)
	c.ToolCalls = slices.Clone(r.ToolCalls)
	if r.Sections != nil {
		c.Sections = make(map[string]string, len(r.Sections))
		for k, v := range r.Sections {
			c.Sections[k] = v
		}
	}
	if c.ToolCalls == nil {
		c.ToolCalls = []toolcall.Call{}
	}
	return &c
}

var jsonObject = regexp.MustCompile("(?s)```(?:json)?\\s*(\\{.*?\\})\\s*```")

// parseAnswer finds the answer object in the model's text: the whole
// text, a fenced block, or the outermost braces.
func parseAnswer(text string) (Answer, bool) {
	s := strings.TrimSpace(text)
	var candidates []string
	candidates = append(candidates, s)
	for _, m := range jsonObject.FindAllStringSubmatch(s, -1) {
		candidates = append(candidates, m[1])
	}
	if i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}'); i >= 0 && j > i {
		candidates = append(candidates, s[i:j+1])
	}
	for _, c := range candidates {
		var raw map[string]json.RawMessage
		if json.Unmarshal([]byte(c), &raw) != nil {
			continue
		}
		if _, ok := raw["category"]; !ok {
			continue
		}
		var a Answer
		// Decode field by field: a model writing findings as one string or
		// confidence as "high" still gives a usable answer.
		_ = json.Unmarshal(raw["category"], &a.Category)
		_ = json.Unmarshal(raw["culprit"], &a.Culprit)
		_ = json.Unmarshal(raw["summary"], &a.Summary)
		_ = json.Unmarshal(raw["app_or_infra"], &a.AppOrInfra)
		_ = json.Unmarshal(raw["sections"], &a.Sections)
		a.Confidence = number(raw["confidence"])
		a.Findings = stringList(raw["findings"])
		a.Remediation = stringList(raw["remediation"])
		a.Category = strings.ToLower(strings.TrimSpace(a.Category))
		return a, true
	}
	return Answer{}, false
}

func number(raw json.RawMessage) float64 {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return min(max(f, 0), 1)
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	switch strings.ToLower(s) {
	case "high":
		return 0.8
	case "medium":
		return 0.5
	case "low":
		return 0.3
	}
	return 0.5
}

func stringList(raw json.RawMessage) []string {
	var list []any
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, v := range list {
			switch x := v.(type) {
			case string:
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			default:
				b, _ := json.Marshal(x)
				out = append(out, string(b))
			}
		}
		return out
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
		return []string{strings.TrimSpace(s)}
	}
	return nil
}

// check returns why the answer cannot be trusted, or "".
func (a *Agent) check(ctx context.Context, det *report.Report, ans Answer, calls []toolcall.Call) string {
	if !slices.Contains(report.Categories, ans.Category) {
		return fmt.Sprintf("the model's category %q is not in the taxonomy", ans.Category)
	}
	noObject := ans.Category == report.None || ans.Category == report.Unknown
	if ans.Culprit.IsZero() && !noObject {
		return "the model named no culprit object"
	}
	if !ans.Culprit.IsZero() && !a.known(ctx, det, ans.Culprit) {
		return fmt.Sprintf("the model's culprit %s does not exist (or could not be verified)", ans.Culprit)
	}
	detKnown := det.RootCause.Category != report.Unknown && det.RootCause.Category != ""
	if detKnown && det.RootCause.Confidence >= confident &&
		(ans.Category != det.RootCause.Category || !sameRef(ans.Culprit, det.RootCause.Object)) {
		return fmt.Sprintf("the model's answer (%s, %s) disagrees with the confident automated analysis (%s, %s, %.0f%%)",
			ans.Category, orNone(ans.Culprit.String()), det.RootCause.Category, orNone(det.RootCause.Object.String()), det.RootCause.Confidence*100)
	}
	return ""
}

// known reports whether ref is an object the evidence names, or one the
// cluster has.
func (a *Agent) known(ctx context.Context, det *report.Report, ref report.Ref) bool {
	refs := []report.Ref{det.RootCause.Object, det.Target}
	for _, f := range det.Findings {
		refs = append(refs, f.Object)
	}
	for _, k := range refs {
		if sameRef(k, ref) {
			return true
		}
	}
	if a.cfg.Checker == nil {
		return false
	}
	ok, err := a.cfg.Checker.Exists(ctx, ref)
	return err == nil && ok
}

func sameRef(a, b report.Ref) bool {
	return strings.EqualFold(a.Kind, b.Kind) && strings.EqualFold(a.Name, b.Name) && strings.EqualFold(a.Namespace, b.Namespace)
}

// merge writes an accepted answer into the report.
func merge(out, det *report.Report, ans Answer) {
	conf := ans.Confidence
	if ans.Category == det.RootCause.Category && sameRef(ans.Culprit, det.RootCause.Object) {
		conf = max(conf, det.RootCause.Confidence)
	} else {
		// A model's self-reported confidence is not calibrated.
		conf = min(conf, 0.8)
	}
	out.RootCause = report.RootCause{Category: ans.Category, Object: ans.Culprit, Confidence: conf}
	if ans.Culprit.IsZero() {
		out.RootCause.Object = det.RootCause.Object
	}
	if s := strings.TrimSpace(ans.Summary); s != "" {
		out.Summary = s
	}
	rem := append(slices.Clone(ans.Remediation), det.Remediation...)
	out.Remediation = dedupe(rem, 10)
	related := strings.Split(det.Sections[report.SectionRelatedLogs], "\n")
	if det.Sections[report.SectionRelatedLogs] == "" {
		related = nil
	}
	out.FillSections(related)
	if det.Summary != "" && det.Summary != out.Summary {
		out.Sections[report.SectionConclusions] += "\n\nAutomated analysis: " + det.Summary
	}
	if len(ans.Findings) > 0 {
		var b strings.Builder
		for _, f := range ans.Findings {
			b.WriteString("- " + f + "\n")
		}
		out.Sections[report.SectionKeyFindings] = strings.TrimSpace(b.String() + out.Sections[report.SectionKeyFindings])
	}
	switch strings.ToLower(ans.AppOrInfra) {
	case "app", "application":
		out.Sections[report.SectionAppOrInfra] = "Application: " + ans.Category + "."
	case "infra", "infrastructure":
		out.Sections[report.SectionAppOrInfra] = "Infrastructure: " + ans.Category + "."
	}
	for k, v := range ans.Sections {
		if strings.TrimSpace(v) != "" {
			out.Sections[k] = v
		}
	}
}

func dedupe(in []string, n int) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		k := strings.ToLower(strings.TrimSpace(s))
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, s)
		if len(out) == n {
			break
		}
	}
	return out
}

// addCommentary shows the model's text in the conclusions without
// changing the decision.
func addCommentary(out *report.Report, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	if out.Sections == nil {
		out.Sections = map[string]string{}
	}
	c := out.Sections[report.SectionConclusions]
	out.Sections[report.SectionConclusions] = strings.TrimSpace(c + "\n\nModel's commentary (not used for the decision):\n" + clip(text, 3000))
}

// renderAnswer renders an answer as markdown: HolmesGPT's "analysis".
func renderAnswer(a Answer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Root cause:** %s", a.Category)
	if !a.Culprit.IsZero() {
		fmt.Fprintf(&b, " — fix `%s`", a.Culprit)
	}
	fmt.Fprintf(&b, " (confidence %.0f%%)\n\n%s\n", a.Confidence*100, strings.TrimSpace(a.Summary))
	if len(a.Findings) > 0 {
		b.WriteString("\n**Findings**\n")
		for _, f := range a.Findings {
			b.WriteString("- " + f + "\n")
		}
	}
	if len(a.Remediation) > 0 {
		b.WriteString("\n**Next steps**\n")
		for i, s := range a.Remediation {
			fmt.Fprintf(&b, "%d. %s\n", i+1, s)
		}
	}
	return b.String()
}
