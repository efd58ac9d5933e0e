package analyze

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// recovered makes a pod that crashed restarts times, last exiting lastExit
// ago, and has been running and ready since.
func recovered(restarts int32, lastExit time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		cs := &p.Status.ContainerStatuses[0]
		cs.RestartCount = restarts
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(lastExit - time.Minute)}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(lastExit)}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(lastExit - 2*time.Minute)}}
	}
}

func deployment(ready, updated int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	two := int32(2)
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"},
		Spec:   appsv1.DeploymentSpec{Replicas: &two},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready, UpdatedReplicas: updated, Conditions: conds}}
}

func node(name string, cpu string) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0." + name[len(name)-1:]}},
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// ramp returns n values from a to b.
func ramp(a, b float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = a + (b-a)*float64(i)/float64(n-1)
	}
	return out
}

func flat(v float64, n int) []float64 { return ramp(v, v, n) }

func TestWorkloadAndNodeCauses(t *testing.T) {
	hpa := func(current, desired, maxR int32, util, target int32, limited bool) autoscalingv2.HorizontalPodAutoscaler {
		h := autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: maxR, ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "checkout"},
				Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target}}}}},
			Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: current, DesiredReplicas: desired,
				CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU,
					Current: autoscalingv2.MetricValueStatus{AverageUtilization: &util}}}}}}
		if limited {
			h.Status.Conditions = []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: "ScalingLimited", Status: corev1.ConditionTrue, Reason: "TooManyReplicas",
				Message: "the desired replica count is more than the maximum replica count", LastTransitionTime: ago(40 * time.Minute)}}
		}
		return h
	}
	noCPULimit := func(req string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			delete(p.Spec.Containers[0].Resources.Limits, corev1.ResourceCPU)
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse(req)
		}
	}
	cases := []struct {
		name     string
		ev       func() *Evidence
		category string
		object   report.Ref
		mentions []string
	}{
		{"crash loop that stopped half an hour ago is none", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Pods = []corev1.Pod{
				pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", recovered(3, 33*time.Minute)),
				pod("shop", "checkout-7d9f8b6c5d-bcdfg", "checkout-7d9f8b6c5d"),
			}
			ev.Deployment = deployment(2, 2)
			ev.Events = []corev1.Event{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "x.1"}, Type: "Warning", Reason: "BackOff",
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f8b6c5d-x2k4p"}, LastTimestamp: ago(34 * time.Minute)}}
			ev.Unchecked = []report.Unchecked{{What: "container logs of checkout-7d9f8b6c5d-x2k4p", Why: "the kubelet is unreachable"}}
			return ev
		}, report.None, checkout(), []string{"Running and Ready", "33m ago"}},

		{"a container between two crashes is still crash looping", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", recovered(7, 3*time.Minute))}
			ev.Deployment = deployment(2, 2)
			return ev
		}, report.CrashLoop, checkout(), []string{"7 restarts"}},

		{"ready pods with a stuck rollout are not recovered", func() *Evidence {
			ev := base("KubeDeploymentRolloutStuck")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d")}
			ev.Deployment = deployment(2, 0, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"})
			ev.Unchecked = []report.Unchecked{{What: "logs", Why: "not configured"}}
			return ev
		}, report.Unknown, checkout(), []string{"not recovered: deployment checkout has 2 ready and 0 updated"}},

		{"healthy pods of a StatefulSet missing a replica are not recovered", func() *Evidence {
			ev := base("KubeStatefulSetReplicasMismatch")
			ev.Workload = report.Ref{Kind: "StatefulSet", Namespace: "shop", Name: "redis"}
			three := int32(3)
			ev.StatefulSet = &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "redis"},
				Spec: appsv1.StatefulSetSpec{Replicas: &three}, Status: appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 2}}
			ev.Pods = []corev1.Pod{pod("shop", "redis-0", "redis"), pod("shop", "redis-1", "redis")}
			return ev
		}, report.Unknown, report.Ref{Kind: "StatefulSet", Namespace: "shop", Name: "redis"}, []string{"2 of 3 replicas ready"}},

		{"image pulled and running after a long pull is none", func() *Evidence {
			ev := base("KubeContainerWaiting")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(6 * time.Minute)}}
			})}
			ev.Events = []corev1.Event{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "x.2"}, Type: "Normal", Reason: "Pulled", Message: "Successfully pulled image in 1h5m",
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f8b6c5d-x2k4p"}, LastTimestamp: ago(8 * time.Minute)}}
			ev.Unchecked = []report.Unchecked{{What: "container logs", Why: "the kubelet is unreachable"}}
			return ev
		}, report.None, checkout(), []string{"no container restarted"}},

		{"a node Ready again for half an hour is none", func() *Evidence {
			ev := base("KubeNodeNotReady")
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-1"}, report.Ref{Kind: "Node", Name: "worker-1"}
			n := node("worker-1", "8")
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastTransitionTime: ago(30 * time.Minute)},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}}
			ev.Nodes = []corev1.Node{n}
			return ev
		}, report.None, report.Ref{Kind: "Node", Name: "worker-1"}, []string{"Ready for 30m"}},

		{"a node alert the evidence cannot check is not none", func() *Evidence {
			ev := base("NodeMemoryHighUtilization")
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-1"}, report.Ref{Kind: "Node", Name: "worker-1"}
			n := node("worker-1", "8")
			n.Status.Conditions[0].LastTransitionTime = ago(100 * time.Hour)
			ev.Nodes = []corev1.Node{n}
			return ev
		}, report.Unknown, report.Ref{Kind: "Node", Name: "worker-1"}, nil},

		{"a node still loaded is not recovered", func() *Evidence {
			ev := base("NodeLoadHigh")
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-1"}, report.Ref{Kind: "Node", Name: "worker-1"}
			n := node("worker-1", "8")
			n.Status.Conditions[0].LastTransitionTime = ago(100 * time.Hour)
			ev.Nodes = []corev1.Node{n}
			ev.Metrics = map[string][]Series{MetricNodeLoad: {series(map[string]string{"instance": "10.0.0.1:9100"}, 9, 9.5)}}
			return ev
		}, report.CPUSaturation, report.Ref{Kind: "Node", Name: "worker-1"}, []string{"load1 9.5 on 8 CPUs"}},

		{"a node whose load fell back is none", func() *Evidence {
			ev := base("NodeLoadHigh")
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-1"}, report.Ref{Kind: "Node", Name: "worker-1"}
			n := node("worker-1", "8")
			n.Status.Conditions[0].LastTransitionTime = ago(100 * time.Hour)
			ev.Nodes = []corev1.Node{n}
			ev.Metrics = map[string][]Series{
				MetricNodeLoad: {series(map[string]string{"instance": "10.0.0.1:9100"}, 20, 9, 2.1)},
				MetricNodeCPU:  {series(map[string]string{"instance": "10.0.0.1:9100"}, append(flat(0.97, 20), flat(0.3, 12)...)...)},
			}
			return ev
		}, report.None, report.Ref{Kind: "Node", Name: "worker-1"}, []string{"load1 2.1"}},

		{"filesystem fill that stopped is none", func() *Evidence {
			ev := base("NodeFilesystemSpaceFillingUp")
			ev.Alert.Labels = map[string]string{"instance": "10.0.0.1:9100", "mountpoint": "/"}
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-1"}, report.Ref{Kind: "Node", Name: "worker-1"}
			ev.Nodes = []corev1.Node{node("worker-1", "8")}
			l := map[string]string{"instance": "10.0.0.1:9100", "mountpoint": "/"}
			ev.Metrics = map[string][]Series{MetricFSAvailRatio: {series(l, append(append(ramp(0.46, 0.19, 20), 0.47), flat(0.47, 31)...)...)}}
			return ev
		}, report.None, report.Ref{Kind: "Node", Name: "worker-1"}, []string{"47% free", "19%"}},

		{"filesystem still filling is not none", func() *Evidence {
			ev := base("NodeFilesystemSpaceFillingUp")
			ev.Alert.Labels = map[string]string{"instance": "10.0.0.1:9100", "mountpoint": "/"}
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-1"}, report.Ref{Kind: "Node", Name: "worker-1"}
			ev.Nodes = []corev1.Node{node("worker-1", "8")}
			l := map[string]string{"instance": "10.0.0.1:9100", "mountpoint": "/"}
			ev.Metrics = map[string][]Series{MetricFSAvailRatio: {series(l, ramp(0.40, 0.30, 60)...)}}
			return ev
		}, report.Unknown, report.Ref{Kind: "Node", Name: "worker-1"}, []string{"not recovered", "still filling"}},

		{"crash on a ConfigMap value blames the key", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(1, "Error"), func(p *corev1.Pod) {
				p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-config"}}}}
			})}
			ev.ConfigMaps = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-config"},
				Data: map[string]string{"REFRESH_INTERVAL": "300", "LOG_FORMAT": "json", "BASE_CURRENCY": "EUR"}}}
			ev.Logs = []LogLine{{Namespace: "shop", Pod: "checkout-7d9f8b6c5d-x2k4p", Msg: `{"level":"ERROR","msg":"invalid configuration","err":"env: parse error on field \"RefreshInterval\" of type \"time.Duration\": time: missing unit in duration \"300\""}`}}
			return ev
		}, report.ConfigError, report.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "checkout-config"}, []string{"REFRESH_INTERVAL", `"300"`, "rollout restart"}},

		{"crash on a mounted config file blames its ConfigMap key", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(1, "Error"), func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-files"}}}}}
				p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/checkout/app.yaml", SubPath: "app.yaml"}}
			})}
			ev.ConfigMaps = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-files"}, Data: map[string]string{"app.yaml": "listen: :8080\n  tls: on", "logging.yaml": "level: info"}}}
			ev.Logs = []LogLine{{Namespace: "shop", Pod: "checkout-7d9f8b6c5d-x2k4p", Msg: `fatal: cannot parse /etc/checkout/app.yaml: yaml: line 2: mapping values are not allowed in this context`}}
			return ev
		}, report.ConfigError, report.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "checkout-files"}, []string{"key app.yaml", "/etc/checkout/app.yaml"}},

		{"crash reaching a host named in a ConfigMap is not a config error", func() *Evidence {
			ev := base("KubePodCrashLooping")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(1, "Error"), func(p *corev1.Pod) {
				p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_HOST", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-config"}, Key: "db_host"}}}}
			})}
			ev.ConfigMaps = []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-config"}, Data: map[string]string{"db_host": "orders-postgres.shop.svc"}}}
			ev.Logs = []LogLine{{Namespace: "shop", Pod: "checkout-7d9f8b6c5d-x2k4p", Msg: `fatal: cannot connect to DB_HOST orders-postgres.shop.svc:5432: dial tcp 10.0.0.9:5432: connect: connection refused`}}
			return ev
		}, report.CrashLoop, checkout(), []string{"connection refused"}},

		{"LimitRange refusing a new ReplicaSet's pods", func() *Evidence {
			ev := base("KubeDeploymentRolloutStuck")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-5c6b7d8f9-bcdfg", "checkout-5c6b7d8f9")}
			ev.LimitRanges = []corev1.LimitRange{
				{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "defaults"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
					Default: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}}}},
				{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "container-max"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
					Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("4Gi")}}}}},
			}
			ev.Events = []corev1.Event{event("ReplicaSet", "shop", "checkout-7d9f8b6c5d", "FailedCreate",
				`Error creating: pods "checkout-7d9f8b6c5d-" is forbidden: maximum memory usage per Container is 4Gi, but limit is 6Gi`)}
			return ev
		}, report.QuotaExceeded, report.Ref{Kind: "LimitRange", Namespace: "shop", Name: "container-max"}, []string{"4Gi", "6Gi", "Deployment/shop/checkout"}},

		{"LimitRange refusal read from the ReplicaSet condition", func() *Evidence {
			ev := base("KubeDeploymentReplicasMismatch")
			bad := rs("checkout-7d9f8b6c5d", "6", 50*time.Minute, "app:1", 0)
			bad.OwnerReferences = []metav1.OwnerReference{{Kind: "Deployment", Name: "checkout", Controller: &yes}}
			bad.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate",
				Message: `pods "checkout-7d9f8b6c5d-" is forbidden: minimum cpu usage per Container is 100m, but request is 50m`}}
			ev.ReplicaSets = []appsv1.ReplicaSet{rs("checkout-5c6b7d8f9", "5", 72*time.Hour, "app:1", 2), bad}
			return ev
		}, report.QuotaExceeded, checkout(), []string{"100m", "50m"}},

		{"pending on a node selector no node matches", func() *Evidence {
			ev := base("KubePodNotReady")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", func(p *corev1.Pod) {
				p.Spec.NodeName = ""
				p.Spec.NodeSelector = map[string]string{"nvidia.com/gpu.product": "NVIDIA-A10G"}
				p.Status = corev1.PodStatus{Phase: corev1.PodPending}
			})}
			ev.Events = []corev1.Event{
				event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "FailedScheduling", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."),
				{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "x.3"}, Type: "Normal", Reason: "NotTriggerScaleUp",
					InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f8b6c5d-x2k4p"},
					Message:        "pod didn't trigger scale-up: 3 node(s) didn't match Pod's node affinity/selector, 1 max node group size reached"},
			}
			return ev
		}, report.Unschedulable, checkout(), []string{"nvidia.com/gpu.product=NVIDIA-A10G", "max node group size reached"}},

		{"failed job whose pods are gone quotes their logs", func() *Evidence {
			ev := base("KubeJobFailed")
			bl := int32(3)
			ev.Jobs = []batchv1.Job{{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "export-29001234",
				OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "export", Controller: &yes}}},
				Spec:   batchv1.JobSpec{BackoffLimit: &bl},
				Status: batchv1.JobStatus{Failed: 4, Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}}}}}
			ev.Logs = []LogLine{
				{Namespace: "ops", Pod: "export-29001234-7kdw2", Msg: "INFO connected"},
				{Namespace: "ops", Pod: "export-29001234-7kdw2", Msg: "psycopg2.errors.UndefinedColumn: column o.shipping_country does not exist"},
			}
			return ev
		}, report.JobFailure, report.Ref{Kind: "CronJob", Namespace: "ops", Name: "export"}, []string{"shipping_country"}},

		{"node saturated by one workload names the workload", func() *Evidence {
			ev := base("NodeCPUHighUsage")
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-2"}, report.Ref{Kind: "Node", Name: "worker-2"}
			ev.Nodes = []corev1.Node{node("worker-2", "7910m")}
			ev.Metrics = map[string][]Series{
				MetricNodeCPU:  {series(map[string]string{"instance": "10.0.0.2:9100"}, 0.3, 0.98, 0.99)},
				MetricNodeLoad: {series(map[string]string{"instance": "10.0.0.2:9100"}, 2, 31, 31.5)},
			}
			ev.CPUConsumers = []Consumer{
				{Pod: report.Ref{Kind: "Pod", Namespace: "data", Name: "etl-7b4f9c8d56-s6jxq"}, Workload: report.Ref{Kind: "Deployment", Namespace: "data", Name: "etl"}, Node: "worker-2", Cores: 7.4, Request: 0.5},
				{Pod: report.Ref{Kind: "Pod", Namespace: "shop", Name: "catalog-5d9b6c7f48-7rxkm"}, Workload: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "catalog"}, Node: "worker-2", Cores: 0.38, Request: 0.5},
			}
			return ev
		}, report.CPUSaturation, report.Ref{Kind: "Deployment", Namespace: "data", Name: "etl"}, []string{"7.40 cores", "no CPU limit", "catalog-5d9b6c7f48-7rxkm"}},

		{"node saturated by many pods is the node", func() *Evidence {
			ev := base("NodeCPUHighUsage")
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-2"}, report.Ref{Kind: "Node", Name: "worker-2"}
			ev.Nodes = []corev1.Node{node("worker-2", "8")}
			ev.Metrics = map[string][]Series{MetricNodeCPU: {series(map[string]string{"instance": "10.0.0.2:9100"}, 0.95, 0.97)}}
			ev.CPUConsumers = []Consumer{
				{Pod: report.Ref{Kind: "Pod", Namespace: "a", Name: "a-1"}, Workload: report.Ref{Kind: "Deployment", Namespace: "a", Name: "a"}, Node: "worker-2", Cores: 2, Request: 2, Limit: 2},
				{Pod: report.Ref{Kind: "Pod", Namespace: "b", Name: "b-1"}, Workload: report.Ref{Kind: "Deployment", Namespace: "b", Name: "b"}, Node: "worker-2", Cores: 1.9, Request: 2},
			}
			return ev
		}, report.CPUSaturation, report.Ref{Kind: "Node", Name: "worker-2"}, []string{"add capacity"}},

		{"a node alert on load alone, spread over many pods, is the node", func() *Evidence {
			ev := base("NodeLoadHigh")
			ev.Target, ev.Workload = report.Ref{Kind: "Node", Name: "worker-2"}, report.Ref{Kind: "Node", Name: "worker-2"}
			ev.Nodes = []corev1.Node{node("worker-2", "8")}
			ev.Metrics = map[string][]Series{MetricNodeLoad: {series(map[string]string{"instance": "10.0.0.2:9100"}, 4, 12, 12.5)}}
			ev.CPUConsumers = []Consumer{
				{Pod: report.Ref{Kind: "Pod", Namespace: "a", Name: "a-1"}, Workload: report.Ref{Kind: "Deployment", Namespace: "a", Name: "a"}, Node: "worker-2", Cores: 2.5, Request: 2},
				{Pod: report.Ref{Kind: "Pod", Namespace: "b", Name: "b-1"}, Workload: report.Ref{Kind: "Deployment", Namespace: "b", Name: "b"}, Node: "worker-2", Cores: 2.4, Request: 2},
			}
			return ev
		}, report.CPUSaturation, report.Ref{Kind: "Node", Name: "worker-2"}, []string{"load1 12.5 on 8 CPUs", "a/a-1"}},

		{"workload far above its request on a loaded node", func() *Evidence {
			ev := base("HTTP5xxRateHigh")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", noCPULimit("1"))}
			ev.Nodes = []corev1.Node{node("worker-1", "8")}
			ev.Metrics = map[string][]Series{
				MetricCPUUsage: {series(map[string]string{"namespace": "shop", "pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app"}, append(append(flat(1.2, 20), ramp(1.2, 3.95, 5)...), flat(3.95, 12)...)...)},
				MetricNodeLoad: {series(map[string]string{"instance": "10.0.0.1:9100"}, 1.5, 9.2)},
			}
			return ev
		}, report.CPUSaturation, checkout(), []string{"3.95 cores", "no CPU limit", "load1 9.2 on 8 CPUs", "rose from 1.20"}},

		{"idle CPU used beyond the request harms nobody", func() *Evidence {
			ev := base("HTTP5xxRateHigh")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", noCPULimit("1"))}
			ev.Nodes = []corev1.Node{node("worker-1", "8")}
			ev.Metrics = map[string][]Series{
				MetricCPUUsage: {series(map[string]string{"namespace": "shop", "pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app"}, flat(2.5, 20)...)},
				MetricNodeLoad: {series(map[string]string{"instance": "10.0.0.1:9100"}, 3, 3.1)},
			}
			return ev
		}, report.None, checkout(), nil},

		{"autoscaler pinned at its maximum above its target", func() *Evidence {
			ev := base("KubeHpaMaxedOut")
			ev.Target = report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: "shop", Name: "checkout"}
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d")}
			ev.HPAs = []autoscalingv2.HorizontalPodAutoscaler{hpa(10, 10, 10, 97, 60, true)}
			return ev
		}, report.ScalingLimit, report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: "shop", Name: "checkout"}, []string{"97% of requests", "60% of requests", "TooManyReplicas", "maxReplicas"}},

		{"autoscaler at its maximum within target is no limit", func() *Evidence {
			ev := base("KubeHpaMaxedOut")
			ev.Target = report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: "shop", Name: "checkout"}
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d")}
			ev.HPAs = []autoscalingv2.HorizontalPodAutoscaler{hpa(10, 10, 10, 40, 60, false)}
			return ev
		}, report.None, checkout(), nil},

		{"volume filled by WAL an inactive replication slot retains", func() *Evidence {
			ev := base("KubePersistentVolumeFillingUp")
			ev.Pods = []corev1.Pod{pod("db", "pg-0", "pg")}
			ev.PVCs = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "data-pg-0"},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("100Gi")}}}}
			ev.Metrics = map[string][]Series{
				MetricPVCAvailRatio:  {series(map[string]string{"namespace": "db", "persistentvolumeclaim": "data-pg-0"}, ramp(0.22, 0.07, 60)...)},
				MetricPGSlotRetained: {series(map[string]string{"pod": "pg-0", "slot_name": "cdc_orders", "database": "orders"}, 27e9), series(map[string]string{"pod": "pg-0", "slot_name": "replica_1"}, 2e9)},
				MetricPGSlotActive:   {series(map[string]string{"pod": "pg-0", "slot_name": "cdc_orders"}, 0), series(map[string]string{"pod": "pg-0", "slot_name": "replica_1"}, 1)},
			}
			return ev
		}, report.DiskPressure, report.Ref{Kind: "PersistentVolumeClaim", Namespace: "db", Name: "data-pg-0"}, []string{"cdc_orders", "25.1Gi", "pg_drop_replication_slot"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := c.ev()
			out := Run(ev)
			rc := Decide(ev, out)
			if rc.Category != c.category || rc.Object != c.object {
				t.Fatalf("root cause = %s %v, want %s %v\nfindings: %+v\nchecked: %+v", rc.Category, rc.Object, c.category, c.object, out.Findings, out.Checked)
			}
			text := strings.ToLower(Summary(ev, rc, out))
			for _, f := range out.Findings {
				text += " " + strings.ToLower(f.Title+" "+f.Detail+" "+strings.Join(f.Remediation, " "))
			}
			for _, ch := range out.Checked {
				text += " " + strings.ToLower(ch.Note)
			}
			for _, m := range c.mentions {
				if !strings.Contains(text, strings.ToLower(m)) {
					t.Errorf("report text lacks %q:\n%s", m, text)
				}
			}
		})
	}
}

