package analyze

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// decided runs the analyzers and returns the root cause with the report's
// text, lower-cased.
func decided(ev *Evidence) (report.RootCause, string, *Output) {
	out := Run(ev)
	rc := Decide(ev, out)
	text := strings.ToLower(Summary(ev, rc, out))
	for _, f := range out.Findings {
		text += " " + strings.ToLower(f.Title+" "+f.Detail+" "+strings.Join(f.Remediation, " "))
	}
	for _, c := range out.Checked {
		text += " " + strings.ToLower(c.Note)
	}
	return rc, text, out
}

// withSidecar adds a container without any resources to a pod.
func withSidecar(name string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: name, Image: "otel/agent:0.112"})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: name, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}})
	}
}

// blindHPAOf is a CPU-utilization autoscaler of checkout whose controller
// cannot compute the metric because a container has no CPU request.
func blindHPAOf(container string, withEvent bool) (autoscalingv2.HorizontalPodAutoscaler, []corev1.Event) {
	target := int32(65)
	min3 := int32(3)
	msg := "failed to get cpu utilization: missing request for cpu in container " + container + " of Pod checkout-7d9f8b6c5d-x2k4p"
	h := autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &min3, MaxReplicas: 20, ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "checkout"},
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target}}}}},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, DesiredReplicas: 3, Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			{Type: "AbleToScale", Status: corev1.ConditionTrue, Reason: "ReadyForNewScale"},
			{Type: "ScalingActive", Status: corev1.ConditionFalse, Reason: "FailedGetResourceMetric", Message: "the HPA was unable to compute the replica count: " + msg, LastTransitionTime: ago(3 * time.Hour)},
		}}}
	var evs []corev1.Event
	if withEvent {
		e := event("HorizontalPodAutoscaler", "shop", "checkout", "FailedGetResourceMetric", msg)
		e.LastTimestamp = ago(12 * time.Second)
		evs = append(evs, e)
	}
	return h, evs
}

