package analyze

import (
	"fmt"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// analyzeAutoscaling finds an autoscaler pinned at its maximum while its
// metrics still ask for more (ScalingLimited/TooManyReplicas, a desired
// count above the maximum, a metric above its target): demand exceeds what
// it may scale to, and its maxReplicas is the limit. An autoscaler that
// cannot compute a replica count (ScalingActive False) cannot scale at all.
func analyzeAutoscaling(ev *Evidence, out *Output) {
	for i := range ev.HPAs {
		h := &ev.HPAs[i]
		ref := report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: h.Namespace, Name: h.Name}
		target := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
		metrics, over := hpaMetrics(h)
		limited := hpaCondition(h, "ScalingLimited")
		atMax := h.Status.CurrentReplicas >= h.Spec.MaxReplicas
		wantsMore := h.Status.DesiredReplicas > h.Spec.MaxReplicas || (limited != nil && limited.Reason == "TooManyReplicas") || over
		if atMax && wantsMore {
			f := report.Finding{
				Category: report.ScalingLimit, Object: ref, Score: 0.78,
				Title: fmt.Sprintf("HPA %s is at its maximum of %d replicas (desired %d) for %s while demand asks for more",
					h.Name, h.Spec.MaxReplicas, h.Status.DesiredReplicas, target),
				Evidence: cite(ev, "hpa/"+h.Namespace+"/"+h.Name, "target"),
			}
			var detail []string
			if len(metrics) > 0 {
				detail = append(detail, strings.Join(metrics, "; "))
			}
			if limited != nil && limited.Status == corev1.ConditionTrue {
				d := fmt.Sprintf("ScalingLimited %s: %s", limited.Reason, limited.Message)
				if !limited.LastTransitionTime.IsZero() && !ev.Now.IsZero() {
					d += fmt.Sprintf(" (for %s)", elapsed(ev.Now, limited.LastTransitionTime.Time))
				}
				detail = append(detail, d)
			}
			if h.Spec.MinReplicas != nil {
				detail = append(detail, fmt.Sprintf("range %d-%d replicas", *h.Spec.MinReplicas, h.Spec.MaxReplicas))
			}
			f.Detail = strings.Join(detail, "; ")
			f.Remediation = []string{
				fmt.Sprintf("Raise spec.maxReplicas of %s (now %d) so it can follow the demand, after checking the nodes have room for more replicas (or that the cluster autoscaler can add them).", ref, h.Spec.MaxReplicas),
				fmt.Sprintf("If more replicas cannot help (a consumer group with fewer partitions than replicas, a shared bottleneck), make each replica of %s handle more instead (CPU request, batch size, performance).", target),
			}
			out.Find(f)
			return
		}
		if b, blind := hpaBlind(ev, h); blind {
			if blindFinding(ev, out, h, b) {
				return
			}
			continue
		}
		if atMax {
			out.Check("HPA %s is at its maximum of %d replicas, but its metrics are within target (%s)", h.Name, h.Spec.MaxReplicas, strings.Join(metrics, "; "))
			continue
		}
		out.Check("HPA %s runs %d of at most %d replicas", h.Name, h.Status.CurrentReplicas, h.Spec.MaxReplicas)
	}
}

func hpaCondition(h *autoscalingv2.HorizontalPodAutoscaler, t string) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range h.Status.Conditions {
		if string(h.Status.Conditions[i].Type) == t {
			return &h.Status.Conditions[i]
		}
	}
	return nil
}

// hpaMetrics renders each metric of the autoscaler, current against
// target, and reports whether one is above its target.
func hpaMetrics(h *autoscalingv2.HorizontalPodAutoscaler) ([]string, bool) {
	var out []string
	over := false
	for _, m := range h.Spec.Metrics {
		name, target := metricSpec(m)
		if name == "" {
			continue
		}
		s := name + " target " + target.text()
		for _, c := range h.Status.CurrentMetrics {
			if cname, cur := metricStatus(c); cname == name && cur.set {
				s = fmt.Sprintf("%s at %s against a target of %s", name, cur.text(), target.text())
				if target.set && cur.v > target.v {
					over = true
				}
			}
		}
		out = append(out, s)
	}
	return out, over
}

type metricValue struct {
	v    float64
	util bool // a percentage of the pods' requests
	set  bool
}

func (m metricValue) text() string {
	switch {
	case !m.set:
		return "?"
	case m.util:
		return fmt.Sprintf("%.0f%% of requests", m.v)
	default:
		return trimFloat(m.v)
	}
}

func targetValue(t autoscalingv2.MetricTarget) metricValue {
	switch {
	case t.AverageUtilization != nil:
		return metricValue{float64(*t.AverageUtilization), true, true}
	case t.AverageValue != nil:
		return metricValue{t.AverageValue.AsApproximateFloat64(), false, true}
	case t.Value != nil:
		return metricValue{t.Value.AsApproximateFloat64(), false, true}
	}
	return metricValue{}
}

func currentValue(c autoscalingv2.MetricValueStatus) metricValue {
	switch {
	case c.AverageUtilization != nil:
		return metricValue{float64(*c.AverageUtilization), true, true}
	case c.AverageValue != nil:
		return metricValue{c.AverageValue.AsApproximateFloat64(), false, true}
	case c.Value != nil:
		return metricValue{c.Value.AsApproximateFloat64(), false, true}
	}
	return metricValue{}
}

func metricSpec(m autoscalingv2.MetricSpec) (string, metricValue) {
	switch {
	case m.Resource != nil:
		return string(m.Resource.Name), targetValue(m.Resource.Target)
	case m.ContainerResource != nil:
		return string(m.ContainerResource.Name) + " of " + m.ContainerResource.Container, targetValue(m.ContainerResource.Target)
	case m.Pods != nil:
		return m.Pods.Metric.Name, targetValue(m.Pods.Target)
	case m.Object != nil:
		return m.Object.Metric.Name, targetValue(m.Object.Target)
	case m.External != nil:
		return m.External.Metric.Name, targetValue(m.External.Target)
	}
	return "", metricValue{}
}

func metricStatus(m autoscalingv2.MetricStatus) (string, metricValue) {
	switch {
	case m.Resource != nil:
		return string(m.Resource.Name), currentValue(m.Resource.Current)
	case m.ContainerResource != nil:
		return string(m.ContainerResource.Name) + " of " + m.ContainerResource.Container, currentValue(m.ContainerResource.Current)
	case m.Pods != nil:
		return m.Pods.Metric.Name, currentValue(m.Pods.Current)
	case m.Object != nil:
		return m.Object.Metric.Name, currentValue(m.Object.Current)
	case m.External != nil:
		return m.External.Metric.Name, currentValue(m.External.Current)
	}
	return "", metricValue{}
}