func TestBlameConfig(t *testing.T) {
	env := []envVar{
		{Name: "REFRESH_INTERVAL", Value: "300", Known: true, Kind: "ConfigMap", Source: "fx", Key: "REFRESH_INTERVAL"},
		{Name: "LOG_LEVEL", Value: "error", Known: true},
		{Name: "GF_INSTALL_PLUGINS", Value: "victoriametrics-datasource", Known: true, Kind: "ConfigMap", Source: "grafana", Key: "plugins"},
		{Name: "DB_PASSWORD", Kind: "Secret", Source: "db", Key: "password"},
		{Name: "/etc/app/config.yaml", Kind: "ConfigMap", Source: "app", Key: "config.yaml", File: true},
	}
	f := func(line, want string, strength int) {
		t.Helper()
		b, ok := blameConfig(env, []string{line})
		got := ""
		if ok {
			got = b.Var.Name
		}
		if got != want || (ok && b.Strength != strength) {
			t.Errorf("blameConfig(%q) = %q (strength %d), want %q (%d)", line, got, b.Strength, want, strength)
		}
	}
	f(`parse error on field "RefreshInterval": missing unit in duration "300"`, "REFRESH_INTERVAL", 3)
	f(`invalid value for refresh_interval`, "REFRESH_INTERVAL", 2)
	f(`Error: failed to install plugin victoriametrics-datasource: 404: Plugin not found`, "GF_INSTALL_PLUGINS", 1)
	f(`FATAL: password authentication failed: DB_PASSWORD is empty`, "DB_PASSWORD", 2)
	f(`failed to load /etc/app/config.yaml: yaml: line 3: mapping values are not allowed in this context`, "/etc/app/config.yaml", 2)
	f(`config.yaml: unknown field "listen_addr"`, "/etc/app/config.yaml", 1)
	// A plain word is not a variable's name, a log level not its value.
	f(`level=error msg="invalid refresh interval"`, "", 0)
	// A peer the client cannot reach is the dependency analyzers' question.
	f(`invalid response from victoriametrics-datasource: dial tcp 10.0.0.1:80: connection refused`, "", 0)
	// Lines that do not complain about configuration blame nothing.
	f(`served 300 requests`, "", 0)
}