func TestBlindAutoscaler(t *testing.T) {
	hpaRef := report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: "shop", Name: "checkout"}
	usage := func(pod, container string, v float64) Series {
		return series(map[string]string{"namespace": "shop", "pod": pod, "container": container}, flat(v, 10)...)
	}
	busyPods := func(ev *Evidence) {
		ev.Pods = nil
		ev.Metrics = map[string][]Series{}
		for _, name := range []string{"checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d-bcdfg", "checkout-7d9f8b6c5d-q9x2m"} {
			ev.Pods = append(ev.Pods, pod("shop", name, "checkout-7d9f8b6c5d", withSidecar("otel-agent")))
			// 0.5 cores on a 250m request: 200% of it.
			ev.Metrics[MetricCPUUsage] = append(ev.Metrics[MetricCPUUsage], usage(name, "app", 0.5), usage(name, "otel-agent", 0.02))
		}
	}
	t.Run("a latency alert on a workload whose autoscaler is blind", func(t *testing.T) {
		ev := base("EventLoopLagHigh")
		busyPods(ev)
		h, evs := blindHPAOf("otel-agent", true)
		ev.HPAs, ev.Events = []autoscalingv2.HorizontalPodAutoscaler{h}, evs
		rc, text, out := decided(ev)
		if rc.Category != report.ScalingLimit || rc.Object != hpaRef {
			t.Fatalf("root cause = %s %v, want scaling-limit %v\nfindings: %+v", rc.Category, rc.Object, hpaRef, out.Findings)
		}
		for _, m := range []string{"otel-agent", "no cpu request", "200%", "about 10 replicas", "resources.requests.cpu"} {
			if !strings.Contains(text, m) {
				t.Errorf("report lacks %q:\n%s", m, text)
			}
		}
	})
	t.Run("the condition alone, without events or usage, still decides a scaling alert", func(t *testing.T) {
		ev := base("KubeHpaReplicasMismatch")
		ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", withSidecar("otel-agent"))}
		h, _ := blindHPAOf("otel-agent", false)
		ev.HPAs = []autoscalingv2.HorizontalPodAutoscaler{h}
		rc, text, _ := decided(ev)
		if rc.Category != report.ScalingLimit || !strings.Contains(text, "otel-agent") {
			t.Fatalf("root cause = %s %v, want scaling-limit naming otel-agent:\n%s", rc.Category, rc.Object, text)
		}
	})
	t.Run("a blind autoscaler is not blamed for a crash", func(t *testing.T) {
		ev := base("KubePodCrashLooping")
		ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", withSidecar("otel-agent"), crashing(137, "OOMKilled"))}
		h, evs := blindHPAOf("otel-agent", true)
		ev.HPAs, ev.Events = []autoscalingv2.HorizontalPodAutoscaler{h}, evs
		rc, _, out := decided(ev)
		if rc.Category != report.OOMKilled {
			t.Fatalf("root cause = %s %v, want oom-killed\nfindings: %+v", rc.Category, rc.Object, out.Findings)
		}
		for _, f := range out.Findings {
			if f.Category == report.ScalingLimit {
				t.Errorf("blind autoscaler blamed for a crash: %s", f.Title)
			}
		}
	})
	t.Run("an autoscaler that computes its metric is no cause of latency", func(t *testing.T) {
		ev := base("EventLoopLagHigh")
		busyPods(ev)
		h, _ := blindHPAOf("otel-agent", false)
		h.Status.Conditions[1] = autoscalingv2.HorizontalPodAutoscalerCondition{Type: "ScalingActive", Status: corev1.ConditionTrue, Reason: "ValidMetricFound"}
		// An old failure, before the condition turned True.
		e := event("HorizontalPodAutoscaler", "shop", "checkout", "FailedGetResourceMetric", "missing request for cpu in container otel-agent")
		e.LastTimestamp = ago(2 * time.Minute)
		h.Status.Conditions[1].LastTransitionTime = ago(time.Minute)
		ev.HPAs, ev.Events = []autoscalingv2.HorizontalPodAutoscaler{h}, []corev1.Event{e}
		rc, _, out := decided(ev)
		if rc.Category == report.ScalingLimit {
			t.Fatalf("root cause = %s %v for an autoscaler that works\nfindings: %+v", rc.Category, rc.Object, out.Findings)
		}
	})
	t.Run("scaled to zero on purpose is not blind", func(t *testing.T) {
		ev := base("EventLoopLagHigh")
		busyPods(ev)
		h, _ := blindHPAOf("otel-agent", false)
		h.Status.Conditions[1] = autoscalingv2.HorizontalPodAutoscalerCondition{Type: "ScalingActive", Status: corev1.ConditionFalse, Reason: "ScalingDisabled", Message: "scaling is disabled since the replica count of the target is zero"}
		ev.HPAs = []autoscalingv2.HorizontalPodAutoscaler{h}
		if rc, _, out := decided(ev); rc.Category == report.ScalingLimit {
			t.Fatalf("root cause = %s for a disabled autoscaler\nfindings: %+v", rc.Category, out.Findings)
		}
	})
}

// rolledPod is a StatefulSet pod on revision rev, started `started` ago,
// that failed readiness until `ready` ago and is Ready since.
func rolledPod(name, rev string, started, ready time.Duration) corev1.Pod {
	p := statefulPod("messaging", name, "rabbitmq", map[string]string{"app.kubernetes.io/name": "rabbitmq", "controller-revision-hash": rev})
	st := ago(started)
	p.Status.StartTime = &st
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(ready)}}
	return p
}

func readinessFailed(pod string, count int32, last time.Duration) corev1.Event {
	e := event("Pod", "messaging", pod, "Unhealthy", "Readiness probe failed: Error: unable to perform an operation on node 'rabbit@"+pod+"'")
	e.Count, e.LastTimestamp, e.FirstTimestamp = count, ago(last), ago(last+10*time.Minute)
	return e
}

func statefulSet(replicas, ready, updated int32, current, update string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "messaging", Name: "rabbitmq", Generation: 6},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 6, Replicas: replicas, ReadyReplicas: ready, UpdatedReplicas: updated, CurrentReplicas: updated,
			CurrentRevision: current, UpdateRevision: update}}
}

