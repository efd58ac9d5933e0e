package analyze

import (
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

const (
	// recoveryQuiet is how long a container must have run without a
	// restart, and the pods without a warning event, to count as
	// recovered: twice the kubelet's longest crash-loop back-off (5m), so a
	// container between two crashes is not taken for a healthy one.
	recoveryQuiet = 10 * time.Minute
	// fsAvailAmple is the free space above which a filesystem that stopped
	// filling needs nothing: twice fsAvailLow.
	fsAvailAmple = 2 * fsAvailLow
	// fsTrendWindow is the recent window whose trend tells whether a
	// filesystem is still filling.
	fsTrendWindow = 30 * time.Minute
	// fsFillHorizon: a filesystem that would take longer than this to fill
	// at its recent rate is not filling up in any sense an alert means.
	fsFillHorizon = 7 * 24 * time.Hour
)

// podStateWords are the alert names (kube-prometheus, the
// victoria-metrics-k8s-stack rules) whose claim is about pods' state:
// crash loops, waiting containers, pods not ready or pending, replicas
// missing. Checking the pods now checks the claim.
var podStateWords = []string{"crashloop", "restart", "waiting", "notready", "pending", "replicasmismatch", "unavailable", "rollout", "generationmismatch", "imagepull", "containercreating", "rolledout"}

// clearance is the evidence that an alert's condition has passed.
type clearance struct {
	Object                report.Ref
	Title, Detail, Advice string
}

// clear records that the alert's condition has passed. It is a note, not
// a finding: any analyzer that finds something still broken decides.
func (o *Output) clear(c clearance) {
	o.cleared = &c
	o.Check("%s", c.Title)
}

// notCleared records what still contradicts the alert having passed.
func (o *Output) notCleared(format string, args ...any) {
	o.uncleared = fmt.Sprintf(format, args...)
	o.Check("not recovered: %s", o.uncleared)
}

// diskWords are alert names about a filesystem or volume filling up.
var diskWords = []string{"filesystem", "disk", "volume", "space", "storage", "inode"}

func alertIs(ev *Evidence, words []string) bool {
	name := strings.ToLower(ev.Alert.Name)
	for _, w := range words {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// analyzeRecovery checks the alert's claim against the state now. When the
// pods it is about run and are ready with no restart or warning for a
// while, or the filesystem it predicts to fill has ample free space and is
// no longer filling, nothing needs fixing: the alert fired on a condition
// that has passed (a crash loop during a dependency's restart, a slow
// image pull, a burst of writes). It records a clearance rather than a
// finding, so that any analyzer that finds something still broken decides.
func analyzeRecovery(ev *Evidence, out *Output) {
	switch {
	case alertIs(ev, diskWords):
		diskRecovered(ev, out)
	case ev.Target.Kind == "Node":
		nodeRecovered(ev, out)
	case alertIs(ev, podStateWords):
		podsRecovered(ev, out)
	}
}

// nodeRecovered checks a node alert against the node now: Ready for a
// while without pressure and, for an alert about CPU or load, neither busy
// nor loaded any more.
func nodeRecovered(ev *Evidence, out *Output) {
	var n *corev1.Node
	for i := range ev.Nodes {
		if ev.Nodes[i].Name == ev.Target.Name {
			n = &ev.Nodes[i]
		}
	}
	cpu := alertIs(ev, []string{"cpu", "load", "saturat"})
	if n == nil || ev.Now.IsZero() || !(cpu || alertIs(ev, []string{"notready", "unreachable", "down", "kubelet", "flapping"})) {
		return // a claim (memory, network, ...) the evidence cannot check
	}
	var readySince time.Time
	for _, c := range n.Status.Conditions {
		switch {
		case c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue:
			readySince = c.LastTransitionTime.Time
		case c.Type == corev1.NodeReady:
			return // the node analyzer reports it
		case c.Status == corev1.ConditionTrue:
			return // a pressure condition: the node analyzer reports it
		}
	}
	if readySince.IsZero() {
		return
	}
	if ev.Now.Sub(readySince) < recoveryQuiet {
		out.notCleared("node %s became Ready only %s ago", n.Name, elapsed(ev.Now, readySince))
		return
	}
	detail := fmt.Sprintf("Ready for %s, no pressure condition", elapsed(ev.Now, readySince))
	if cpu {
		l := nodeLoads(ev)[n.Name]
		if l == nil || (!l.hasBusy && !l.hasLoad) {
			return // nothing says how busy it is now
		}
		busy, _ := recentNodeBusy(ev, n.Name)
		if l.loaded() || busy >= cpuBusyHigh {
			out.notCleared("node %s is still busy (%s)", n.Name, l)
			return
		}
		detail += fmt.Sprintf("; CPU now %s", l)
	}
	out.clear(clearance{
		Object: report.Ref{Kind: "Node", Name: n.Name},
		Title:  fmt.Sprintf("the alert's condition has cleared: node %s is healthy now", n.Name),
		Detail: detail,
		Advice: fmt.Sprintf("Nothing to fix now on node %s. If the alert recurs, look at it while it fires (kubectl describe node %s; kubectl top pods -A --field-selector spec.nodeName=%s).", n.Name, n.Name, n.Name),
	})
}

// recentNodeBusy averages the node's CPU busy ratio over the recent window.
func recentNodeBusy(ev *Evidence, node string) (float64, bool) {
	for _, s := range ev.Metrics[MetricNodeCPU] {
		if or(s.Labels["node"], nodeFromInstance(ev, s.Labels["instance"])) == node {
			return recentAvg(s, cpuRecent)
		}
	}
	return 0, false
}

func podsRecovered(ev *Evidence, out *Output) {
	if len(ev.Pods) == 0 || ev.Now.IsZero() {
		return
	}
	var notes []string
	lastRestart := time.Time{}
	restarts := int32(0)
	for i := range ev.Pods {
		p := &ev.Pods[i]
		why, since := podSettled(ev, p)
		if why != "" {
			out.notCleared("%s", why)
			return
		}
		for _, c := range p.Status.ContainerStatuses {
			restarts += c.RestartCount
			if t := c.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastRestart) {
				lastRestart = t.FinishedAt.Time
			}
		}
		if !since.IsZero() {
			notes = append(notes, fmt.Sprintf("%s Ready for %s", p.Name, elapsed(ev.Now, since)))
		}
	}
	if d := ev.Deployment; d != nil {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if d.Status.ReadyReplicas < want || d.Status.UpdatedReplicas < want {
			out.notCleared("deployment %s has %d ready and %d updated of %d replicas", d.Name, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, want)
			return
		}
		for _, c := range d.Status.Conditions {
			if c.Status == corev1.ConditionFalse && (c.Type == "Progressing" || c.Type == "Available") {
				out.notCleared("deployment %s is %s=False (%s)", d.Name, c.Type, c.Reason)
				return
			}
		}
	}
	if s := ev.StatefulSet; s != nil {
		want := int32(1)
		if s.Spec.Replicas != nil {
			want = *s.Spec.Replicas
		}
		if s.Status.ReadyReplicas < want {
			out.notCleared("statefulset %s has %d of %d replicas ready", s.Name, s.Status.ReadyReplicas, want)
			return
		}
		// An update not rolled out is the claim of the rollout alerts.
		if _, why := rolloutDone(ev); why != "" {
			out.notCleared("%s", why)
			return
		}
	}
	if d := ev.DaemonSet; d != nil && d.Status.NumberReady < d.Status.DesiredNumberScheduled {
		out.notCleared("daemonset %s has %d of %d pods ready", d.Name, d.Status.NumberReady, d.Status.DesiredNumberScheduled)
		return
	}
	obj := ev.Workload
	if obj.IsZero() {
		obj = culprit(ev, &ev.Pods[0])
	}
	title := fmt.Sprintf("the alert's condition has cleared: all %s of %s are Running and Ready", plural(len(ev.Pods), "pod", "pods"), obj)
	detail := strings.Join(notes, "; ")
	if !lastRestart.IsZero() {
		detail += fmt.Sprintf("; the last restart was %s ago (%s in total), none since", elapsed(ev.Now, lastRestart), plural(int(restarts), "restart", "restarts"))
	} else {
		detail += "; no container restarted"
	}
	if t := rolloutTransients(ev); len(t) > 0 {
		done, _ := rolloutDone(ev)
		detail += "; " + done + "; " + strings.Join(t, "; ")
	}
	if !ev.Alert.StartsAt.IsZero() {
		detail += fmt.Sprintf("; the alert started %s ago", elapsed(ev.Now, ev.Alert.StartsAt))
	}
	out.clear(clearance{
		Object: obj,
		Title:  title,
		Detail: strings.TrimPrefix(detail, "; "),
		Advice: fmt.Sprintf("Nothing to fix now: %s recovered on its own. If the alert recurs, read the previous container's logs while it happens (kubectl logs --previous) to see what it waited for.", obj),
	})
}

// podSettled says why a pod is not settled ("" when it is) and since when
// it has been Ready.
func podSettled(ev *Evidence, p *corev1.Pod) (why string, readySince time.Time) {
	if p.Status.Phase != corev1.PodRunning {
		return fmt.Sprintf("pod %s is %s", p.Name, p.Status.Phase), time.Time{}
	}
	ready := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready, readySince = true, c.LastTransitionTime.Time
		}
	}
	if !ready {
		return fmt.Sprintf("pod %s is not Ready", p.Name), time.Time{}
	}
	for _, c := range statuses(p) {
		if c.Init {
			continue
		}
		if c.Status.State.Running == nil || !c.Status.Ready {
			return fmt.Sprintf("container %s of pod %s is not running and ready", c.Status.Name, p.Name), time.Time{}
		}
		if t := c.Status.LastTerminationState.Terminated; t != nil && ev.Now.Sub(t.FinishedAt.Time) < recoveryQuiet {
			return fmt.Sprintf("container %s of pod %s restarted %s ago", c.Status.Name, p.Name, elapsed(ev.Now, t.FinishedAt.Time)), time.Time{}
		}
	}
	for _, e := range events(ev, "Pod", p.Namespace, p.Name) {
		if e.Type == corev1.EventTypeWarning && ev.Now.Sub(eventLastSeen(e)) < recoveryQuiet && !rolloutTransient(ev, p, e) {
			return fmt.Sprintf("pod %s had a %s warning %s ago", p.Name, e.Reason, elapsed(ev.Now, eventLastSeen(e))), time.Time{}
		}
	}
	return "", readySince
}

