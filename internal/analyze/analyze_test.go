package analyze

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sleuth-sre/sleuth/internal/report"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

var yes = true

// pod builds a pod of ReplicaSet rs (deployment name + "-" + hash).
func pod(ns, name, rs string, mutate ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": strings.Split(rs, "-")[0]},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs, Controller: &yes}}},
		Spec: corev1.PodSpec{NodeName: "worker-1", Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0",
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi"), corev1.ResourceCPU: resource.MustParse("500m")},
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi"), corev1.ResourceCPU: resource.MustParse("250m")},
			}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	for _, m := range mutate {
		m(&p)
	}
	return p
}

func notReady(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	p.Status.ContainerStatuses[0].Ready = false
}

func crashing(exit int32, reason string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		notReady(p)
		cs := &p.Status.ContainerStatuses[0]
		cs.RestartCount = 7
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: reason, FinishedAt: ago(2 * time.Minute)}}
	}
}

func waiting(reason, msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		notReady(p)
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
}

func event(kind, ns, name, reason, msg string) corev1.Event {
	return corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: name + ".1"},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name},
		Reason:         reason, Message: msg, Type: "Warning", Count: 5,
	}
}

func checkout() report.Ref {
	return report.Ref{Kind: "Deployment", Namespace: "shop", Name: "checkout"}
}

