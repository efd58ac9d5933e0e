package kube

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// One kube-apiserver for the package; each test stages its own namespace.
func TestMain(m *testing.M) { os.Exit(testbackend.KubeMain(m)) }

// base is the fixed "now" of staged statuses and events, so that
// renderings do not depend on when the test runs.
var base = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func at(d time.Duration) metav1.Time { return metav1.NewTime(base.Add(d)) }

func ptr[T any](v T) *T { return &v }

// incident is a namespace staged like a real incident: a Deployment
// mid-rollout whose new pods are OOM-killed in a crash loop, a CronJob's
// failed Job, a NotReady node, a quota at its limit, an HPA at max.
type incident struct {
	ns      string
	node    string
	nodeIP  string
	deploy  *appsv1.Deployment
	oldRS   string
	newRS   string
	pods    []string // the new ReplicaSet's pods
	other   string   // a pod of another app in the namespace
	cronJob string
	job     string
	jobPod  string
	sc      string
	kube    *testbackend.Kube
}

var ipSeq struct {
	sync.Mutex
	n int
}

// uniqueIP gives each staged node its own InternalIP: tests share one API
// server, and NodeByAddress must find exactly one node.
func uniqueIP() string {
	ipSeq.Lock()
	defer ipSeq.Unlock()
	ipSeq.n++
	return fmt.Sprintf("10.%d.%d.%d", 20+ipSeq.n/62500, ipSeq.n/250%250, ipSeq.n%250+1)
}

func stageIncident(t *testing.T) *incident {
	t.Helper()
	k := testbackend.SharedKube(t)
	in := &incident{kube: k, ns: k.Namespace(t, "shop"), node: k.Unique("worker"), nodeIP: uniqueIP(), sc: k.Unique("fast")}
	ns := in.ns
	in.oldRS, in.newRS = "checkout-6c5b8d7f9", "checkout-7d9f8b6c5d"
	in.pods = []string{in.newRS + "-x2k4p", in.newRS + "-q8m3z"}
	in.other = "payments-5f6d7c8b9-abcde"

	k.Apply(t, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: in.node, Labels: map[string]string{"node-role.kubernetes.io/worker": "", "topology.kubernetes.io/zone": "eu-west-1a"}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "node.kubernetes.io/memory-pressure", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: in.nodeIP}, {Type: corev1.NodeHostName, Address: in.node}},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "PLEG is not healthy", LastTransitionTime: at(-5 * time.Minute), LastHeartbeatTime: at(-time.Minute)},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue, Reason: "KubeletHasInsufficientMemory", Message: "kubelet has insufficient memory available", LastTransitionTime: at(-6 * time.Minute)},
			},
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3800m"), corev1.ResourceMemory: resource.MustParse("15Gi"), corev1.ResourcePods: resource.MustParse("110")},
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian GNU/Linux 13", ContainerRuntimeVersion: "containerd://2.1.0"},
		},
	}, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: in.sc}, Provisioner: "ebs.csi.aws.com"})

	in.deploy = &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns, Annotations: map[string]string{revisionAnnotation: "2"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Template: podTemplate("checkout", "shop/checkout:1.4.2"),
		},
		Status: appsv1.DeploymentStatus{
			Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 2,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.", LastTransitionTime: at(-4 * time.Minute)},
			},
		},
	}
	deploy := k.Apply(t, in.deploy)[0]
	owner := func(apiVersion, kind, name string, uid types.UID) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr(true)}}
	}
	rs := func(name, rev, image string, replicas, ready int32) *appsv1.ReplicaSet {
		tmpl := podTemplate("checkout", image)
		tmpl.Labels["pod-template-hash"] = strings.TrimPrefix(name, "checkout-")
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: tmpl.Labels, Annotations: map[string]string{revisionAnnotation: rev, changeCauseAnnotation: "image " + image},
				OwnerReferences: owner("apps/v1", "Deployment", "checkout", deploy.GetUID())},
			Spec:   appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels}, Template: tmpl},
			Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: ready, AvailableReplicas: ready},
		}
	}
	// The newer ReplicaSet is applied first: the history must be ordered by
	// revision, not by creation or name.
	created := k.Apply(t, rs(in.newRS, "2", "shop/checkout:1.4.2", 3, 1), rs(in.oldRS, "1", "shop/checkout:1.4.1", 0, 0),
		// Matches the Deployment's selector but is not its own: the history
		// and owner chains must leave it out.
		&appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout-orphan", Namespace: ns, Labels: map[string]string{"app": "checkout", "orphan": "yes"}, Annotations: map[string]string{revisionAnnotation: "9"}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout", "orphan": "yes"}},
				Template: func() corev1.PodTemplateSpec {
					p := podTemplate("checkout", "shop/checkout:0.0.1")
					p.Labels["orphan"] = "yes"
					return p
				}()},
		})
	newRSUID := created[0].GetUID()

	for _, name := range in.pods {
		k.Apply(t, crashLoopPod(ns, name, in.node, owner("apps/v1", "ReplicaSet", in.newRS, newRSUID)))
	}
	k.Apply(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: in.other, Namespace: ns, Labels: map[string]string{"app": "payments"}},
		Spec:       corev1.PodSpec{NodeName: in.node, Containers: []corev1.Container{{Name: "payments", Image: "shop/payments:2.0.0"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	})

	// CronJob -> Job -> Pod. The Job's selector is generated by the server
	// (batch.kubernetes.io/controller-uid), so its pod takes the labels of
	// the created Job's template.
	in.cronJob, in.job = "report", "report-29012345"
	in.jobPod = in.job + "-7xk2p"
	cj := k.Apply(t, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: in.cronJob, Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "45 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "report", Image: "shop/report:3.1"}}}},
		}}},
	})[0]
	job := k.Apply(t, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: in.job, Namespace: ns, OwnerReferences: owner("batch/v1", "CronJob", in.cronJob, cj.GetUID())},
		Spec: batchv1.JobSpec{BackoffLimit: ptr(int32(0)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "report", Image: "shop/report:3.1"}}}}},
	})[0]
	jobLabels, _, _ := unstructuredStringMap(job.Object, "spec", "template", "metadata", "labels")
	k.Apply(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: in.jobPod, Namespace: ns, Labels: jobLabels, OwnerReferences: owner("batch/v1", "Job", in.job, job.GetUID())},
		Spec:       corev1.PodSpec{NodeName: in.node, RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "report", Image: "shop/report:3.1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "report", Image: "shop/report:3.1",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: at(-10 * time.Minute)}}}}},
	})

	k.Apply(t,
		&corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data-db-0", Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &in.sc, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
		},
		&corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: k.Unique("pv")},
			Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "checkout"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: "checkout-h7d2k", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: "checkout"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: in.pods[0]}, NodeName: &in.node}},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout-config", Namespace: ns},
			Data:       map[string]string{"LOG_LEVEL": "debug", "app.yaml": strings.Repeat("x: 1\n", 400)},
		},
		&autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "checkout"},
				MinReplicas:    ptr(int32(2)), MaxReplicas: 3,
				Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(70))}}}},
			},
			Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, DesiredReplicas: 3,
				CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
					Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr(int32(95))}}}},
				Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.ScalingLimited, Status: corev1.ConditionTrue, Reason: "TooManyReplicas",
					Message: "the desired replica count is more than the maximum replica count", LastTransitionTime: at(-3 * time.Minute)}}},
		},
		&networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "deny-all", Namespace: ns},
			Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{}, PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
		},
		&networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns},
			Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "checkout", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}},
		},
		&appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
			Spec:       appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Template: podTemplate("db", "postgres:17")},
		},
		&appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "node-exporter", Namespace: ns},
			Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "node-exporter"}}, Template: podTemplate("node-exporter", "prom/node-exporter:1.9")},
		},
	)

	// Quota and limits last: the quota admission plugin would otherwise
	// deny the pods above (10 of 10 pods used), as it would in a cluster.
	k.Apply(t,
		&corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: ns},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceLimitsMemory: resource.MustParse("4Gi")}},
			Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceLimitsMemory: resource.MustParse("4Gi")},
				Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceLimitsMemory: resource.MustParse("3Gi")},
			},
		},
		&corev1.LimitRange{
			ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: ns},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
				Default: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}, DefaultRequest: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}}}},
		},
	)
	return in
}

