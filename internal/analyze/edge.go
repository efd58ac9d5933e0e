package analyze

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// Error-ratio thresholds for a rollout that serves errors without
// crashing: the ratio must reach errorRatioHigh and at least
// errorRatioRise times what it was before the rollout, within
// errorOnsetWindow of it (a rise hours later has another cause).
const (
	errorRatioHigh   = 0.05
	errorRatioRise   = 3
	errorOnsetWindow = 45 * time.Minute
)

// rolloutTime is when a ReplicaSet's rollout began: the earliest of its
// creation, the deployment controller's "Scaled up replica set" event and
// its pods' start. The creation time alone can be later than the rollout
// (a ReplicaSet restored from a backup, or re-created by GitOps).
func rolloutTime(ev *Evidence, rs *appsv1.ReplicaSet) time.Time {
	t := rs.CreationTimestamp.Time
	earlier := func(c time.Time) {
		if !c.IsZero() && (t.IsZero() || c.Before(t)) {
			t = c
		}
	}
	for _, e := range ev.Events {
		if e.Reason == "ScalingReplicaSet" && strings.Contains(e.Message, "Scaled up replica set "+rs.Name+" ") {
			earlier(e.FirstTimestamp.Time)
			earlier(e.EventTime.Time)
		}
	}
	for i := range ev.Pods {
		if owner(&ev.Pods[i]) == rs.Name && ev.Pods[i].Status.StartTime != nil {
			earlier(ev.Pods[i].Status.StartTime.Time)
		}
	}
	return t
}

// errorAlert reports whether the alert is about failing requests.
var errorAlert = regexp.MustCompile(`(?i)(5xx|error|http|fail|availability|slo|burn)`)

// rolloutErrors finds a rollout whose pods run and pass their probes but
// answer with errors: the error ratio was low under the previous revision
// and rose right after the new one rolled out. This is a bad rollout even
// though nothing crashes; the diff of the two pod templates shows what
// changed.
func rolloutErrors(ev *Evidence, out *Output, newest, prev *appsv1.ReplicaSet, rolledAt time.Time) bool {
	d := ev.Deployment
	ref := report.Ref{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name}
	var baseline, peak, last float64
	var onset time.Time
	confirmed := false
	for _, s := range ev.Metrics[MetricHTTP5xxRatio] {
		before, after := 0, 0
		baseline, peak = 0, 0
		onset = time.Time{}
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			if p.T.Before(rolledAt) {
				before++
				baseline = max(baseline, p.V)
				continue
			}
			after++
			peak, last = max(peak, p.V), p.V
		}
		threshold := max(errorRatioHigh, errorRatioRise*baseline+0.01)
		for _, p := range s.Points {
			if !p.T.Before(rolledAt) && p.V >= threshold {
				onset = p.T
				break
			}
		}
		if before > 0 && after > 0 && !onset.IsZero() && onset.Sub(rolledAt) <= errorOnsetWindow {
			confirmed = true
			break
		}
	}
	var newPods []*corev1.Pod
	for i := range ev.Pods {
		if owner(&ev.Pods[i]) == newest.Name {
			newPods = append(newPods, &ev.Pods[i])
		}
	}
	score := 0.78
	if !confirmed {
		// Without the error ratio before and after, only the timing of an
		// error alert and error lines of the new pods speak for it.
		at := ev.Alert.StartsAt
		if !errorAlert.MatchString(ev.Alert.Name) || at.Before(rolledAt) || at.Sub(rolledAt) > time.Hour || len(newPods) == 0 {
			return false
		}
		if len(errorLinesOnly(ev, newPods[0])) == 0 {
			return false
		}
		score = 0.6
	}
	title := fmt.Sprintf("rollout of %s to revision %s (ReplicaSet %s) at %s broke it without a crash: its pods are Ready",
		d.Name, revision(newest), newest.Name, rolledAt.UTC().Format("15:04Z"))
	if confirmed {
		title = fmt.Sprintf("rollout of %s to revision %s (ReplicaSet %s) at %s raised the 5xx ratio from %s to %s (%s now) within %s; its pods are Ready and do not restart",
			d.Name, revision(newest), newest.Name, rolledAt.UTC().Format("15:04Z"), pct(baseline), pct(peak), pct(last), onset.Sub(rolledAt).Round(time.Minute))
	}
	f := report.Finding{
		Category: report.BadRollout, Object: ref, Score: score, Title: title,
		Evidence: cite(ev, "rollout/"+d.Namespace+"/"+d.Name, "metric/"+MetricHTTP5xxRatio),
	}
	var detail []string
	if changes := diffTemplates(prev, newest); len(changes) > 0 {
		detail = append(detail, "changed from revision "+revision(prev)+": "+strings.Join(changes, "; "))
	} else {
		detail = append(detail, "the pod templates of revisions "+revision(prev)+" and "+revision(newest)+" differ only in what this diff does not cover (volumes, ConfigMap contents)")
	}
	if confirmed {
		detail = append(detail, fmt.Sprintf("the previous revision %s (ReplicaSet %s) served with at most %s errors", revision(prev), prev.Name, pct(baseline)))
	}
	if len(newPods) > 0 {
		if lines := errorLinesOnly(ev, newPods[0]); len(lines) > 0 {
			detail = append(detail, "errors of the new pods: "+strings.Join(lines, " | "))
		}
		f.Evidence = append(f.Evidence, cite(ev, logsKey(newPods[0]))...)
	}
	f.Detail = strings.Join(detail, ". ")
	f.Remediation = []string{
		fmt.Sprintf("Roll back to revision %s: kubectl rollout undo deployment/%s -n %s --to-revision=%s", revision(prev), d.Name, d.Namespace, revision(prev)),
		"Then fix the change before rolling forward again.",
	}
	out.Find(f)
	return true
}

