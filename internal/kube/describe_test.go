package kube

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var update = flag.Bool("update", false, "rewrite testdata/describe/*.txt from the current renderings")

// golden compares got with testdata/describe/name.txt.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "describe", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func ownedBy(kind, name string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: "u", Controller: ptr(true)}}
}

func TestDescribe(t *testing.T) {
	crash := crashLoopPod("shop", "checkout-7d9f8b6c5d-x2k4p", "worker-1", ownedBy("ReplicaSet", "checkout-7d9f8b6c5d"))
	crash.CreationTimestamp = at(-time.Hour)
	crash.Status.QOSClass = corev1.PodQOSBurstable
	crash.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "shop/migrate:1.4.2",
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "migrate-config"}, Optional: ptr(true)}}}}}
	crash.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", Ready: true,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", FinishedAt: at(-55 * time.Minute)}}}}
	crash.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}}}, PeriodSeconds: 5, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
	crash.Spec.Volumes = append(crash.Spec.Volumes,
		corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("64Mi"))}}},
		corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
		}}}})

	pending := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "shop", CreationTimestamp: at(-10 * time.Minute), OwnerReferences: ownedBy("StatefulSet", "db")},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "postgres", Image: "postgres:17"}}, NodeSelector: map[string]string{"disktype": "ssd"}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", LastTransitionTime: at(-10 * time.Minute),
			Message: "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/memory-pressure: }, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		}}},
	}

	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop", CreationTimestamp: at(-30 * 24 * time.Hour), Annotations: map[string]string{revisionAnnotation: "2"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(3)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}}, Template: podTemplate("checkout", "shop/checkout:1.4.2"),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr(intstr.FromString("25%")), MaxUnavailable: ptr(intstr.FromInt32(0))}},
		},
		Status: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3, UnavailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.", LastTransitionTime: at(-29 * 24 * time.Hour)},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "checkout-7d9f8b6c5d" has timed out progressing.`, LastTransitionTime: at(-time.Minute)},
		}},
	}

	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-1", CreationTimestamp: at(-90 * 24 * time.Hour),
			Labels: map[string]string{"node-role.kubernetes.io/worker": "", "node.kubernetes.io/instance-type": "m6i.xlarge", "topology.kubernetes.io/zone": "eu-west-1a"}},
		Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{
			{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule},
			{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute}}},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "worker-1"}},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.", LastTransitionTime: at(-5 * time.Minute), LastHeartbeatTime: at(-6 * time.Minute)},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastTransitionTime: at(-90 * 24 * time.Hour)},
			},
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3920m"), corev1.ResourceMemory: resource.MustParse("15Gi"), corev1.ResourcePods: resource.MustParse("110")},
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Bottlerocket OS 1.40.0", ContainerRuntimeVersion: "containerd://2.1.0"},
		},
	}

	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: "shop", CreationTimestamp: at(-10 * time.Minute)},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr("gp3"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeMode: ptr(corev1.PersistentVolumeFilesystem),
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("100Gi")}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}

	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "report-29012345", Namespace: "batch", CreationTimestamp: at(-20 * time.Minute),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "report", UID: "u", Controller: ptr(true)}}},
		Spec: batchv1.JobSpec{Completions: ptr(int32(1)), Parallelism: ptr(int32(1)), BackoffLimit: ptr(int32(2)), ActiveDeadlineSeconds: ptr(int64(600)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "report", Image: "shop/report:3.1"}}}}},
		Status: batchv1.JobStatus{StartTime: ptr(at(-20 * time.Minute)), Failed: 3, Ready: ptr(int32(0)), Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: at(-2 * time.Minute)}}},
	}

	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-config", Namespace: "shop", CreationTimestamp: at(-time.Hour)},
		Data:       map[string]string{"LOG_LEVEL": "debug", "app.yaml": "server:\n  port: 8080\n" + strings.Repeat("# padding line\n", 40)},
		BinaryData: map[string][]byte{"truststore.jks": make([]byte, 2048)},
	}

	quotas := &Quotas{Namespace: "shop",
		ResourceQuotas: []corev1.ResourceQuota{{ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: "shop"},
			Spec: corev1.ResourceQuotaSpec{Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotTerminating}},
			Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceLimitsMemory: resource.MustParse("4Gi"), corev1.ResourceRequestsCPU: resource.MustParse("2")},
				Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceLimitsMemory: resource.MustParse("3584Mi"), corev1.ResourceRequestsCPU: resource.MustParse("1500m")},
			}}},
		LimitRanges: []corev1.LimitRange{{ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: "shop"},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
				Default: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}, Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}}}}}},
	}

	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "checkout"}, MinReplicas: ptr(int32(2)), MaxReplicas: 10,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{AverageUtilization: ptr(int32(70))}}},
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: "http_requests_per_second"}, Target: autoscalingv2.MetricTarget{AverageValue: ptr(resource.MustParse("100"))}}},
			},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 10, DesiredReplicas: 10, LastScaleTime: ptr(at(-15 * time.Minute)),
			CurrentMetrics: []autoscalingv2.MetricStatus{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr(int32(142))}}},
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{Metric: autoscalingv2.MetricIdentifier{Name: "http_requests_per_second"}, Current: autoscalingv2.MetricValueStatus{AverageValue: ptr(resource.MustParse("180"))}}},
			},
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionTrue, Reason: "TooManyReplicas", Message: "the desired replica count is more than the maximum replica count", LastTransitionTime: at(-15 * time.Minute)}}},
	}

	oom := crashLoopPod("shop", "checkout-7d9f8b6c5d-q8m3z", "worker-2", nil)
	running := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-6c5b8d7f9-abcde", Namespace: "shop"},
		Spec:   corev1.PodSpec{NodeName: "worker-3", Containers: []corev1.Container{{Name: "checkout"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "checkout", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at(-time.Hour)}}}}}}
	evicted := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-6c5b8d7f9-zzzzz", Namespace: "shop"},
		Spec:   corev1.PodSpec{NodeName: "worker-1", Containers: []corev1.Container{{Name: "checkout"}}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."}}

	events := []corev1.Event{
		{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "db-0"}, Type: "Warning", Reason: "FailedScheduling", Count: 4, LastTimestamp: at(-5 * time.Minute),
			Message: "0/3 nodes are available: 3 Insufficient memory."},
		{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "checkout-7d9f8b6c5d-x2k4p"}, Type: "Warning", Reason: "BackOff",
			EventTime: metav1.NewMicroTime(base.Add(-10 * time.Minute)), Series: &corev1.EventSeries{Count: 31, LastObservedTime: metav1.NewMicroTime(base)},
			Message: "Back-off restarting failed container checkout in pod checkout-7d9f8b6c5d-x2k4p"},
	}

	revs := []Revision{
		{Revision: 1, ReplicaSet: "checkout-6c5b8d7f9", Images: []string{"checkout=shop/checkout:1.4.1", "envoy=envoyproxy/envoy:v1.34"}, Created: base.Add(-30 * 24 * time.Hour)},
		{Revision: 2, ReplicaSet: "checkout-7d9f8b6c5d", Current: true, Images: []string{"checkout=shop/checkout:1.4.2", "envoy=envoyproxy/envoy:v1.34"}, Desired: 3, Replicas: 3, Ready: 0, Available: 0, Created: base.Add(-20 * time.Minute), ChangeCause: "deploy 1.4.2"},
	}

	chain := []Ref{{Kind: "Pod", Namespace: "batch", Name: "report-29012345-7xk2p"}, {Kind: "Job", Namespace: "batch", Name: "report-29012345"}, {Kind: "CronJob", Namespace: "batch", Name: "report", Missing: true}}

	slices := &discoveryv1.EndpointSliceList{Items: []discoveryv1.EndpointSlice{{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-h7d2k", Namespace: "shop"}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.1.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "checkout-7d9f8b6c5d-x2k4p"}, NodeName: ptr("worker-1")},
			{Addresses: []string{"10.244.2.9"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "checkout-6c5b8d7f9-abcde"}, NodeName: ptr("worker-3")},
		},
	}}}

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop", UID: "6f1c0d2e-0000-4000-8000-000000000000", CreationTimestamp: at(-time.Hour),
			Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1","kind":"Service"}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.0.0.17", Selector: map[string]string{"app": "checkout"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
	}

	f := func(name string, obj any) {
		t.Helper()
		golden(t, name, Describe(obj))
	}
	f("pod_crashloop", crash)
	f("pod_pending", pending)
	f("deployment", deploy)
	f("node", node)
	f("pvc", pvc)
	f("job", job)
	f("configmap", cm)
	f("quotas", quotas)
	f("hpa", hpa)
	f("podlist", &corev1.PodList{Items: []corev1.Pod{*oom, *running, *evicted}, ListMeta: metav1.ListMeta{Continue: "more"}})
	f("events", events)
	f("revisions", revs)
	f("chain", chain)
	f("endpointslices", slices)
	f("service_yaml", svc)

	// The same pod as unstructured (from the generic Get) renders the same.
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crash)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("v1")
	u.SetKind("Pod")
	if diff := cmp.Diff(Describe(crash), Describe(u)); diff != "" {
		t.Errorf("unstructured pod renders differently:\n%s", diff)
	}
}

