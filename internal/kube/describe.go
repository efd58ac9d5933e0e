package kube

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Bounds of renderings.
const (
	// maxDescribeBytes bounds a YAML fallback rendering: objects without a
	// compact renderer can be large (a CRD's status, an Ingress with many
	// rules), and a rendering is read by a person or a model.
	maxDescribeBytes = 16 << 10
	// maxValueBytes bounds one ConfigMap value or message in a rendering.
	maxValueBytes = 256
	// maxEnvValueBytes bounds a literal environment value: enough for
	// JAVA_OPTS=-Xmx... or a URL.
	maxEnvValueBytes = 80
)

// Describe renders an object compactly, in the spirit of kubectl describe:
// Pod, Deployment, Node, PersistentVolumeClaim, Job, ConfigMap (values
// bounded), ResourceQuota, LimitRange, HorizontalPodAutoscaler, pod lists,
// endpoint slices and this package's own results (*Quotas, []Revision,
// []Ref, []corev1.Event). Typed and unstructured objects render alike.
// Anything else renders as YAML without managedFields, bounded to 16 KiB.
// Secrets render as their key names only.
func Describe(obj any) string {
	switch o := obj.(type) {
	case nil:
		return ""
	case *unstructured.Unstructured:
		if typed := toTyped(o); typed != nil {
			return Describe(typed)
		}
		return describeYAML(o)
	case *unstructured.UnstructuredList:
		return describeUnstructuredList(o)
	case *corev1.Pod:
		return describePod(o)
	case *appsv1.Deployment:
		return describeDeployment(o)
	case *corev1.Node:
		return describeNode(o)
	case *corev1.PersistentVolumeClaim:
		return describePVC(o)
	case *batchv1.Job:
		return describeJob(o)
	case *corev1.ConfigMap:
		return describeConfigMap(o)
	case *corev1.Secret:
		return describeSecret(o)
	case *corev1.ResourceQuota:
		return describeQuota(o)
	case *corev1.LimitRange:
		return describeLimitRange(o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return describeHPA(o)
	case *corev1.PodList:
		return describePods(o.Items, o.Continue != "")
	case *discoveryv1.EndpointSliceList:
		return describeEndpointSlices(o)
	case *Quotas:
		return describeQuotas(o)
	case []Revision:
		return describeRevisions(o)
	case []Ref:
		return describeChain(o)
	case []corev1.Event:
		return describeEvents(o)
	case runtime.Object:
		return describeYAML(o)
	}
	return fmt.Sprintf("%v", obj)
}

// typedKinds are the kinds an unstructured object is converted for, to
// render like the typed one.
var typedKinds = map[string]bool{
	"/v1, Kind=Pod": true, "apps/v1, Kind=Deployment": true, "/v1, Kind=Node": true,
	"/v1, Kind=PersistentVolumeClaim": true, "batch/v1, Kind=Job": true, "/v1, Kind=ConfigMap": true,
	"/v1, Kind=Secret": true, "/v1, Kind=ResourceQuota": true, "/v1, Kind=LimitRange": true,
	"autoscaling/v2, Kind=HorizontalPodAutoscaler": true,
}

func toTyped(u *unstructured.Unstructured) runtime.Object {
	gvk := u.GroupVersionKind()
	if !typedKinds[gvk.String()] {
		return nil
	}
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return nil
	}
	return obj
}

// w builds a rendering line by line.
type w struct{ strings.Builder }

// f writes an indented line.
func (b *w) f(indent int, format string, a ...any) {
	b.WriteString(strings.Repeat("  ", indent))
	// Empty last columns would leave trailing blanks.
	b.WriteString(strings.TrimRight(fmt.Sprintf(format, a...), " "))
	b.WriteByte('\n')
}

// kv writes "key: value" unless value is empty.
func (b *w) kv(indent int, key, value string) {
	if value != "" {
		b.f(indent, "%s: %s", key, value)
	}
}

