package analyze

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// An autoscaler that cannot compute its metric keeps the replica count it
// has: it is blind, not limited. The controller says so in its
// ScalingActive condition and in warning events (reasons below); the most
// common cause is a Utilization target over pods one of whose containers
// (often a sidecar added later) has no request for the resource, since
// utilization is usage over the sum of every container's request.

// blindReasons are the HPA controller's reasons for failing to compute a
// replica count from its metrics.
var blindReasons = map[string]bool{
	"FailedGetResourceMetric":          true,
	"FailedGetContainerResourceMetric": true,
	"FailedGetPodsMetric":              true,
	"FailedGetObjectMetric":            true,
	"FailedGetExternalMetric":          true,
	"FailedComputeMetricsReplicas":     true,
	"InvalidMetricSourceType":          true,
	"InvalidSelector":                  true,
}

// missingRequest finds the container the controller names:
// "failed to get cpu utilization: missing request for cpu in container
// otel-agent of Pod ws-gateway-7d5c9b8f6-q9x2m".
var missingRequest = regexp.MustCompile(`missing request for (\w+)(?: in container "?([A-Za-z0-9._-]+)"?)?(?: of Pod "?([A-Za-z0-9._-]+)"?)?`)

// loadAlert matches alerts about a workload struggling with demand:
// latency, lag, saturation, timeouts, queues, errors under load.
var loadAlert = regexp.MustCompile(`(?i)(latency|lag|slow|saturat|timeout|load|cpu|queue|backlog|busy|duration|p9\d|5xx|error|throughput|overload|hpa|autoscal|scal)`)

// blindHPA is what the analyzer knows about an autoscaler that cannot
// compute its metric.
type blindHPA struct {
	reason, message string
	// resource and container are what the message names ("" when it does
	// not); confirmed when a pod's spec shows the request missing.
	resource, container string
	confirmed           bool
	// util is the measured utilization of the containers that have a
	// request, 0..n (1 = 100%), and wanted the replica count the target
	// asks for at that utilization; 0 when not measured.
	util   float64
	target int32
	wanted int32
}

// hpaBlind reports whether the autoscaler cannot compute its metrics now:
// ScalingActive False for a metric reason, or a recent warning event for
// one.
func hpaBlind(ev *Evidence, h *autoscalingv2.HorizontalPodAutoscaler) (blindHPA, bool) {
	var b blindHPA
	// ScalingDisabled is a choice (the target scaled to zero), not a fault.
	if c := hpaCondition(h, "ScalingActive"); c != nil && c.Status == corev1.ConditionFalse &&
		(blindReasons[c.Reason] || c.Reason != "ScalingDisabled" && alertIs(ev, []string{"hpa", "autoscal", "scal"})) {
		b.reason, b.message = c.Reason, c.Message
	}
	for _, e := range events(ev, "HorizontalPodAutoscaler", h.Namespace, h.Name) {
		if e.Type != corev1.EventTypeWarning || !blindReasons[e.Reason] || (!ev.Now.IsZero() && ev.Now.Sub(eventLastSeen(e)) > recoveryQuiet) {
			continue
		}
		// A condition that says ScalingActive True overrides old events.
		if c := hpaCondition(h, "ScalingActive"); c != nil && c.Status == corev1.ConditionTrue && c.LastTransitionTime.After(eventLastSeen(e)) {
			continue
		}
		if b.reason == "" || (!missingRequest.MatchString(b.message) && missingRequest.MatchString(e.Message)) {
			b.reason, b.message = e.Reason, e.Message
		}
	}
	if b.reason == "" {
		return b, false
	}
	if m := missingRequest.FindStringSubmatch(b.message); m != nil {
		b.resource, b.container = m[1], m[2]
	}
	b.confirmed = b.container != "" && containerLacksRequest(ev, b.container, corev1.ResourceName(b.resource))
	b.util, b.target, b.wanted = hpaDemand(ev, h)
	return b, true
}

// containerLacksRequest reports whether a pod of the target runs the
// container without a request for the resource.
func containerLacksRequest(ev *Evidence, container string, res corev1.ResourceName) bool {
	for i := range ev.Pods {
		for _, c := range ev.Pods[i].Spec.Containers {
			if c.Name != container {
				continue
			}
			if _, ok := c.Resources.Requests[res]; !ok {
				return true
			}
		}
	}
	return false
}