func TestDescribeNeverShowsSecretValues(t *testing.T) {
	pod := crashLoopPod("shop", "checkout-7d9f8b6c5d-x2k4p", "worker-1", nil)
	d := Describe(pod)
	for _, want := range []string{"DB_PASSWORD=<Secret checkout-db key password>", "Env from: Secret checkout-env", "tls: Secret checkout-tls (keys tls.crt)", `JAVA_OPTS="-Xmx512m"`, "API_TOKEN=<literal, withheld>"} {
		if !strings.Contains(d, want) {
			t.Errorf("pod rendering lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "inline-token-value") {
		t.Errorf("a credential-like literal leaked:\n%s", d)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "checkout-db", Namespace: "shop"}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"password": []byte("hunter2"), "username": []byte("checkout")}}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(secret)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("v1")
	u.SetKind("Secret")
	for _, obj := range []any{secret, u} {
		d := Describe(obj)
		if d != "Secret shop/checkout-db\nType: Opaque\nKeys: password, username (values never shown)\n" {
			t.Errorf("secret rendering:\n%s", d)
		}
	}
}

func TestDescribeYAMLIsBounded(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Blob",
		"metadata": map[string]any{"name": "big", "namespace": "shop"},
		"status":   map[string]any{"log": strings.Repeat("0123456789abcdef", 4096)},
	}}
	d := Describe(u)
	if len(d) > maxDescribeBytes+100 || !strings.HasSuffix(d, "... (16384 of 65630 bytes shown)\n") || !strings.HasPrefix(d, "apiVersion: example.com/v1\nkind: Blob\n") {
		t.Errorf("%d bytes, ending %q", len(d), d[len(d)-60:])
	}
}