func ts(t metav1.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// clip bounds s to n bytes (on a rune boundary) and puts it on one line.
func clip(s string, n int) string {
	return clipRaw(strings.Join(strings.Fields(s), " "), n)
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

func resourceString(rl corev1.ResourceList) string {
	keys := make([]string, 0, len(rl))
	for k := range rl {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		q := rl[corev1.ResourceName(k)]
		parts[i] = k + "=" + q.String()
	}
	return strings.Join(parts, ", ")
}

func controlledBy(refs []metav1.OwnerReference) string {
	if o := controllerOf(refs); o != nil {
		return o.Kind + " " + o.Name
	}
	return ""
}

func header(kind string, m metav1.ObjectMeta) string {
	s := kind + " " + nsName(m.Namespace, m.Name)
	if m.DeletionTimestamp != nil {
		s += " (terminating since " + ts(*m.DeletionTimestamp) + ")"
	}
	return s
}

// condition renders "Type=Status Reason: message (since T)".
func condition(typ, status, reason, message string, since metav1.Time) string {
	s := typ + "=" + status
	if reason != "" {
		s += " " + reason
	}
	if message != "" {
		s += ": " + clip(message, maxValueBytes)
	}
	if !since.IsZero() {
		s += " (since " + ts(since) + ")"
	}
	return s
}

func describePod(p *corev1.Pod) string {
	var b w
	b.f(0, "%s", header("Pod", p.ObjectMeta))
	b.kv(0, "Node", p.Spec.NodeName)
	b.kv(0, "Phase", string(p.Status.Phase))
	if p.Status.Reason != "" || p.Status.Message != "" {
		b.kv(0, "Reason", strings.TrimSuffix(p.Status.Reason+": "+clip(p.Status.Message, maxValueBytes), ": "))
	}
	b.kv(0, "QoS", string(p.Status.QOSClass))
	b.kv(0, "IP", p.Status.PodIP)
	b.kv(0, "Created", ts(p.CreationTimestamp))
	b.kv(0, "Started", ts(ptrTime(p.Status.StartTime)))
	b.kv(0, "Controlled by", controlledBy(p.OwnerReferences))
	b.kv(0, "Labels", labelString(p.Labels))
	b.kv(0, "Service account", p.Spec.ServiceAccountName)
	b.kv(0, "Priority class", p.Spec.PriorityClassName)
	b.kv(0, "Node selector", labelString(p.Spec.NodeSelector))
	if len(p.Status.Conditions) > 0 {
		b.f(0, "Conditions:")
		for _, c := range p.Status.Conditions {
			b.f(1, "%s", condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime))
		}
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		statuses[cs.Name] = cs
	}
	if len(p.Spec.InitContainers) > 0 {
		b.f(0, "Init containers:")
		for _, c := range p.Spec.InitContainers {
			describeContainer(&b, c, statuses)
		}
	}
	b.f(0, "Containers:")
	for _, c := range p.Spec.Containers {
		describeContainer(&b, c, statuses)
	}
	if len(p.Spec.Volumes) > 0 {
		b.f(0, "Volumes:")
		for _, v := range p.Spec.Volumes {
			b.f(1, "%s: %s", v.Name, volumeSource(v.VolumeSource))
		}
	}
	return b.String()
}

func ptrTime(t *metav1.Time) metav1.Time {
	if t == nil {
		return metav1.Time{}
	}
	return *t
}

func describeContainer(b *w, c corev1.Container, statuses map[string]corev1.ContainerStatus) {
	b.f(1, "%s:", c.Name)
	b.kv(2, "Image", c.Image)
	if s, ok := statuses[c.Name]; ok {
		if s.ImageID != "" && !strings.HasSuffix(s.Image, s.ImageID) {
			b.kv(2, "Image ID", s.ImageID)
		}
		b.kv(2, "State", stateString(s.State))
		b.kv(2, "Last state", stateString(s.LastTerminationState))
		b.f(2, "Ready: %t, restarts: %d", s.Ready, s.RestartCount)
	}
	b.kv(2, "Requests", resourceString(c.Resources.Requests))
	b.kv(2, "Limits", resourceString(c.Resources.Limits))
	b.kv(2, "Liveness", probeString(c.LivenessProbe))
	b.kv(2, "Readiness", probeString(c.ReadinessProbe))
	b.kv(2, "Startup", probeString(c.StartupProbe))
	var from []string
	for _, e := range c.EnvFrom {
		switch {
		case e.ConfigMapRef != nil:
			from = append(from, "ConfigMap "+e.ConfigMapRef.Name+optional(e.ConfigMapRef.Optional))
		case e.SecretRef != nil:
			from = append(from, "Secret "+e.SecretRef.Name+optional(e.SecretRef.Optional))
		}
	}
	b.kv(2, "Env from", strings.Join(from, "; "))
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name+"="+envValue(e))
	}
	b.kv(2, "Env", strings.Join(env, "; "))
	var mounts []string
	for _, m := range c.VolumeMounts {
		s := m.Name + " -> " + m.MountPath
		if m.SubPath != "" {
			s += " (subPath " + m.SubPath + ")"
		}
		if m.ReadOnly {
			s += " (ro)"
		}
		mounts = append(mounts, s)
	}
	b.kv(2, "Mounts", strings.Join(mounts, "; "))
}