// hpaDemand measures what a CPU Utilization target would see if it could:
// the CPU the target's containers with a request use now, over those
// requests, averaged over pods, and the replica count the target asks for
// at that utilization (the controller's ceil(current * util / target)).
func hpaDemand(ev *Evidence, h *autoscalingv2.HorizontalPodAutoscaler) (float64, int32, int32) {
	var target int32
	for _, m := range h.Spec.Metrics {
		if m.Resource != nil && m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.AverageUtilization != nil {
			target = *m.Resource.Target.AverageUtilization
		}
	}
	if target <= 0 {
		return 0, 0, 0
	}
	var sum float64
	n := 0
	for i := range ev.Pods {
		p := &ev.Pods[i]
		var used, requested float64
		for _, c := range p.Spec.Containers {
			r, ok := c.Resources.Requests[corev1.ResourceCPU]
			if !ok || r.IsZero() {
				continue
			}
			u, ok := lastOf(seriesForExact(ev, MetricCPUUsage, p.Name, c.Name))
			if !ok {
				continue
			}
			used += u
			requested += r.AsApproximateFloat64()
		}
		if requested > 0 {
			sum += used / requested
			n++
		}
	}
	if n == 0 {
		return 0, target, 0
	}
	util := sum / float64(n)
	current := h.Status.CurrentReplicas
	if current == 0 {
		current = int32(len(ev.Pods))
	}
	wanted := int32(math.Ceil(float64(current) * util * 100 / float64(target)))
	return util, target, wanted
}

// seriesForExact returns the series of a pod's container, requiring both
// labels to match (seriesFor lets a series without the label match).
func seriesForExact(ev *Evidence, purpose, pod, container string) []Series {
	var out []Series
	for _, s := range ev.Metrics[purpose] {
		if s.Labels["pod"] == pod && s.Labels["container"] == container {
			out = append(out, s)
		}
	}
	return out
}

// blindFinding decides whether a blind autoscaler is the cause of the
// alert: the alert is about the autoscaler, or about the workload
// struggling with demand (latency, lag, saturation) while it cannot add
// replicas. An autoscaler blind on a workload alerting for another reason
// (a crash, a missing image) is only noted.
func blindFinding(ev *Evidence, out *Output, h *autoscalingv2.HorizontalPodAutoscaler, b blindHPA) bool {
	ref := report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: h.Namespace, Name: h.Name}
	target := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
	aboutHPA := alertIs(ev, []string{"hpa", "autoscal", "scal"})
	overTarget := b.target > 0 && b.util*100 > float64(b.target)
	relevant := aboutHPA
	for _, a := range append([]Alert{ev.Alert}, ev.Alerts...) {
		if loadAlert.MatchString(a.Name) {
			relevant = true
		}
	}
	if !relevant {
		out.Check("HPA %s cannot compute its metrics (%s: %s), but the alert is not about load or scaling", h.Name, b.reason, b.message)
		return false
	}
	score := 0.72
	switch {
	case overTarget && h.Status.CurrentReplicas < h.Spec.MaxReplicas:
		score = 0.84 // demand above target, replicas left, none added
	case aboutHPA || b.confirmed:
		score = 0.78
	}
	title := fmt.Sprintf("HPA %s cannot scale %s: it cannot compute its metrics (ScalingActive False, %s) and stays at %d replicas", h.Name, target, b.reason, h.Status.CurrentReplicas)
	if b.container != "" {
		title = fmt.Sprintf("HPA %s cannot scale %s: container %s has no %s request, so %s utilization cannot be computed (%s); it stays at %d replicas",
			h.Name, target, b.container, b.resource, b.resource, b.reason, h.Status.CurrentReplicas)
	}
	var detail []string
	detail = append(detail, "the controller says: "+b.message)
	if b.confirmed {
		detail = append(detail, fmt.Sprintf("the pods' spec confirms it: container %s sets no %s request", b.container, b.resource))
	}
	if b.wanted > 0 {
		d := fmt.Sprintf("the containers with a CPU request use %s of it against a target of %d%%", pct(b.util), b.target)
		if overTarget {
			d += fmt.Sprintf(": it would scale to about %d replicas (maximum %d)", min(b.wanted, h.Spec.MaxReplicas), h.Spec.MaxReplicas)
		}
		detail = append(detail, d)
	}
	if h.Spec.MinReplicas != nil {
		detail = append(detail, fmt.Sprintf("range %d-%d replicas", *h.Spec.MinReplicas, h.Spec.MaxReplicas))
	}
	f := report.Finding{
		Category: report.ScalingLimit, Object: ref, Score: score, Title: title,
		Detail:   strings.Join(detail, "; "),
		Evidence: cite(ev, "hpa/"+h.Namespace+"/"+h.Name, "metric/"+MetricCPUUsage, "target"),
	}
	if b.container != "" {
		f.Remediation = []string{
			fmt.Sprintf("Give container %s of %s a %s request (resources.requests.%s), so %s can compute utilization again; or target the main container with a ContainerResource metric.", b.container, target, b.resource, b.resource, ref),
			fmt.Sprintf("Until then, scale %s by hand if it is overloaded: kubectl scale -n %s %s --replicas=N.", target, h.Namespace, strings.ToLower(target)),
		}
	} else {
		f.Remediation = []string{fmt.Sprintf("Make the metrics of %s available (metrics-server or the metrics adapter; the pods' resource requests for utilization targets): kubectl describe hpa -n %s %s.", ref, h.Namespace, h.Name)}
	}
	out.Find(f)
	return true
}