func TestIsSecretArg(t *testing.T) {
	f := func(arg string, want bool) {
		t.Helper()
		if got := isSecretArg(arg); got != want {
			t.Errorf("isSecretArg(%q) = %t", arg, got)
		}
	}
	f("Secret", true)
	f("secrets", true)
	f("secrets.v1.", true)
	f("Secret.v1", true)
	f("secret.core", true)
	f("sealedsecrets.bitnami.com", false)
	f("secrets.external-secrets.io", false) // a CRD's own kind, not core Secrets
	f("configmaps", false)
}

func TestHostOf(t *testing.T) {
	f := func(addr, want string) {
		t.Helper()
		if got := hostOf(addr); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", addr, got, want)
		}
	}
	f("10.0.0.5:9100", "10.0.0.5")
	f("10.0.0.5", "10.0.0.5")
	f("[fd00::5]:9100", "fd00::5")
	f("fd00::5", "fd00::5")
	f("worker-1:9100", "worker-1")
	f(" worker-1 ", "worker-1")
}

func TestSelectorOf(t *testing.T) {
	f := func(obj map[string]any, want, wantErr string) {
		t.Helper()
		got, err := selectorOf(&unstructured.Unstructured{Object: obj})
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%v: error %v, want %q", obj, err, wantErr)
			}
			return
		}
		if err != nil || got != want {
			t.Errorf("%v: %q, %v; want %q", obj, got, err, want)
		}
	}
	spec := func(sel any) map[string]any {
		return map[string]any{"kind": "X", "metadata": map[string]any{"name": "x"}, "spec": map[string]any{"selector": sel}}
	}
	f(spec(map[string]any{"matchLabels": map[string]any{"app": "checkout"}}), "app=checkout", "")
	f(spec(map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "In", "values": []any{"web", "api"}}}}), "tier in (api,web)", "")
	f(spec(map[string]any{"app": "checkout", "tier": "web"}), "app=checkout,tier=web", "") // Service
	f(spec(map[string]any{"matchLabels": map[string]any{}}), "", "empty pod selector")
	f(map[string]any{"kind": "X", "metadata": map[string]any{"name": "x"}}, "", "no pod selector")
}