func optional(o *bool) string {
	if o != nil && *o {
		return " (optional)"
	}
	return ""
}

// secretLikeEnv matches environment names whose literal values are
// withheld: credentials written inline in a pod spec instead of a Secret
// reference should not travel on into reports and prompts.
var secretLikeEnv = regexp.MustCompile(`(?i)pass|secret|token|key|credential|auth`)

func envValue(e corev1.EnvVar) string {
	if vf := e.ValueFrom; vf != nil {
		switch {
		case vf.SecretKeyRef != nil:
			return "<Secret " + vf.SecretKeyRef.Name + " key " + vf.SecretKeyRef.Key + optional(vf.SecretKeyRef.Optional) + ">"
		case vf.ConfigMapKeyRef != nil:
			return "<ConfigMap " + vf.ConfigMapKeyRef.Name + " key " + vf.ConfigMapKeyRef.Key + optional(vf.ConfigMapKeyRef.Optional) + ">"
		case vf.FieldRef != nil:
			return "<field " + vf.FieldRef.FieldPath + ">"
		case vf.ResourceFieldRef != nil:
			return "<resource " + vf.ResourceFieldRef.Resource + ">"
		}
		return "<valueFrom>"
	}
	if secretLikeEnv.MatchString(e.Name) && e.Value != "" {
		return "<literal, withheld>"
	}
	return strconv.Quote(clip(e.Value, maxEnvValueBytes))
}

func stateString(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "Running since " + ts(s.Running.StartedAt)
	case s.Waiting != nil:
		out := "Waiting"
		if s.Waiting.Reason != "" {
			out += " (" + s.Waiting.Reason + ")"
		}
		if s.Waiting.Message != "" {
			out += ": " + clip(s.Waiting.Message, maxValueBytes)
		}
		return out
	case s.Terminated != nil:
		t := s.Terminated
		out := "Terminated"
		if t.Reason != "" {
			out += " (" + t.Reason + ")"
		}
		out += fmt.Sprintf(", exit code %d", t.ExitCode)
		if t.Signal != 0 {
			out += fmt.Sprintf(", signal %d", t.Signal)
		}
		if !t.StartedAt.IsZero() {
			out += ", started " + ts(t.StartedAt)
		}
		if !t.FinishedAt.IsZero() {
			out += ", finished " + ts(t.FinishedAt)
		}
		if t.Message != "" {
			out += ": " + clip(t.Message, maxValueBytes)
		}
		return out
	}
	return ""
}