func TestCompletedRolloutIsNotAFault(t *testing.T) {
	sts := report.Ref{Kind: "StatefulSet", Namespace: "messaging", Name: "rabbitmq"}
	rolling := func() *Evidence {
		ev := base("KubeStatefulSetUpdateNotRolledOut")
		ev.Alert.Labels = map[string]string{"namespace": "messaging", "statefulset": "rabbitmq"}
		ev.Alert.StartsAt = now.Add(-32 * time.Minute)
		ev.Target, ev.Workload = sts, sts
		ev.Pods = []corev1.Pod{
			rolledPod("rabbitmq-0", "rabbitmq-new", 17*time.Minute, 3*time.Minute),
			rolledPod("rabbitmq-1", "rabbitmq-new", 32*time.Minute, 19*time.Minute),
			rolledPod("rabbitmq-2", "rabbitmq-new", 47*time.Minute, 34*time.Minute),
		}
		ev.Events = []corev1.Event{readinessFailed("rabbitmq-0", 26, 4*time.Minute), readinessFailed("rabbitmq-1", 24, 20*time.Minute), readinessFailed("rabbitmq-2", 24, 35*time.Minute)}
		ev.StatefulSet = statefulSet(3, 3, 3, "rabbitmq-new", "rabbitmq-new")
		return ev
	}
	t.Run("readiness failures of a rollout that completed", func(t *testing.T) {
		ev := rolling()
		rc, text, out := decided(ev)
		if rc.Category != report.None {
			t.Fatalf("root cause = %s %v, want none\nfindings: %+v\nchecked: %+v", rc.Category, rc.Object, out.Findings, out.Checked)
		}
		for _, m := range []string{"finished its rollout", "rabbitmq-0 failed its readiness probe while starting"} {
			if !strings.Contains(text, m) {
				t.Errorf("report lacks %q:\n%s", m, text)
			}
		}
	})
	t.Run("the rollout is still in progress", func(t *testing.T) {
		ev := rolling()
		ev.StatefulSet = statefulSet(3, 3, 2, "rabbitmq-old", "rabbitmq-new")
		ev.Pods[0].Labels["controller-revision-hash"] = "rabbitmq-old"
		rc, _, out := decided(ev)
		if rc.Category == report.None {
			t.Fatalf("said none while the update is not rolled out\nchecked: %+v", out.Checked)
		}
	})
	t.Run("a pod failing readiness now", func(t *testing.T) {
		ev := rolling()
		ev.Events[0] = readinessFailed("rabbitmq-0", 26, 20*time.Second)
		rc, _, _ := decided(ev)
		if rc.Category != report.ProbeFailure {
			t.Fatalf("root cause = %s, want probe-failure: the pod failed after it became Ready", rc.Category)
		}
	})
	t.Run("a pod that restarted during the rollout", func(t *testing.T) {
		ev := rolling()
		ev.Pods[0].Status.ContainerStatuses[0].RestartCount = 2
		ev.Pods[0].Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error", FinishedAt: ago(5 * time.Minute)}}
		if rc, _, _ := decided(ev); rc.Category == report.None {
			t.Fatalf("said none for a pod that restarted 5 minutes ago")
		}
	})
	t.Run("readiness failures of a long-running pod are not a rollout's", func(t *testing.T) {
		ev := base("KubeDeploymentReplicasMismatch")
		ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", func(p *corev1.Pod) {
			st := ago(30 * 24 * time.Hour)
			p.Status.StartTime = &st
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(time.Minute)}}
		})}
		e := event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")
		e.LastTimestamp = ago(2 * time.Minute)
		ev.Events = []corev1.Event{e}
		two := int32(2)
		ev.Deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"}, Spec: appsv1.DeploymentSpec{Replicas: &two},
			Status: appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}}
		if rc, _, _ := decided(ev); rc.Category != report.ProbeFailure {
			t.Fatalf("root cause = %s, want probe-failure for a month-old pod flapping", rc.Category)
		}
	})
}
