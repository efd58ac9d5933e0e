package report

import (
	"fmt"
	"sort"
	"strings"
)

// HolmesGPT's default section names, exactly; its clients look them up.
const (
	SectionAlertExplanation = "Alert Explanation"
	SectionKeyFindings      = "Key Findings"
	SectionConclusions      = "Conclusions and Possible Root causes"
	SectionNextSteps        = "Next Steps"
	SectionRelatedLogs      = "Related logs"
	SectionAppOrInfra       = "App or Infra?"
	SectionExternalLinks    = "External links"
)

// SectionNames lists HolmesGPT's default sections in order.
var SectionNames = []string{SectionAlertExplanation, SectionKeyFindings, SectionConclusions, SectionNextSteps, SectionRelatedLogs, SectionAppOrInfra, SectionExternalLinks}

// infraCategories are the categories whose fix lies with the platform, not
// the application's owners.
var infraCategories = map[string]bool{
	Unschedulable: true, Volume: true, CPUSaturation: true, DiskPressure: true, NodeFailure: true,
	QuotaExceeded: true, CertificateExpiry: true, NetworkPolicy: true, ScalingLimit: true, ImagePull: true,
}

// FillSections fills Sections from the rest of the report. relatedLogs are
// log lines the investigation found relevant.
func (r *Report) FillSections(relatedLogs []string) {
	s := map[string]string{}
	var ex strings.Builder
	for _, a := range r.Alerts {
		fmt.Fprintf(&ex, "%s (%s) since %s", a.Name, a.Status, a.StartsAt.UTC().Format("2006-01-02 15:04:05Z"))
		if d := a.Annotations["description"]; d != "" {
			fmt.Fprintf(&ex, ": %s", d)
		} else if d := a.Annotations["summary"]; d != "" {
			fmt.Fprintf(&ex, ": %s", d)
		}
		ex.WriteString("\n")
		if len(r.Alerts) > 5 {
			fmt.Fprintf(&ex, "... and %d more alerts of this incident\n", len(r.Alerts)-1)
			break
		}
	}
	s[SectionAlertExplanation] = strings.TrimSpace(ex.String())
	var kf strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&kf, "- %s", f.Title)
		if f.Detail != "" {
			fmt.Fprintf(&kf, " (%s)", f.Detail)
		}
		kf.WriteString("\n")
	}
	for _, c := range r.Checked {
		fmt.Fprintf(&kf, "- checked: %s\n", c.Note)
	}
	for _, ref := range r.References {
		fmt.Fprintf(&kf, "- past %s: %s (%s)\n", ref.Kind, ref.Title, ref.Path)
	}
	s[SectionKeyFindings] = strings.TrimSpace(kf.String())
	s[SectionConclusions] = fmt.Sprintf("%s\n\nRoot cause: %s; object to fix: %s (confidence %.0f%%).", r.Summary, r.RootCause.Category, r.RootCause.Object, r.RootCause.Confidence*100)
	var ns strings.Builder
	for i, step := range r.Remediation {
		fmt.Fprintf(&ns, "%d. %s\n", i+1, step)
	}
	s[SectionNextSteps] = strings.TrimSpace(ns.String())
	s[SectionRelatedLogs] = strings.Join(relatedLogs, "\n")
	switch {
	case r.RootCause.Category == Unknown || r.RootCause.Category == None:
		s[SectionAppOrInfra] = "Undecided."
	case infraCategories[r.RootCause.Category]:
		s[SectionAppOrInfra] = "Infrastructure: " + r.RootCause.Category + "."
	default:
		s[SectionAppOrInfra] = "Application: " + r.RootCause.Category + "."
	}
	var links []string
	for _, a := range r.Alerts {
		if a.GeneratorURL != "" {
			links = append(links, a.GeneratorURL)
		}
	}
	s[SectionExternalLinks] = strings.Join(dedupe(links), "\n")
	r.Sections = s
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Text renders the report as plain text: the answer first, then the
// evidence and what was and was not checked.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ROOT CAUSE  %s\nFIX         %s\nCONFIDENCE  %.0f%%\n\n%s\n", r.RootCause.Category, r.RootCause.Object, r.RootCause.Confidence*100, r.Summary)
	if len(r.Remediation) > 0 {
		b.WriteString("\nWHAT TO DO\n")
		for i, s := range r.Remediation {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, s)
		}
	}
	if len(r.Findings) > 0 {
		b.WriteString("\nFINDINGS\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  [%s %.2f] %s\n", f.Category, f.Score, f.Title)
			if f.Detail != "" {
				fmt.Fprintf(&b, "      %s\n", f.Detail)
			}
			if len(f.Evidence) > 0 {
				fmt.Fprintf(&b, "      evidence: %s\n", strings.Join(f.Evidence, ", "))
			}
		}
	}
	if len(r.Checked) > 0 {
		b.WriteString("\nCHECKED AND HEALTHY\n")
		for _, c := range r.Checked {
			fmt.Fprintf(&b, "  - %s\n", c.Note)
		}
	}
	if len(r.Unchecked) > 0 {
		b.WriteString("\nCOULD NOT CHECK\n")
		for _, u := range r.Unchecked {
			fmt.Fprintf(&b, "  - %s: %s\n", u.What, u.Why)
		}
	}
	if len(r.References) > 0 {
		b.WriteString("\nSEEN BEFORE\n")
		for _, ref := range r.References {
			fmt.Fprintf(&b, "  - %s: %s (%s)\n", ref.Kind, ref.Title, ref.Path)
		}
	}
	if len(r.Runbooks) > 0 {
		b.WriteString("\nRUNBOOKS\n")
		for _, rb := range r.Runbooks {
			fmt.Fprintf(&b, "  - %s (%s)\n", rb.Name, rb.Source)
		}
	}
	if len(r.ToolCalls) > 0 {
		b.WriteString("\nTOOL CALLS\n")
		for _, c := range r.ToolCalls {
			fmt.Fprintf(&b, "  %-8s %-8s %7.1fms  %s\n", c.ID, c.Status, c.DurationMS, c.Description)
		}
	}
	fmt.Fprintf(&b, "\n%d tool calls, %.0f ms (collect %.0f ms, analyze %.1f ms)\n", r.Timing.Calls, r.Timing.TotalMS, r.Timing.CollectMS, r.Timing.AnalyzeMS)
	return b.String()
}