func probeString(p *corev1.Probe) string {
	if p == nil {
		return ""
	}
	var s string
	switch h := p.ProbeHandler; {
	case h.HTTPGet != nil:
		scheme := strings.ToLower(string(h.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		s = fmt.Sprintf("http-get %s://%s:%s%s", scheme, h.HTTPGet.Host, portString(h.HTTPGet.Port), h.HTTPGet.Path)
	case h.TCPSocket != nil:
		s = fmt.Sprintf("tcp-socket %s:%s", h.TCPSocket.Host, portString(h.TCPSocket.Port))
	case h.Exec != nil:
		s = "exec " + clip(strings.Join(h.Exec.Command, " "), maxValueBytes)
	case h.GRPC != nil:
		s = fmt.Sprintf("grpc :%d", h.GRPC.Port)
		if h.GRPC.Service != nil && *h.GRPC.Service != "" {
			s += " " + *h.GRPC.Service
		}
	default:
		s = "unknown"
	}
	return s + fmt.Sprintf(" delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold)
}

func portString(p intstr.IntOrString) string { return p.String() }

func volumeSource(v corev1.VolumeSource) string {
	switch {
	case v.PersistentVolumeClaim != nil:
		s := "PVC " + v.PersistentVolumeClaim.ClaimName
		if v.PersistentVolumeClaim.ReadOnly {
			s += " (ro)"
		}
		return s
	case v.ConfigMap != nil:
		return "ConfigMap " + v.ConfigMap.Name + keyPaths(v.ConfigMap.Items) + optional(v.ConfigMap.Optional)
	case v.Secret != nil:
		return "Secret " + v.Secret.SecretName + keyPaths(v.Secret.Items) + optional(v.Secret.Optional)
	case v.EmptyDir != nil:
		s := "EmptyDir"
		if v.EmptyDir.Medium != "" {
			s += " (medium " + string(v.EmptyDir.Medium) + ")"
		}
		if v.EmptyDir.SizeLimit != nil {
			s += " (limit " + v.EmptyDir.SizeLimit.String() + ")"
		}
		return s
	case v.HostPath != nil:
		return "HostPath " + v.HostPath.Path
	case v.Projected != nil:
		var parts []string
		for _, src := range v.Projected.Sources {
			switch {
			case src.ServiceAccountToken != nil:
				parts = append(parts, "ServiceAccountToken")
			case src.ConfigMap != nil:
				parts = append(parts, "ConfigMap "+src.ConfigMap.Name+keyPaths(src.ConfigMap.Items))
			case src.Secret != nil:
				parts = append(parts, "Secret "+src.Secret.Name+keyPaths(src.Secret.Items))
			case src.DownwardAPI != nil:
				parts = append(parts, "DownwardAPI")
			default:
				parts = append(parts, "other")
			}
		}
		return "Projected (" + strings.Join(parts, ", ") + ")"
	case v.DownwardAPI != nil:
		return "DownwardAPI"
	case v.CSI != nil:
		return "CSI " + v.CSI.Driver
	case v.Ephemeral != nil:
		return "Ephemeral PVC template"
	case v.NFS != nil:
		return "NFS " + v.NFS.Server + ":" + v.NFS.Path
	}
	return "other"
}

// keyPaths names the keys a volume projects (names only, never values).
func keyPaths(items []corev1.KeyToPath) string {
	if len(items) == 0 {
		return ""
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	return " (keys " + strings.Join(keys, ", ") + ")"
}

func describeDeployment(d *appsv1.Deployment) string {
	var b w
	b.f(0, "%s", header("Deployment", d.ObjectMeta))
	b.kv(0, "Created", ts(d.CreationTimestamp))
	b.kv(0, "Revision", d.Annotations[revisionAnnotation])
	if d.Spec.Selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			b.kv(0, "Selector", sel.String())
		}
	}
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	s := d.Status
	b.f(0, "Replicas: %d desired | %d updated | %d total | %d ready | %d available | %d unavailable",
		desired, s.UpdatedReplicas, s.Replicas, s.ReadyReplicas, s.AvailableReplicas, s.UnavailableReplicas)
	strategy := string(d.Spec.Strategy.Type)
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		strategy += fmt.Sprintf(" (max surge %s, max unavailable %s)", intOrStringPtr(ru.MaxSurge), intOrStringPtr(ru.MaxUnavailable))
	}
	b.kv(0, "Strategy", strategy)
	if d.Spec.Paused {
		b.f(0, "Paused: true")
	}
	b.f(0, "Containers:")
	for _, c := range d.Spec.Template.Spec.Containers {
		b.f(1, "%s: %s", c.Name, c.Image)
		b.kv(2, "Requests", resourceString(c.Resources.Requests))
		b.kv(2, "Limits", resourceString(c.Resources.Limits))
	}
	if len(s.Conditions) > 0 {
		b.f(0, "Conditions:")
		for _, c := range s.Conditions {
			b.f(1, "%s", condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime))
		}
	}
	return b.String()
}

func intOrStringPtr(v *intstr.IntOrString) string {
	if v == nil {
		return "default"
	}
	return v.String()
}

