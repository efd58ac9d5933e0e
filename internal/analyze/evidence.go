// Package analyze provides the deterministic analyzers: pure functions that
// read the evidence an investigation collected (Kubernetes objects and
// events, metric series, log lines) and state what they found, with the tool
// calls that support it, and what they checked when they found nothing.
// Decide ranks the findings into the root cause.
package analyze

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// Evidence is everything an investigation collected. Fields are empty when
// not applicable or not collected; Unchecked says which.
type Evidence struct {
	Now time.Time
	// Alert is the primary alert; Alerts all alerts of the incident.
	Alert  Alert
	Alerts []Alert
	// Target is the object the alert is about; Workload its top controller
	// (the target itself when it has no owner).
	Target   report.Ref
	Workload report.Ref

	Pods         []corev1.Pod
	Events       []corev1.Event
	Deployment   *appsv1.Deployment
	ReplicaSets  []appsv1.ReplicaSet // of the Deployment, oldest revision first
	StatefulSet  *appsv1.StatefulSet
	DaemonSet    *appsv1.DaemonSet
	Jobs         []batchv1.Job
	CronJob      *batchv1.CronJob
	Nodes        []corev1.Node
	PVCs         []corev1.PersistentVolumeClaim
	PVs          []corev1.PersistentVolume // bound to PVCs; node affinity pins a zone
	Quotas       []corev1.ResourceQuota
	HPAs         []autoscalingv2.HorizontalPodAutoscaler
	Services     []corev1.Service
	Endpoints    []corev1.Endpoints
	NetPolicies  []networkingv1.NetworkPolicy
	Dependencies []Dependency // peers on the target's request path
	// Ingresses are those on the alert's request path: the alert's own, or
	// those serving the host a probe alert is about.
	Ingresses []networkingv1.Ingress
	// ProbedHost is the host name of the URL a probe alert is about.
	ProbedHost string
	// DNS is the state of the cluster's DNS, when it was checked.
	DNS *DNSState
	// Webhooks are the admission webhooks that refusals to create pods
	// name, with what serves them.
	Webhooks []Webhook
	// Scrape is who scrapes the alert's targets, for an alert about
	// failing scrapes (TargetDown, up == 0); the up series are
	// Metrics[MetricUp].
	Scrape *ScrapeState
	// Objects holds other objects by "Kind/namespace/name" (certificates...).
	Objects map[string]map[string]any

	// LimitRanges of the target's namespace.
	LimitRanges []corev1.LimitRange
	// ConfigMaps are the ConfigMaps the target's pods read (env, envFrom,
	// volumes), so a value an application rejects can be traced to its key.
	ConfigMaps []corev1.ConfigMap
	// CPUConsumers are the pods using the most CPU on the target's node,
	// busiest first.
	CPUConsumers []Consumer

	// Metrics holds series by purpose (see the Metric* constants).
	Metrics map[string][]Series
	// Logs are log lines of the target's pods, oldest first.
	Logs []LogLine

	// Calls maps an evidence key ("pod/shop/x", "metric/memory",
	// "logs/shop/x") to the tool call IDs that produced it.
	Calls map[string][]string

	Unchecked []report.Unchecked
}

// Alert is the part of an alert the analyzers read.
type Alert struct {
	Name        string
	Status      string
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
}

// Series is one metric series.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Last returns the newest value.
func (s Series) Last() (float64, bool) {
	if len(s.Points) == 0 {
		return 0, false
	}
	return s.Points[len(s.Points)-1].V, true
}

// Max returns the largest value.
func (s Series) Max() (float64, bool) {
	if len(s.Points) == 0 {
		return 0, false
	}
	m := s.Points[0].V
	for _, p := range s.Points[1:] {
		m = max(m, p.V)
	}
	return m, true
}

// LogLine is one log line of a pod.
type LogLine struct {
	Time      time.Time
	Namespace string
	Pod       string
	Container string
	Msg       string
	// Previous marks lines of the previous (crashed) container instance.
	Previous bool
}