// eventTime is when an event was last seen.
func eventLastSeen(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.FirstTimestamp.Time
}

func elapsed(now, t time.Time) string { return durText(now.Sub(t)) }

// durText renders a duration as people write it: 45s, 31m, 2h5m, 9d.
func durText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		s := strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	default:
		return fmt.Sprintf("%.0fd", d.Hours()/24)
	}
}

// diskRecovered checks the filesystems and volumes the alert is about:
// ample free space that is no longer falling means the fill the alert
// predicted stopped (rotation or cleanup ran).
func diskRecovered(ev *Evidence, out *Output) {
	for _, n := range ev.Nodes {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeDiskPressure && c.Status == corev1.ConditionTrue {
				return // the node analyzer reports it
			}
		}
	}
	var series []Series
	var obj report.Ref
	for _, s := range ev.Metrics[MetricPVCAvailRatio] {
		series = append(series, s)
		obj = report.Ref{Kind: "PersistentVolumeClaim", Namespace: s.Labels["namespace"], Name: s.Labels["persistentvolumeclaim"]}
	}
	if len(series) == 0 {
		mp := ev.Alert.Labels["mountpoint"]
		for _, s := range ev.Metrics[MetricFSAvailRatio] {
			if mp != "" && s.Labels["mountpoint"] != mp {
				continue
			}
			series = append(series, s)
			node := or(s.Labels["node"], nodeFromInstance(ev, s.Labels["instance"]))
			obj = report.Ref{Kind: "Node", Name: or(node, strings.Split(s.Labels["instance"], ":")[0])}
		}
	}
	if len(series) == 0 {
		return
	}
	var notes []string
	for _, s := range series {
		v, ok := s.Last()
		if !ok {
			return
		}
		slope, ok := slopePerHour(s, fsTrendWindow)
		if !ok {
			return
		}
		where := or(s.Labels["mountpoint"], s.Labels["persistentvolumeclaim"])
		if v < fsAvailAmple {
			out.notCleared("%s has only %s free", where, pct(v))
			return
		}
		if slope < 0 && time.Duration(v/-slope*float64(time.Hour)) < fsFillHorizon {
			out.notCleared("%s is still filling: %s free, %.1f points less per hour over the last %s", where, pct(v), -slope*100, durText(fsTrendWindow))
			return
		}
		low, _ := seriesMin(s)
		note := fmt.Sprintf("%s has %s free now, flat or rising over the last %s", where, pct(v), durText(fsTrendWindow))
		if low < v-0.05 {
			note += fmt.Sprintf(" (it fell to %s earlier in the window and was freed)", pct(low))
		}
		notes = append(notes, note)
	}
	title := fmt.Sprintf("the fill the alert predicted stopped: %s", strings.Join(notes, "; "))
	out.clear(clearance{
		Object: obj,
		Title:  title,
		Detail: "no DiskPressure condition; a fill prediction (predict_linear) extrapolates a short burst of writes and flaps when the burst ends",
		Advice: fmt.Sprintf("Nothing to fix now on %s. If the prediction flaps often, lengthen the rule's window or find what writes in bursts (debug logging, log rotation).", obj),
	})
}

// slopePerHour fits a line to the series' points in the window before its
// last point and returns its slope per hour; ok is false with fewer than
// three points.
func slopePerHour(s Series, window time.Duration) (float64, bool) {
	if len(s.Points) < 3 {
		return 0, false
	}
	end := s.Points[len(s.Points)-1].T
	var xs, ys []float64
	for _, p := range s.Points {
		if end.Sub(p.T) <= window && !math.IsNaN(p.V) {
			xs = append(xs, p.T.Sub(end).Hours())
			ys = append(ys, p.V)
		}
	}
	if len(xs) < 3 {
		return 0, false
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(xs))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0, true
	}
	return num / den, true
}

func seriesMin(s Series) (float64, bool) {
	if len(s.Points) == 0 {
		return 0, false
	}
	m := s.Points[0].V
	for _, p := range s.Points[1:] {
		m = min(m, p.V)
	}
	return m, true
}