func describeNode(n *corev1.Node) string {
	var b w
	b.f(0, "%s", header("Node", n.ObjectMeta))
	b.kv(0, "Created", ts(n.CreationTimestamp))
	var roles []string
	for k := range n.Labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok {
			roles = append(roles, r)
		}
	}
	sort.Strings(roles)
	b.kv(0, "Roles", strings.Join(roles, ", "))
	var addrs []string
	for _, a := range n.Status.Addresses {
		addrs = append(addrs, string(a.Type)+"="+a.Address)
	}
	b.kv(0, "Addresses", strings.Join(addrs, ", "))
	if i := n.Status.NodeInfo; i.KubeletVersion != "" {
		b.kv(0, "Kubelet", strings.Join(nonEmpty(i.KubeletVersion, i.OSImage, i.ContainerRuntimeVersion), ", "))
	}
	b.kv(0, "Instance type", n.Labels["node.kubernetes.io/instance-type"])
	b.kv(0, "Zone", n.Labels["topology.kubernetes.io/zone"])
	if n.Spec.Unschedulable {
		b.f(0, "Unschedulable: true (cordoned)")
	}
	var taints []string
	for _, t := range n.Spec.Taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		taints = append(taints, s+":"+string(t.Effect))
	}
	b.kv(0, "Taints", strings.Join(taints, ", "))
	if len(n.Status.Conditions) > 0 {
		b.f(0, "Conditions:")
		for _, c := range n.Status.Conditions {
			s := condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime)
			if !c.LastHeartbeatTime.IsZero() {
				s += " (heartbeat " + ts(c.LastHeartbeatTime) + ")"
			}
			b.f(1, "%s", s)
		}
	}
	b.kv(0, "Capacity", resourceString(n.Status.Capacity))
	b.kv(0, "Allocatable", resourceString(n.Status.Allocatable))
	return b.String()
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func describePVC(p *corev1.PersistentVolumeClaim) string {
	var b w
	b.f(0, "%s", header("PersistentVolumeClaim", p.ObjectMeta))
	b.kv(0, "Status", string(p.Status.Phase))
	sc := "<none>"
	if p.Spec.StorageClassName != nil {
		sc = *p.Spec.StorageClassName
	}
	b.kv(0, "Storage class", sc)
	b.kv(0, "Volume", p.Spec.VolumeName)
	b.kv(0, "Requested", resourceString(p.Spec.Resources.Requests))
	b.kv(0, "Capacity", resourceString(p.Status.Capacity))
	var modes []string
	for _, m := range p.Spec.AccessModes {
		modes = append(modes, string(m))
	}
	b.kv(0, "Access modes", strings.Join(modes, ", "))
	if p.Spec.VolumeMode != nil {
		b.kv(0, "Volume mode", string(*p.Spec.VolumeMode))
	}
	b.kv(0, "Created", ts(p.CreationTimestamp))
	if len(p.Status.Conditions) > 0 {
		b.f(0, "Conditions:")
		for _, c := range p.Status.Conditions {
			b.f(1, "%s", condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime))
		}
	}
	return b.String()
}

func describeJob(j *batchv1.Job) string {
	var b w
	b.f(0, "%s", header("Job", j.ObjectMeta))
	b.kv(0, "Controlled by", controlledBy(j.OwnerReferences))
	b.kv(0, "Created", ts(j.CreationTimestamp))
	b.kv(0, "Started", ts(ptrTime(j.Status.StartTime)))
	b.kv(0, "Completed", ts(ptrTime(j.Status.CompletionTime)))
	spec := []string{}
	if j.Spec.Completions != nil {
		spec = append(spec, fmt.Sprintf("completions %d", *j.Spec.Completions))
	}
	if j.Spec.Parallelism != nil {
		spec = append(spec, fmt.Sprintf("parallelism %d", *j.Spec.Parallelism))
	}
	if j.Spec.BackoffLimit != nil {
		spec = append(spec, fmt.Sprintf("backoff limit %d", *j.Spec.BackoffLimit))
	}
	if j.Spec.ActiveDeadlineSeconds != nil {
		spec = append(spec, fmt.Sprintf("active deadline %ds", *j.Spec.ActiveDeadlineSeconds))
	}
	b.kv(0, "Spec", strings.Join(spec, ", "))
	ready := int32(0)
	if j.Status.Ready != nil {
		ready = *j.Status.Ready
	}
	b.f(0, "Pods: %d active (%d ready) | %d succeeded | %d failed", j.Status.Active, ready, j.Status.Succeeded, j.Status.Failed)
	b.f(0, "Containers:")
	for _, c := range j.Spec.Template.Spec.Containers {
		b.f(1, "%s: %s", c.Name, c.Image)
	}
	if len(j.Status.Conditions) > 0 {
		b.f(0, "Conditions:")
		for _, c := range j.Status.Conditions {
			b.f(1, "%s", condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime))
		}
	}
	return b.String()
}