// Dependency is a service the target talks to, with its state.
type Dependency struct {
	// Host is the name as it appears in the logs.
	Host    string
	Service report.Ref
	// Workload owns the service's pods, when found.
	Workload report.Ref
	Pods     []corev1.Pod
	// ReadyEndpoints counts ready addresses of the service.
	ReadyEndpoints int
	// Errors are sample log lines that name the host.
	Errors []string
	// Port is the port the client uses, when known.
	Port string
	// Source says how the dependency was found: from failing log lines
	// ("logs"), or the configuration that names it ("env DB_URL of
	// container app").
	Source string
	// Replicas is the desired replica count of Workload, when read.
	Replicas *int32
	// Events are the workload's recent scaling events, rendered.
	Events []string
	// PodErrors are error lines from the logs of an unhealthy pod of it.
	PodErrors []string
	// PodLines are a serving pod's recent lines that say it is out of a
	// resource (disk full), read even when every pod is Ready: a database
	// whose volume is full stays Ready and blocks every write.
	PodLines []string
	// Claims are the volume claims of its pods, with the free ratio of
	// each when measured (kubelet_volume_stats), -1 when not.
	Claims []ClaimUse
}

// ClaimUse is a volume claim of a dependency and how full it is.
type ClaimUse struct {
	Ref report.Ref
	// Pod mounts the claim; Capacity is its size as the claim states it.
	Pod      string
	Capacity string
	// AvailRatio is the free fraction now, -1 when not measured.
	AvailRatio float64
}

// Consumer is a pod using CPU on a node, with the workload that owns it.
type Consumer struct {
	Pod      report.Ref
	Workload report.Ref
	Node     string
	// Cores is the pod's CPU use now; Request and Limit its containers'
	// totals (0 when unset).
	Cores, Request, Limit float64
}

// Metric purposes: the keys of Evidence.Metrics.
const (
	MetricMemoryWorkingSet = "memory_working_set"  // by container, bytes
	MetricMemoryLimit      = "memory_limit"        // by container, bytes
	MetricCPUUsage         = "cpu_usage"           // by container, cores
	MetricCPULimit         = "cpu_limit"           // by container, cores
	MetricCPUThrottled     = "cpu_throttled_ratio" // by container, 0..1
	MetricRestarts         = "restarts"            // increase over the window
	MetricNodeCPU          = "node_cpu_busy"       // by node/instance, 0..1
	MetricFSAvailRatio     = "fs_avail_ratio"      // by instance/mountpoint, 0..1
	MetricFSHoursToFull    = "fs_hours_to_full"    // predict_linear based
	MetricPVCAvailRatio    = "pvc_avail_ratio"     // by persistentvolumeclaim, 0..1
	MetricHTTP5xxRatio     = "http_5xx_ratio"      // by ingress/service
	MetricCertExpiry       = "cert_expiry_seconds" // seconds until expiry
	MetricProbeSuccess     = "probe_success"
	MetricHPA              = "hpa_replicas" // current vs max, by hpa
	MetricNodeLoad         = "node_load1"   // by node/instance
	MetricUp               = "up"           // 1 when the last scrape of a target succeeded, by instance
	// Postgres (postgres_exporter): WAL a replication slot holds back, in
	// bytes, and whether a client is attached to the slot.
	MetricPGSlotRetained = "pg_slot_retained_bytes"
	MetricPGSlotActive   = "pg_slot_active"
	MetricPGDatabaseSize = "pg_database_size_bytes"
)

// Certificates' notAfter as Unix seconds, the last value seen: from the
// blackbox exporter's probe (and x509-certificate-exporter) and from
// cert-manager.
const (
	MetricProbeCertNotAfter       = "probe_cert_not_after"
	MetricCertManagerCertNotAfter = "certmanager_cert_not_after"
)