func base(alertname string) *Evidence {
	return &Evidence{
		Now:      now,
		Alert:    Alert{Name: alertname, Status: "firing", StartsAt: now.Add(-5 * time.Minute), Labels: map[string]string{"namespace": "shop"}},
		Target:   report.Ref{Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f8b6c5d-x2k4p"},
		Workload: checkout(),
		Calls:    map[string][]string{"pod/shop/checkout-7d9f8b6c5d-x2k4p": {"call-1"}},
	}
}

func series(l map[string]string, values ...float64) Series {
	s := Series{Labels: l}
	for i, v := range values {
		s.Points = append(s.Points, Point{T: now.Add(time.Duration(i-len(values)) * time.Minute), V: v})
	}
	return s
}

func rs(name, revision string, created time.Duration, image string, ready int32) appsv1.ReplicaSet {
	return appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, CreationTimestamp: ago(created),
			Annotations: map[string]string{"deployment.kubernetes.io/revision": revision}},
		Spec:   appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}},
		Status: appsv1.ReplicaSetStatus{ReadyReplicas: ready},
	}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name     string
		ev       func() *Evidence
		category string
		object   report.Ref
		mentions []string
	}{
		{"oom with limit and working set", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(137, "OOMKilled"))}
			ev.Metrics = map[string][]Series{
				MetricMemoryWorkingSet: {series(map[string]string{"pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app"}, 200e6, 250e6, 268e6)},
				MetricMemoryLimit:      {series(map[string]string{"pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app"}, 268435456)},
			}
			return ev
		}, report.OOMKilled, checkout(), []string{"256Mi", "OOMKilled", "exit code 137"}},

		{"crash loop with log lines", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(1, "Error"))}
			ev.Logs = []LogLine{
				{Namespace: "shop", Pod: "checkout-7d9f8b6c5d-x2k4p", Msg: "starting checkout v2.3.1"},
				{Namespace: "shop", Pod: "checkout-7d9f8b6c5d-x2k4p", Msg: "panic: runtime error: invalid memory address or nil pointer dereference"},
			}
			return ev
		}, report.CrashLoop, checkout(), []string{"exit code 1", "nil pointer dereference"}},

		{"image pull", func() *Evidence {
			ev := base("KubePodNotReady")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", waiting("ImagePullBackOff", `Back-off pulling image "registry.example.com/app:1.0"`))}
			ev.Events = []corev1.Event{event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "Failed",
				`Failed to pull image "registry.example.com/app:1.0": rpc error: code = NotFound desc = failed to pull and unpack image: manifest unknown`)}
			return ev
		}, report.ImagePull, checkout(), []string{"registry.example.com/app:1.0", "manifest unknown"}},

		{"missing configmap", func() *Evidence {
			ev := base("KubeContainerWaiting")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", waiting("CreateContainerConfigError", `configmap "checkout-config" not found`))}
			return ev
		}, report.ConfigError, checkout(), []string{"checkout-config"}},

		{"missing secret key", func() *Evidence {
			ev := base("KubeContainerWaiting")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", waiting("CreateContainerConfigError", `couldn't find key DB_PASSWORD in Secret shop/checkout-db`))}
			return ev
		}, report.ConfigError, checkout(), []string{"DB_PASSWORD", "checkout-db"}},

		{"unschedulable", func() *Evidence {
			ev := base("KubePodNotReady")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", func(p *corev1.Pod) {
				p.Spec.NodeName = ""
				p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"}}}
			})}
			ev.Events = []corev1.Event{event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available")}
			return ev
		}, report.Unschedulable, checkout(), []string{"Insufficient memory"}},

		{"pvc pending", func() *Evidence {
			ev := base("KubePodNotReady")
			sc := "fast-ssd"
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", func(p *corev1.Pod) {
				p.Status = corev1.PodStatus{Phase: corev1.PodPending}
			})}
			ev.PVCs = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-data"},
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}}
			ev.Events = []corev1.Event{event("PersistentVolumeClaim", "shop", "checkout-data", "ProvisioningFailed", `storageclass.storage.k8s.io "fast-ssd" not found`)}
			return ev
		}, report.Volume, report.Ref{Kind: "PersistentVolumeClaim", Namespace: "shop", Name: "checkout-data"}, []string{"fast-ssd"}},

		{"liveness probe", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", notReady, func(p *corev1.Pod) {
				p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(8080)}}, TimeoutSeconds: 1}
			})}
			ev.Events = []corev1.Event{event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 404")}
			return ev
		}, report.ProbeFailure, checkout(), []string{"/healthz", "404"}},

		{"node not ready", func() *Evidence {
			ev := base("KubeNodeNotReady")
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-2"}, report.Ref{Kind: "Node", Name: "worker-2"}
			ev.Nodes = []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "worker-2"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.", LastTransitionTime: ago(10 * time.Minute)}}}}}
			return ev
		}, report.NodeFailure, report.Ref{Kind: "Node", Name: "worker-2"}, []string{"Kubelet stopped posting node status"}},

		{"node disk pressure", func() *Evidence {
			ev := base("KubeNodeNotReady")
			ev.Nodes = []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasDiskPressure"}}}}}
			return ev
		}, report.DiskPressure, report.Ref{Kind: "Node", Name: "worker-1"}, nil},

		{"failed cronjob run", func() *Evidence {
			ev := base("KubeJobFailed")
			bl := int32(3)
			ev.Jobs = []batchv1.Job{{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "backup-29001234",
				OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "backup", Controller: &yes}}},
				Spec:   batchv1.JobSpec{BackoffLimit: &bl},
				Status: batchv1.JobStatus{Failed: 4, Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}}}}}
			return ev
		}, report.JobFailure, report.Ref{Kind: "CronJob", Namespace: "ops", Name: "backup"}, []string{"BackoffLimitExceeded"}},

		{"quota denial", func() *Evidence {
			ev := base("KubeDeploymentReplicasMismatch")
			ev.Events = []corev1.Event{event("ReplicaSet", "shop", "checkout-7d9f8b6c5d", "FailedCreate",
				`Error creating: pods "checkout-7d9f8b6c5d-abcde" is forbidden: exceeded quota: shop-quota, requested: limits.memory=512Mi, used: limits.memory=2Gi, limited: limits.memory=2Gi`)}
			return ev
		}, report.QuotaExceeded, report.Ref{Kind: "ResourceQuota", Namespace: "shop", Name: "shop-quota"}, []string{"shop-quota"}},

		{"cpu throttling", func() *Evidence {
			ev := base("CPUThrottlingHigh")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d")}
			ev.Metrics = map[string][]Series{MetricCPUThrottled: {series(map[string]string{"pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app"}, 0.1, 0.6, 0.7)}}
			return ev
		}, report.CPUThrottling, checkout(), []string{"500m", "70%"}},

		{"node cpu saturation", func() *Evidence {
			ev := base("NodeHighCPU")
			ev.Nodes = []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "worker-3"}, Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.13"}},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}}
			ev.Metrics = map[string][]Series{MetricNodeCPU: {series(map[string]string{"instance": "10.0.0.13:9100"}, 0.5, 0.97, 0.98)}}
			return ev
		}, report.CPUSaturation, report.Ref{Kind: "Node", Name: "worker-3"}, nil},

		{"pvc filling", func() *Evidence {
			ev := base("KubePersistentVolumeFillingUp")
			ev.Metrics = map[string][]Series{MetricPVCAvailRatio: {series(map[string]string{"namespace": "db", "persistentvolumeclaim": "data-postgres-0"}, 0.2, 0.05, 0.03)}}
			return ev
		}, report.DiskPressure, report.Ref{Kind: "PersistentVolumeClaim", Namespace: "db", Name: "data-postgres-0"}, []string{"3%"}},

		{"certificate from cert-manager metric", func() *Evidence {
			ev := base("CertManagerCertExpirySoon")
			ev.Metrics = map[string][]Series{MetricCertExpiry: {series(map[string]string{"__name__": "certmanager_certificate_expiration_timestamp_seconds", "namespace": "shop", "name": "shop-tls", "issuer_kind": "ClusterIssuer"}, 3*86400)}}
			return ev
		}, report.CertificateExpiry, report.Ref{Kind: "Certificate", Namespace: "shop", Name: "shop-tls"}, nil},

		{"hpa at max", func() *Evidence {
			ev := base("KubeHpaMaxedOut")
			ev.HPAs = []autoscalingv2.HorizontalPodAutoscaler{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"},
				Spec:   autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5, ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "checkout"}},
				Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 5, DesiredReplicas: 9}}}
			return ev
		}, report.ScalingLimit, report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: "shop", Name: "checkout"}, []string{"5 replicas"}},

		{"crash after a rollout is the rollout", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"}}
			ev.ReplicaSets = []appsv1.ReplicaSet{rs("checkout-5c6b7d8f9", "4", 72*time.Hour, "app:2.3.0", 2), rs("checkout-7d9f8b6c5d", "5", 20*time.Minute, "app:2.4.0", 0)}
			ev.Pods = []corev1.Pod{
				pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(1, "Error")),
				pod("shop", "checkout-5c6b7d8f9-bcdfg", "checkout-5c6b7d8f9"),
			}
			return ev
		}, report.BadRollout, checkout(), []string{"app:2.3.0 -> app:2.4.0", "rollout undo"}},

		{"oom after a rollout stays oom", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"}}
			ev.ReplicaSets = []appsv1.ReplicaSet{rs("checkout-5c6b7d8f9", "4", 72*time.Hour, "app:2.3.0", 2), rs("checkout-7d9f8b6c5d", "5", 20*time.Minute, "app:2.3.0", 0)}
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(137, "OOMKilled"))}
			return ev
		}, report.OOMKilled, checkout(), []string{"256Mi"}},

		{"frontend fails because its database is down", func() *Evidence {
			ev := base("HTTPHighErrorRate")
			ev.Workload = report.Ref{Kind: "Deployment", Namespace: "shop", Name: "frontend"}
			ev.Pods = []corev1.Pod{pod("shop", "frontend-6f7d8c9b5-kx2pq", "frontend-6f7d8c9b5")}
			db := pod("shop", "postgres-0", "postgres", crashing(137, "OOMKilled"))
			db.OwnerReferences = []metav1.OwnerReference{{Kind: "StatefulSet", Name: "postgres", Controller: &yes}}
			ev.Dependencies = []Dependency{{Host: "postgres", Service: report.Ref{Kind: "Service", Namespace: "shop", Name: "postgres"},
				Workload: report.Ref{Kind: "StatefulSet", Namespace: "shop", Name: "postgres"}, Pods: []corev1.Pod{db},
				Errors: []string{`dial tcp 10.0.0.21:5432: connect: connection refused`}}}
			return ev
		}, report.DependencyFailure, report.Ref{Kind: "StatefulSet", Namespace: "shop", Name: "postgres"}, []string{"connection refused", "postgres"}},

		{"healthy dependency behind a network policy", func() *Evidence {
			ev := base("HTTPHighErrorRate")
			ev.Workload = report.Ref{Kind: "Deployment", Namespace: "shop", Name: "frontend"}
			ev.Pods = []corev1.Pod{pod("shop", "frontend-6f7d8c9b5-kx2pq", "frontend-6f7d8c9b5")}
			db := pod("shop", "postgres-0", "postgres")
			ev.Dependencies = []Dependency{{Host: "postgres", Service: report.Ref{Kind: "Service", Namespace: "shop", Name: "postgres"},
				Workload: report.Ref{Kind: "StatefulSet", Namespace: "shop", Name: "postgres"}, Pods: []corev1.Pod{db}, ReadyEndpoints: 1,
				Errors: []string{`dial tcp 10.0.0.21:5432: i/o timeout`}}}
			ev.NetPolicies = []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-allow-backend"},
				Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "postgres"}},
					Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "backend"}}}}}}}}}
			return ev
		}, report.NetworkPolicy, report.Ref{Kind: "NetworkPolicy", Namespace: "shop", Name: "db-allow-backend"}, []string{"db-allow-backend"}},

		{"healthy and resolved is none", func() *Evidence {
			ev := base("KubePodNotReady")
			ev.Alert.Status = "resolved"
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d")}
			return ev
		}, report.None, checkout(), []string{"resolved"}},

		{"nothing found, backends missing is unknown", func() *Evidence {
			ev := base("SomethingOdd")
			ev.Unchecked = []report.Unchecked{{What: "metrics", Why: "prometheus.url is not configured"}}
			return ev
		}, report.Unknown, checkout(), []string{"prometheus.url is not configured"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := c.ev()
			out := Run(ev)
			rc := Decide(ev, out)
			if rc.Category != c.category || rc.Object != c.object {
				t.Fatalf("root cause = %s %v, want %s %v\nfindings: %+v", rc.Category, rc.Object, c.category, c.object, out.Findings)
			}
			text := strings.ToLower(Summary(ev, rc, out))
			for _, f := range out.Findings {
				text += " " + strings.ToLower(f.Title+" "+f.Detail+" "+strings.Join(f.Remediation, " "))
			}
			for _, m := range c.mentions {
				if !strings.Contains(text, strings.ToLower(m)) {
					t.Errorf("report text lacks %q:\n%s", m, text)
				}
			}
		})
	}
}

// Every analyzer says what it checked when it finds nothing.
func TestHealthyTargetIsChecked(t *testing.T) {
	ev := base("KubePodNotReady")
	ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d")}
	ev.Nodes = []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}}
	out := Run(ev)
	if len(out.Findings) != 0 {
		t.Fatalf("findings on a healthy target: %+v", out.Findings)
	}
	seen := map[string]bool{}
	for _, c := range out.Checked {
		seen[c.Analyzer] = true
	}
	for _, a := range []string{"oom", "image-pull", "config", "crash-loop", "probes", "scheduling", "volumes", "quota", "nodes"} {
		if !seen[a] {
			t.Errorf("analyzer %s reported no check; checks: %+v", a, out.Checked)
		}
	}
	if rc := Decide(ev, out); rc.Category != report.None {
		t.Errorf("healthy, fully checked target: %s, want none", rc.Category)
	}
}