func describeConfigMap(cm *corev1.ConfigMap) string {
	var b w
	b.f(0, "%s", header("ConfigMap", cm.ObjectMeta))
	b.kv(0, "Created", ts(cm.CreationTimestamp))
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.f(0, "Data (%d keys, values cut at %d bytes):", len(keys), maxValueBytes)
	for _, k := range keys {
		v := cm.Data[k]
		b.f(1, "%s (%d bytes): %s", k, len(v), strconv.Quote(clipRaw(v, maxValueBytes)))
	}
	if len(cm.BinaryData) > 0 {
		keys = keys[:0]
		for k := range cm.BinaryData {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.f(0, "Binary data:")
		for _, k := range keys {
			b.f(1, "%s (%d bytes)", k, len(cm.BinaryData[k]))
		}
	}
	return b.String()
}

// clipRaw is clip without joining lines: a config file stays readable.
func clipRaw(s string, n int) string {
	if c, cut := toolcall.Truncate(s, n); cut {
		return c + "..."
	}
	return s
}

// describeSecret names keys only: Describe must be safe on any object, and
// a Secret's values never leave the cluster through sleuth.
func describeSecret(s *corev1.Secret) string {
	keys := make([]string, 0, len(s.Data)+len(s.StringData))
	for k := range s.Data {
		keys = append(keys, k)
	}
	for k := range s.StringData {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Sprintf("Secret %s\nType: %s\nKeys: %s (values never shown)\n", nsName(s.Namespace, s.Name), s.Type, strings.Join(keys, ", "))
}

func describeQuota(q *corev1.ResourceQuota) string {
	var b w
	b.f(0, "%s", header("ResourceQuota", q.ObjectMeta))
	var scopes []string
	for _, s := range q.Spec.Scopes {
		scopes = append(scopes, string(s))
	}
	b.kv(1, "Scopes", strings.Join(scopes, ", "))
	hard := q.Status.Hard
	if len(hard) == 0 {
		hard = q.Spec.Hard
	}
	names := make([]string, 0, len(hard))
	for k := range hard {
		names = append(names, string(k))
	}
	sort.Strings(names)
	for _, n := range names {
		h := hard[corev1.ResourceName(n)]
		line := fmt.Sprintf("%s: hard %s", n, h.String())
		if u, ok := q.Status.Used[corev1.ResourceName(n)]; ok {
			line = fmt.Sprintf("%s: used %s / hard %s", n, u.String(), h.String())
			if u.Cmp(h) >= 0 {
				line += " (at limit)"
			}
		}
		b.f(1, "%s", line)
	}
	return b.String()
}

func describeLimitRange(l *corev1.LimitRange) string {
	var b w
	b.f(0, "%s", header("LimitRange", l.ObjectMeta))
	for _, it := range l.Spec.Limits {
		parts := nonEmpty(
			prefixed("min ", resourceString(it.Min)),
			prefixed("max ", resourceString(it.Max)),
			prefixed("default limit ", resourceString(it.Default)),
			prefixed("default request ", resourceString(it.DefaultRequest)),
			prefixed("max limit/request ", resourceString(it.MaxLimitRequestRatio)),
		)
		b.f(1, "%s: %s", it.Type, strings.Join(parts, "; "))
	}
	return b.String()
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func describeQuotas(q *Quotas) string {
	if len(q.ResourceQuotas)+len(q.LimitRanges) == 0 {
		return "No ResourceQuota or LimitRange in namespace " + q.Namespace + ".\n"
	}
	var b strings.Builder
	for i := range q.ResourceQuotas {
		b.WriteString(describeQuota(&q.ResourceQuotas[i]))
	}
	for i := range q.LimitRanges {
		b.WriteString(describeLimitRange(&q.LimitRanges[i]))
	}
	return b.String()
}

func describeHPA(h *autoscalingv2.HorizontalPodAutoscaler) string {
	var b w
	b.f(0, "%s", header("HorizontalPodAutoscaler", h.ObjectMeta))
	b.kv(0, "Target", h.Spec.ScaleTargetRef.Kind+" "+h.Spec.ScaleTargetRef.Name)
	minR := int32(1)
	if h.Spec.MinReplicas != nil {
		minR = *h.Spec.MinReplicas
	}
	b.f(0, "Replicas: min %d | max %d | current %d | desired %d", minR, h.Spec.MaxReplicas, h.Status.CurrentReplicas, h.Status.DesiredReplicas)
	if h.Status.CurrentReplicas >= h.Spec.MaxReplicas && h.Spec.MaxReplicas > 0 {
		b.f(0, "At max replicas: true")
	}
	b.kv(0, "Last scale", ts(ptrTime(h.Status.LastScaleTime)))
	if len(h.Spec.Metrics) > 0 {
		b.f(0, "Metrics:")
		for i, m := range h.Spec.Metrics {
			cur := "<unknown>"
			if i < len(h.Status.CurrentMetrics) {
				cur = metricValue(h.Status.CurrentMetrics[i])
			}
			b.f(1, "%s: current %s / target %s", metricName(m), cur, metricTarget(m))
		}
	}
	if len(h.Status.Conditions) > 0 {
		b.f(0, "Conditions:")
		for _, c := range h.Status.Conditions {
			b.f(1, "%s", condition(string(c.Type), string(c.Status), c.Reason, c.Message, c.LastTransitionTime))
		}
	}
	return b.String()
}

func metricName(m autoscalingv2.MetricSpec) string {
	switch {
	case m.Resource != nil:
		return "resource " + string(m.Resource.Name)
	case m.ContainerResource != nil:
		return "container " + m.ContainerResource.Container + " resource " + string(m.ContainerResource.Name)
	case m.Pods != nil:
		return "pods metric " + m.Pods.Metric.Name
	case m.Object != nil:
		return "object " + m.Object.DescribedObject.Kind + "/" + m.Object.DescribedObject.Name + " metric " + m.Object.Metric.Name
	case m.External != nil:
		return "external metric " + m.External.Metric.Name
	}
	return string(m.Type)
}

func metricTarget(m autoscalingv2.MetricSpec) string {
	var t autoscalingv2.MetricTarget
	switch {
	case m.Resource != nil:
		t = m.Resource.Target
	case m.ContainerResource != nil:
		t = m.ContainerResource.Target
	case m.Pods != nil:
		t = m.Pods.Target
	case m.Object != nil:
		t = m.Object.Target
	case m.External != nil:
		t = m.External.Target
	}
	switch {
	case t.AverageUtilization != nil:
		return fmt.Sprintf("%d%% utilization", *t.AverageUtilization)
	case t.AverageValue != nil:
		return t.AverageValue.String() + " average"
	case t.Value != nil:
		return t.Value.String()
	}
	return "<unset>"
}

func metricValue(s autoscalingv2.MetricStatus) string {
	var v autoscalingv2.MetricValueStatus
	switch {
	case s.Resource != nil:
		v = s.Resource.Current
	case s.ContainerResource != nil:
		v = s.ContainerResource.Current
	case s.Pods != nil:
		v = s.Pods.Current
	case s.Object != nil:
		v = s.Object.Current
	case s.External != nil:
		v = s.External.Current
	}
	switch {
	case v.AverageUtilization != nil:
		return fmt.Sprintf("%d%%", *v.AverageUtilization)
	case v.AverageValue != nil:
		return v.AverageValue.String()
	case v.Value != nil:
		return v.Value.String()
	}
	return "<unknown>"
}

// PodStatus is the one-word state kubectl get pods shows: a container's
// waiting or terminated reason (CrashLoopBackOff, OOMKilled,
// ImagePullBackOff) before the pod's phase.
func PodStatus(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	if p.Status.Reason != "" {
		return p.Status.Reason
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
			return "Init:" + w.Reason
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return "Init:" + t.Reason
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return w.Reason
		}
		if t := cs.State.Terminated; t != nil && t.Reason != "" {
			return t.Reason
		}
	}
	if p.Status.Phase == "" {
		return "Unknown"
	}
	return string(p.Status.Phase)
}

func describePods(pods []corev1.Pod, truncated bool) string {
	if len(pods) == 0 {
		return "No pods.\n"
	}
	var b w
	b.f(0, "NAMESPACE/NAME  READY  STATUS  RESTARTS  NODE  LAST-TERMINATION")
	for i := range pods {
		p := &pods[i]
		ready, restarts := 0, int32(0)
		last := ""
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
			restarts += cs.RestartCount
			if t := cs.LastTerminationState.Terminated; t != nil && last == "" {
				last = fmt.Sprintf("%s %s exit %d at %s", cs.Name, t.Reason, t.ExitCode, ts(t.FinishedAt))
			}
		}
		node := p.Spec.NodeName
		if node == "" {
			node = "<none>"
		}
		b.f(0, "%s  %d/%d  %s  %d  %s  %s", nsName(p.Namespace, p.Name), ready, len(p.Spec.Containers), PodStatus(p), restarts, node, last)
	}
	if truncated {
		b.f(0, "(more pods not listed)")
	}
	return b.String()
}

func describeEndpointSlices(l *discoveryv1.EndpointSliceList) string {
	if len(l.Items) == 0 {
		return "No endpoint slices.\n"
	}
	var b w
	for _, s := range l.Items {
		var ports []string
		for _, p := range s.Ports {
			port := ""
			if p.Port != nil {
				port = strconv.Itoa(int(*p.Port))
			}
			name := ""
			if p.Name != nil && *p.Name != "" {
				name = *p.Name + "="
			}
			ports = append(ports, name+port)
		}
		b.f(0, "EndpointSlice %s (%s) ports %s:", nsName(s.Namespace, s.Name), s.AddressType, strings.Join(ports, ", "))
		if len(s.Endpoints) == 0 {
			b.f(1, "no endpoints")
		}
		for _, e := range s.Endpoints {
			ready := "ready"
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				ready = "not ready"
			}
			target := ""
			if e.TargetRef != nil {
				target = " " + e.TargetRef.Kind + " " + e.TargetRef.Name
			}
			node := ""
			if e.NodeName != nil {
				node = " on " + *e.NodeName
			}
			b.f(1, "%s %s%s%s", strings.Join(e.Addresses, ","), ready, target, node)
		}
	}
	return b.String()
}