// errorLinesOnly returns up to three distinct error lines of a pod, none
// when its lines do not look like errors.
func errorLinesOnly(ev *Evidence, p *corev1.Pod) []string {
	var errs []string
	for _, l := range ev.Logs {
		if l.Namespace == p.Namespace && l.Pod == p.Name && crashLines.MatchString(l.Msg) {
			errs = append(errs, firstLine(l.Msg))
		}
	}
	errs = dedupe(errs)
	if len(errs) > 3 {
		errs = errs[len(errs)-3:]
	}
	return errs
}

// secretish marks environment variables whose values are not quoted.
var secretish = regexp.MustCompile(`(?i)(pass|secret|token|credential|private|api_?key|pwd)`)

// envChanges lists the environment variables of a container that changed
// between two templates, with their values (except secret-looking ones).
func envChanges(container string, old, cur []corev1.EnvVar) []string {
	render := func(e corev1.EnvVar) string {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			return fmt.Sprintf("from Secret %s key %s", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			return fmt.Sprintf("from ConfigMap %s key %s", e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			return "from field " + e.ValueFrom.FieldRef.FieldPath
		case secretish.MatchString(e.Name):
			return "(value not shown)"
		}
		return fmt.Sprintf("%q", e.Value)
	}
	was := map[string]corev1.EnvVar{}
	for _, e := range old {
		was[e.Name] = e
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range cur {
		seen[e.Name] = true
		o, ok := was[e.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("env %s of %s added: %s", e.Name, container, render(e)))
		case fmt.Sprint(o) != fmt.Sprint(e):
			out = append(out, fmt.Sprintf("env %s of %s: %s -> %s", e.Name, container, render(o), render(e)))
		}
	}
	for _, e := range old {
		if !seen[e.Name] {
			out = append(out, fmt.Sprintf("env %s of %s removed (was %s)", e.Name, container, render(e)))
		}
	}
	if len(out) == 0 {
		out = append(out, "environment of "+container+" (order)")
	}
	return out
}
