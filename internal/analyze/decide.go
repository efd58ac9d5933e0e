package analyze

import (
	"fmt"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// analyzeHTTPErrors states the error ratio the alert is about. It is a
// symptom, not a cause: it only adds a note, and the dependency and pod
// analyzers find what is behind it.
func analyzeHTTPErrors(ev *Evidence, out *Output) {
	for _, s := range ev.Metrics[MetricHTTP5xxRatio] {
		if v, ok := s.Last(); ok {
			where := or(s.Labels["ingress"], or(s.Labels["service"], targetName(ev)))
			out.Check("5xx ratio at %s: %s now, peak %s", where, pct(v), func() string { m, _ := s.Max(); return pct(m) }())
			return
		}
	}
}

// Decide ranks the findings into the root cause. Without findings it is
// "none" when the alert already resolved or everything checked is healthy,
// and "unknown" otherwise.
func Decide(ev *Evidence, out *Output) report.RootCause {
	if len(out.Findings) > 0 {
		f := out.Findings[0]
		conf := min(f.Score, 0.95)
		// Two strong findings of different categories lower the confidence:
		// the second may be the real cause.
		if len(out.Findings) > 1 && out.Findings[1].Category != f.Category && out.Findings[1].Score > f.Score-0.1 {
			conf -= 0.15
		}
		return report.RootCause{Category: f.Category, Object: f.Object, Confidence: round2(conf)}
	}
	obj := ev.Workload
	if obj.IsZero() {
		obj = ev.Target
	}
	if c := out.cleared; c != nil {
		return report.RootCause{Category: report.None, Object: or2(c.Object, obj), Confidence: 0.7}
	}
	if ev.Alert.Status == "resolved" {
		return report.RootCause{Category: report.None, Object: obj, Confidence: 0.5}
	}
	healthy := len(ev.Pods) > 0
	for i := range ev.Pods {
		if !podHealthy(&ev.Pods[i]) {
			healthy = false
		}
	}
	if healthy && len(ev.Unchecked) == 0 && out.uncleared == "" {
		return report.RootCause{Category: report.None, Object: obj, Confidence: 0.4}
	}
	return report.RootCause{Category: report.Unknown, Object: obj, Confidence: 0.1}
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

// Summary writes the paragraph a person reads first.
func Summary(ev *Evidence, rc report.RootCause, out *Output) string {
	var b strings.Builder
	alert := ev.Alert.Name
	if alert == "" {
		alert = "The alert"
	}
	switch rc.Category {
	case report.Unknown:
		fmt.Fprintf(&b, "%s on %s: the evidence collected does not decide the cause.", alert, or(targetName(ev), "an unresolved target"))
		if len(ev.Unchecked) > 0 {
			fmt.Fprintf(&b, " Could not check: %s.", joinUnchecked(ev.Unchecked))
		}
		return b.String()
	case report.None:
		fmt.Fprintf(&b, "%s on %s: nothing needs fixing now; ", alert, targetName(ev))
		if ev.Alert.Status == "resolved" && out.cleared != nil {
			b.WriteString("the alert has resolved; ")
		}
		if c := out.cleared; c != nil {
			fmt.Fprintf(&b, "%s (%s). %s", c.Title, c.Detail, c.Advice)
			return b.String()
		}
		if ev.Alert.Status == "resolved" {
			b.WriteString("the alert has resolved and no failure was found.")
		} else {
			b.WriteString("the pods are running and ready and no failure was found (a flapping threshold or a recovered condition).")
		}
		return b.String()
	}
	f := out.Findings[0]
	fmt.Fprintf(&b, "%s: %s (%s). ", alert, f.Title, rc.Category)
	if f.Detail != "" {
		fmt.Fprintf(&b, "%s. ", strings.TrimSuffix(f.Detail, "."))
	}
	fmt.Fprintf(&b, "Fix %s %s", rc.Object.Kind, strings.TrimPrefix(rc.Object.Namespace+"/"+rc.Object.Name, "/"))
	if len(f.Remediation) > 0 {
		fmt.Fprintf(&b, ": %s", f.Remediation[0])
	} else {
		b.WriteString(".")
	}
	return b.String()
}

func joinUnchecked(u []report.Unchecked) string {
	var parts []string
	for _, x := range u {
		parts = append(parts, x.What+" ("+x.Why+")")
	}
	return strings.Join(parts, "; ")
}