func describeEvents(events []corev1.Event) string {
	if len(events) == 0 {
		return "No events.\n"
	}
	var b w
	for i := range events {
		e := &events[i]
		count := ""
		if e.Count > 1 {
			count = fmt.Sprintf(" (x%d)", e.Count)
		} else if e.Series != nil && e.Series.Count > 1 {
			count = fmt.Sprintf(" (x%d)", e.Series.Count)
		}
		b.f(0, "%s %s %s %s/%s%s: %s", EventTime(e).UTC().Format(time.RFC3339), e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, count, clip(e.Message, maxValueBytes))
	}
	return b.String()
}

func describeRevisions(revs []Revision) string {
	if len(revs) == 0 {
		return "No ReplicaSets.\n"
	}
	var b w
	b.f(0, "REVISION  REPLICASET  DESIRED  READY  CREATED  IMAGES  CHANGE-CAUSE")
	for _, r := range revs {
		rev := strconv.FormatInt(r.Revision, 10)
		if r.Current {
			rev += " (current)"
		}
		b.f(0, "%s  %s  %d  %d/%d  %s  %s  %s", rev, r.ReplicaSet, r.Desired, r.Ready, r.Replicas,
			r.Created.UTC().Format(time.RFC3339), strings.Join(r.Images, ","), r.ChangeCause)
	}
	return b.String()
}