func podTemplate(app, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: app, Image: image,
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			}}}},
	}
}

// crashLoopPod is a pod whose container was OOM-killed (exit code 137)
// and now waits in CrashLoopBackOff, with secret and config references of
// every sort in its spec.
func crashLoopPod(ns, name, node string, owners []metav1.OwnerReference) *corev1.Pod {
	hash := strings.TrimPrefix(name[:strings.LastIndex(name, "-")], "checkout-")
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, OwnerReferences: owners,
			Labels: map[string]string{"app": "checkout", "pod-template-hash": hash}},
		Spec: corev1.PodSpec{
			NodeName: node,
			Containers: []corev1.Container{{
				Name: "checkout", Image: "shop/checkout:1.4.2",
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
					InitialDelaySeconds: 10, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3},
				EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-env"}}}},
				Env: []corev1.EnvVar{
					{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-db"}, Key: "password"}}},
					{Name: "LOG_LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "checkout-config"}, Key: "LOG_LEVEL"}}},
					{Name: "JAVA_OPTS", Value: "-Xmx512m"},
					{Name: "API_TOKEN", Value: "inline-token-value"},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "tls", MountPath: "/etc/tls", ReadOnly: true}, {Name: "data", MountPath: "/var/lib/checkout"}},
			}},
			Volumes: []corev1.Volume{
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "checkout-tls", Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "tls.crt"}}}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-checkout"}}},
			},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			PodIP: "10.244.1.7",
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [checkout]", LastTransitionTime: at(-3 * time.Minute)},
			},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "checkout", Image: "shop/checkout:1.4.2", RestartCount: 7,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
					Message: "back-off 5m0s restarting failed container=checkout pod=" + name}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 137, Reason: "OOMKilled", StartedAt: at(-3 * time.Minute), FinishedAt: at(-2 * time.Minute)}},
			}},
		},
	}
}

func unstructuredStringMap(obj map[string]any, fields ...string) (map[string]string, bool, error) {
	cur := any(obj)
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		cur = m[f]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, false, nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out, true, nil
}

// requestLog records the paths and queries of a client's requests.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Method+" "+r.URL.RequestURI())
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.reqs...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// client returns a toolset on cfg recording into a fresh recorder, and the
// log of its HTTP requests.
func client(t *testing.T, cfg *rest.Config) (*Client, *toolcall.Recorder, *requestLog) {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	log := &requestLog{}
	cfg.Wrap(log.wrap)
	c, err := NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := toolcall.NewRecorder(0, nil)
	return c.WithRecorder(rec), rec, log
}

// lastCall returns the recorder's last call.
func lastCall(t *testing.T, rec *toolcall.Recorder) toolcall.Call {
	t.Helper()
	calls := rec.Calls()
	if len(calls) == 0 {
		t.Fatal("no call recorded")
	}
	return calls[len(calls)-1]
}