// Markdown renders the report as Markdown for chat and tickets.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: `%s`\n\n%s\n", r.RootCause.Category, r.RootCause.Object, r.Summary)
	if len(r.Remediation) > 0 {
		b.WriteString("\n**What to do**\n\n")
		for i, s := range r.Remediation {
			fmt.Fprintf(&b, "%d. %s\n", i+1, s)
		}
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n**Findings**\n\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "- **%s** %s", f.Category, f.Title)
			if f.Detail != "" {
				fmt.Fprintf(&b, " — %s", f.Detail)
			}
			b.WriteString("\n")
		}
	}
	if len(r.References) > 0 {
		b.WriteString("\n**Seen before**\n\n")
		for _, ref := range r.References {
			fmt.Fprintf(&b, "- %s: %s (`%s`)\n", ref.Kind, ref.Title, ref.Path)
		}
	}
	if len(r.Unchecked) > 0 {
		b.WriteString("\n**Could not check**\n\n")
		for _, u := range r.Unchecked {
			fmt.Fprintf(&b, "- %s: %s\n", u.What, u.Why)
		}
	}
	return b.String()
}

// SearchText is all the report's prose in one string: what scoring and
// search read.
func (r *Report) SearchText() string {
	parts := []string{r.Summary}
	for _, f := range r.Findings {
		parts = append(parts, f.Title, f.Detail)
		parts = append(parts, f.Remediation...)
	}
	parts = append(parts, r.Remediation...)
	keys := make([]string, 0, len(r.Sections))
	for k := range r.Sections {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, r.Sections[k])
	}
	return strings.Join(parts, "\n")
}