func describeChain(chain []Ref) string {
	parts := make([]string, len(chain))
	for i, r := range chain {
		parts[i] = r.String()
	}
	return strings.Join(parts, " -> ") + "\n"
}

func describeUnstructuredList(l *unstructured.UnstructuredList) string {
	if len(l.Items) == 0 {
		return "No objects.\n"
	}
	if l.GetKind() == "PodList" {
		pods := make([]corev1.Pod, 0, len(l.Items))
		for i := range l.Items {
			var p corev1.Pod
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[i].Object, &p); err == nil {
				pods = append(pods, p)
			}
		}
		return describePods(pods, l.GetContinue() != "")
	}
	var b w
	for i := range l.Items {
		it := &l.Items[i]
		line := it.GetKind() + " " + nsName(it.GetNamespace(), it.GetName()) + " created " + ts(it.GetCreationTimestamp())
		if phase, ok, _ := unstructured.NestedString(it.Object, "status", "phase"); ok {
			line += " phase " + phase
		}
		if ready := readyCondition(it); ready != "" {
			line += " " + ready
		}
		b.f(0, "%s", line)
	}
	if l.GetContinue() != "" {
		b.f(0, "(more objects not listed)")
	}
	return b.String()
}

// readyCondition renders a Ready condition, which most CRDs (cert-manager
// Certificates, Flux and Argo objects) keep in status.conditions.
func readyCondition(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			s := fmt.Sprintf("Ready=%v", m["status"])
			if r, ok := m["reason"].(string); ok && r != "" {
				s += " " + r
			}
			return s
		}
	}
	return ""
}

// describeYAML renders any object as YAML without the noise an
// investigation never needs (managedFields, last-applied annotations),
// bounded to maxDescribeBytes.
func describeYAML(obj runtime.Object) string {
	var m map[string]any
	if u, ok := obj.(*unstructured.Unstructured); ok {
		m = u.DeepCopy().Object
	} else {
		var err error
		if m, err = runtime.DefaultUnstructuredConverter.ToUnstructured(obj); err != nil {
			return fmt.Sprintf("<%T: %v>", obj, err)
		}
		if gvks, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
			m["apiVersion"], m["kind"] = gvks[0].GroupVersion().String(), gvks[0].Kind
		}
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return fmt.Sprintf("<%T: %v>", obj, err)
	}
	s, cut := toolcall.Truncate(string(out), maxDescribeBytes)
	if cut {
		s += fmt.Sprintf("\n... (%d of %d bytes shown)\n", len(s), len(out))
	}
	return s
}
