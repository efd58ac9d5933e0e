package analyze

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// rolloutWindow is how long before the alert a rollout counts as its cause.
const rolloutWindow = 3 * time.Hour

// analyzeRollout finds a rollout shortly before the alert whose new
// ReplicaSet fails while the previous one was healthy. It outranks a plain
// crash loop, which it explains, but not a specific mechanism (an OOM kill,
// a missing ConfigMap, an image that does not exist), which names the fix
// more precisely.
func analyzeRollout(ev *Evidence, out *Output) {
	d := ev.Deployment
	if d == nil || len(ev.ReplicaSets) < 2 {
		if d != nil {
			out.Check("deployment %s has a single revision: no rollout to blame", d.Name)
		}
		return
	}
	newest, prev := ev.ReplicaSets[len(ev.ReplicaSets)-1], ev.ReplicaSets[len(ev.ReplicaSets)-2]
	ref := report.Ref{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name}
	at := ev.Alert.StartsAt
	if at.IsZero() {
		at = ev.Now
	}
	rolledAt := rolloutTime(ev, &newest)
	age := at.Sub(rolledAt)
	if age > rolloutWindow || age < -30*time.Minute {
		out.Check("last rollout of %s (revision %s) was %s before the alert", d.Name, revision(&newest), age.Round(time.Minute))
		return
	}
	var failing, healthyOld []string
	for i := range ev.Pods {
		p := &ev.Pods[i]
		switch owner(p) {
		case newest.Name:
			if !podHealthy(p) {
				failing = append(failing, podState(p))
			}
		case prev.Name:
			if podHealthy(p) {
				healthyOld = append(healthyOld, p.Name)
			}
		}
	}
	if len(failing) == 0 {
		if rolloutErrors(ev, out, &newest, &prev, rolledAt) {
			return
		}
		out.Check("pods of the latest revision %s of %s are healthy", revision(&newest), d.Name)
		return
	}
	score := 0.62
	if len(healthyOld) > 0 || prev.Status.ReadyReplicas > 0 {
		score = 0.68 // the previous revision demonstrably works
	}
	changes := diffTemplates(&prev, &newest)
	title := fmt.Sprintf("rollout of %s to revision %s %s before the alert broke it: %s of the new ReplicaSet %s fail",
		d.Name, revision(&newest), age.Round(time.Minute), plural(len(failing), "pod", "pods"), newest.Name)
	f := report.Finding{
		Category: report.BadRollout, Object: ref, Score: score, Title: title,
		Evidence: cite(ev, "rollout/"+d.Namespace+"/"+d.Name),
	}
	var detail []string
	if len(changes) > 0 {
		detail = append(detail, "changed: "+strings.Join(changes, "; "))
	}
	if len(healthyOld) > 0 {
		detail = append(detail, fmt.Sprintf("previous revision %s still serves: %s", revision(&prev), strings.Join(healthyOld, ", ")))
	}
	detail = append(detail, "failing: "+strings.Join(failing, "; "))
	f.Detail = strings.Join(detail, ". ")
	f.Remediation = []string{
		fmt.Sprintf("Roll back to revision %s: kubectl rollout undo deployment/%s -n %s --to-revision=%s", revision(&prev), d.Name, d.Namespace, revision(&prev)),
		"Then fix the change before rolling forward again.",
	}
	out.Find(f)
}

func revision(rs *appsv1.ReplicaSet) string {
	if r := rs.Annotations["deployment.kubernetes.io/revision"]; r != "" {
		return r
	}
	return "?"
}

func owner(p *corev1.Pod) string {
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.Name
		}
	}
	return ""
}

// diffTemplates lists what changed between two ReplicaSets' pod templates:
// images, environment, resources, args.
func diffTemplates(a, b *appsv1.ReplicaSet) []string {
	var out []string
	old := map[string]corev1.Container{}
	for _, c := range a.Spec.Template.Spec.Containers {
		old[c.Name] = c
	}
	for _, c := range b.Spec.Template.Spec.Containers {
		o, ok := old[c.Name]
		if !ok {
			out = append(out, "container "+c.Name+" added")
			continue
		}
		if o.Image != c.Image {
			out = append(out, fmt.Sprintf("image of %s %s -> %s", c.Name, o.Image, c.Image))
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceMemory, corev1.ResourceCPU} {
			ol, nl := o.Resources.Limits[r], c.Resources.Limits[r]
			if ol.Cmp(nl) != 0 {
				out = append(out, fmt.Sprintf("%s limit of %s %s -> %s", r, c.Name, ol.String(), nl.String()))
			}
		}
		if fmt.Sprint(o.Env) != fmt.Sprint(c.Env) {
			out = append(out, envChanges(c.Name, o.Env, c.Env)...)
		}
		if fmt.Sprint(o.EnvFrom) != fmt.Sprint(c.EnvFrom) {
			out = append(out, "envFrom of "+c.Name)
		}
		if fmt.Sprint(o.Args) != fmt.Sprint(c.Args) || fmt.Sprint(o.Command) != fmt.Sprint(c.Command) {
			out = append(out, "command/args of "+c.Name)
		}
	}
	return out
}
