package analyze

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A rolling update replaces pods one after another, and each new pod fails
// its readiness probe until the application has started: a database
// replaying its journal, a broker rebuilding its index, a JVM warming up.
// Those failures are how the controller paces the rollout, not a fault.
// Once the rollout has completed (every replica on the new revision and
// Ready, the controller's status current) and each pod that failed has
// been Ready since its last failure, they need no fixing.

// rolloutFresh bounds how old a pod that failed during the rollout may
// be: the failures of a pod running for days are not a rollout's.
const rolloutFresh = 6 * time.Hour

// rolloutDone says whether the target's controller has completed its
// rollout, with a sentence saying so; why is what is still rolling.
func rolloutDone(ev *Evidence) (done string, why string) {
	switch {
	case ev.StatefulSet != nil:
		s := ev.StatefulSet
		want := int32(1)
		if s.Spec.Replicas != nil {
			want = *s.Spec.Replicas
		}
		st := s.Status
		switch {
		case st.ObservedGeneration > 0 && st.ObservedGeneration < s.Generation:
			return "", fmt.Sprintf("statefulset %s has not observed its latest spec (generation %d, observed %d)", s.Name, s.Generation, st.ObservedGeneration)
		case st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision:
			return "", fmt.Sprintf("statefulset %s is still rolling out: %d of %d replicas updated to revision %s (current %s)", s.Name, st.UpdatedReplicas, want, st.UpdateRevision, st.CurrentRevision)
		case st.UpdateRevision != "" && st.UpdatedReplicas < want || st.ReadyReplicas < want || st.Replicas > want:
			return "", fmt.Sprintf("statefulset %s has %d updated and %d ready of %d replicas", s.Name, st.UpdatedReplicas, st.ReadyReplicas, want)
		}
		rev := st.UpdateRevision
		if rev == "" {
			rev = "its current revision"
		}
		return fmt.Sprintf("statefulset %s finished its rollout: all %d replicas are on %s and ready", s.Name, want, rev), ""
	case ev.Deployment != nil:
		d := ev.Deployment
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		st := d.Status
		switch {
		case st.ObservedGeneration > 0 && st.ObservedGeneration < d.Generation:
			return "", fmt.Sprintf("deployment %s has not observed its latest spec (generation %d, observed %d)", d.Name, d.Generation, st.ObservedGeneration)
		case st.UpdatedReplicas < want || st.ReadyReplicas < want || st.Replicas > want:
			return "", fmt.Sprintf("deployment %s has %d updated and %d ready of %d replicas (%d in all)", d.Name, st.UpdatedReplicas, st.ReadyReplicas, want, st.Replicas)
		}
		for _, c := range st.Conditions {
			if c.Status == corev1.ConditionFalse && (c.Type == "Progressing" || c.Type == "Available") {
				return "", fmt.Sprintf("deployment %s is %s=False (%s)", d.Name, c.Type, c.Reason)
			}
		}
		return fmt.Sprintf("deployment %s finished its rollout: all %d replicas are updated and available", d.Name, want), ""
	case ev.DaemonSet != nil:
		d := ev.DaemonSet
		st := d.Status
		if st.ObservedGeneration > 0 && st.ObservedGeneration < d.Generation || st.UpdatedNumberScheduled < st.DesiredNumberScheduled || st.NumberReady < st.DesiredNumberScheduled || st.NumberUnavailable > 0 {
			return "", fmt.Sprintf("daemonset %s has %d updated and %d ready of %d pods", d.Name, st.UpdatedNumberScheduled, st.NumberReady, st.DesiredNumberScheduled)
		}
		return fmt.Sprintf("daemonset %s finished its rollout: all %d pods are updated and ready", d.Name, st.DesiredNumberScheduled), ""
	}
	return "", "no controller status to tell whether a rollout completed"
}

// rolloutTransient reports whether a probe failure event of a pod was the
// startup of a pod the completed rollout created: a readiness or startup
// probe (a liveness failure restarts the container, and shows), of a pod
// on the controller's latest revision, started recently, that has been
// Ready since the failure and never restarted.
func rolloutTransient(ev *Evidence, p *corev1.Pod, e corev1.Event) bool {
	msg := strings.ToLower(e.Message)
	if !strings.Contains(msg, "readiness probe") && !strings.Contains(msg, "startup probe") {
		return false
	}
	if done, _ := rolloutDone(ev); done == "" {
		return false
	}
	if s := ev.StatefulSet; s != nil && s.Status.UpdateRevision != "" {
		if h := p.Labels["controller-revision-hash"]; h != "" && h != s.Status.UpdateRevision {
			return false
		}
	}
	if p.Status.StartTime == nil || ev.Now.Sub(p.Status.StartTime.Time) > rolloutFresh {
		return false
	}
	if !podHealthy(p) {
		return false
	}
	var readySince time.Time
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			readySince = c.LastTransitionTime.Time
		}
	}
	if readySince.IsZero() || readySince.Before(eventLastSeen(e)) {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.RestartCount > 0 || !c.Ready {
			return false
		}
	}
	return true
}

// podOfEvent returns the target's pod an event is about.
func podOfEvent(ev *Evidence, e corev1.Event) *corev1.Pod {
	if e.InvolvedObject.Kind != "Pod" {
		return nil
	}
	for i := range ev.Pods {
		if ev.Pods[i].Name == e.InvolvedObject.Name && ev.Pods[i].Namespace == e.InvolvedObject.Namespace {
			return &ev.Pods[i]
		}
	}
	return nil
}

// rolloutTransients describes the pods whose probe failures the completed
// rollout explains, for the report.
func rolloutTransients(ev *Evidence) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range ev.Events {
		p := podOfEvent(ev, e)
		if p == nil || seen[p.Name] || !rolloutTransient(ev, p, e) {
			continue
		}
		seen[p.Name] = true
		s := fmt.Sprintf("%s failed its readiness probe while starting (%s, last %s ago)", p.Name, plural(int(max(e.Count, 1)), "time", "times"), elapsed(ev.Now, eventLastSeen(e)))
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				s += fmt.Sprintf(" and has been Ready for %s", elapsed(ev.Now, c.LastTransitionTime.Time))
			}
		}
		out = append(out, s)
	}
	return out
}
