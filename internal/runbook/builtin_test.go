package runbook

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/google/go-cmp/cmp"
)

func builtin(t *testing.T) *Set {
	t.Helper()
	set, errs := Builtin()
	if len(errs) > 0 {
		t.Fatalf("builtin runbooks do not load:\n%v", errs)
	}
	return set
}

func TestBuiltinLoads(t *testing.T) {
	set := builtin(t)
	if len(set.Files()) < 5 || set.Len() < 25 {
		t.Fatalf("builtin: %d files, %d runbooks; the embed lost files", len(set.Files()), set.Len())
	}
	for _, r := range set.Runbooks() {
		if r.Kind != Native {
			t.Errorf("%s:%d: shipped runbooks are native, with steps", r.Source, r.Line)
		}
		if len(r.Categories) == 0 {
			t.Errorf("%s (%s:%d) has no category", r.Name, r.Source, r.Line)
		}
		if len(r.Steps) == 0 {
			t.Errorf("%s (%s:%d) has no steps", r.Name, r.Source, r.Line)
		}
		if !strings.HasPrefix(r.Source, "builtin/") {
			t.Errorf("%s: source %q", r.Name, r.Source)
		}
	}
}

// TestBuiltinCategories: every category of the taxonomy has a runbook.
func TestBuiltinCategories(t *testing.T) {
	covered := map[string][]string{}
	for _, r := range builtin(t).Runbooks() {
		for _, c := range r.Categories {
			covered[c] = append(covered[c], r.Name)
		}
	}
	for _, c := range Categories() {
		if len(covered[c]) == 0 {
			t.Errorf("no shipped runbook is about %s", c)
		}
	}
	if len(Categories()) != 18 {
		t.Errorf("the taxonomy has %d categories besides none and unknown, want 18", len(Categories()))
	}
}

// TestBuiltinMatches: the standard alerts, with the labels their rules
// produce, get the runbooks meant for them, and every step of those
// runbooks renders for them.
func TestBuiltinMatches(t *testing.T) {
	set := builtin(t)
	shopPod := map[string]string{"namespace": "shop", "pod": "checkout-7d4b9c-9xk2p", "container": "app", "job": "kube-state-metrics", "severity": "warning"}
	deploy := Object{Kind: "Deployment", Namespace: "shop", Name: "checkout"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		alert  string
		labels map[string]string
		target Object
		want   []string
	}{
		{"KubePodCrashLooping", shopPod, deploy, []string{"crash-loop", "config-error", "probe-failure"}},
		{"KubePodCrashLooping", with(shopPod, "namespace", "llm-proxy", "pod", "llm-proxy-5f6d7c8b9-abcde"), Object{Kind: "Deployment", Namespace: "llm-proxy", Name: "llm-proxy"},
			[]string{"llm-proxy", "crash-loop", "config-error", "probe-failure"}},
		{"KubePodNotReady", map[string]string{"namespace": "shop", "pod": "checkout-7d4b9c-9xk2p"}, deploy,
			[]string{"image-pull", "config-error", "pod-pending", "volume-not-mounted"}},
		{"KubeContainerWaiting", with(shopPod, "reason", "ImagePullBackOff"), deploy, []string{"image-pull"}},
		{"KubeContainerWaiting", with(shopPod, "reason", "CreateContainerConfigError"), deploy, []string{"config-error"}},
		{"KubeContainerWaiting", with(shopPod, "reason", "ContainerCreating"), deploy, []string{"volume-not-mounted"}},
		{"KubeContainerOOMKilled", shopPod, deploy, []string{"oom-killed"}},
		{"ContainerOOMKilled", shopPod, deploy, []string{"oom-killed"}},
		{"KubernetesContainerOomKiller", shopPod, deploy, []string{"oom-killed"}},
		{"HostOomKillDetected", map[string]string{"instance": "10.0.0.5:9100"}, Object{}, nil},
		{"KubeDeploymentReplicasMismatch", map[string]string{"namespace": "shop", "deployment": "checkout"}, deploy,
			[]string{"deployment-replicas-mismatch", "probe-failure"}},
		{"KubeDeploymentRolloutStuck", map[string]string{"namespace": "shop", "deployment": "checkout", "condition": "Progressing"}, deploy, []string{"rollout-stuck"}},
		{"KubeStatefulSetReplicasMismatch", map[string]string{"namespace": "db", "statefulset": "postgres"}, Object{Kind: "StatefulSet", Namespace: "db", Name: "postgres"}, []string{"probe-failure"}},
		{"KubeJobFailed", map[string]string{"namespace": "batch", "job_name": "report-29012345"}, Object{Kind: "CronJob", Namespace: "batch", Name: "report"}, []string{"job-failed"}},
		{"KubeJobNotCompleted", map[string]string{"namespace": "batch", "job_name": "report-29012345"}, Object{Kind: "CronJob", Namespace: "batch", Name: "report"}, []string{"job-failed"}},
		{"KubePersistentVolumeFillingUp", map[string]string{"namespace": "db", "persistentvolumeclaim": "data-postgres-0"}, Object{Kind: "PersistentVolumeClaim", Namespace: "db", Name: "data-postgres-0"}, []string{"pvc-filling-up"}},
		{"KubePersistentVolumeErrors", map[string]string{"persistentvolume": "pvc-0a1b", "phase": "Failed"}, Object{Kind: "PersistentVolume", Name: "pvc-0a1b"}, []string{"persistent-volume-errors"}},
		{"KubeNodeNotReady", map[string]string{"node": "worker-2"}, Object{Kind: "Node", Name: "worker-2"}, []string{"node-not-ready"}},
		{"KubeNodeUnreachable", map[string]string{"node": "worker-2", "key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}, Object{Kind: "Node", Name: "worker-2"}, []string{"node-not-ready"}},
		{"KubeNodePressure", map[string]string{"node": "worker-2", "condition": "DiskPressure"}, Object{Kind: "Node", Name: "worker-2"}, []string{"node-disk-pressure"}},
		{"KubeNodePressure", map[string]string{"node": "worker-2", "condition": "MemoryPressure"}, Object{Kind: "Node", Name: "worker-2"}, nil},
		{"KubeletTooManyPods", map[string]string{"node": "worker-2"}, Object{Kind: "Node", Name: "worker-2"}, []string{"kubelet-too-many-pods"}},
		{"KubeQuotaExceeded", map[string]string{"namespace": "shop", "resourcequota": "compute", "resource": "requests.cpu"}, Object{Kind: "ResourceQuota", Namespace: "shop", Name: "compute"}, []string{"quota-exceeded"}},
		{"KubeQuotaFullyUsed", map[string]string{"namespace": "shop", "resourcequota": "compute", "resource": "pods"}, Object{Kind: "ResourceQuota", Namespace: "shop", Name: "compute"}, []string{"quota-exceeded"}},
		{"KubeHpaMaxedOut", map[string]string{"namespace": "shop", "horizontalpodautoscaler": "checkout"}, deploy, []string{"hpa-maxed-out"}},
		{"CPUThrottlingHigh", shopPod, deploy, []string{"cpu-throttling"}},
		{"ContainerHighCpuUtilization", shopPod, deploy, []string{"container-high-cpu"}},
		{"KubeCPUOvercommit", map[string]string{}, Object{}, []string{"cpu-overcommit"}},
		{"NodeFilesystemSpaceFillingUp", map[string]string{"instance": "10.0.0.5:9100", "device": "/dev/sda1", "mountpoint": "/", "fstype": "ext4"}, Object{Kind: "Node", Name: "worker-2"}, []string{"node-filesystem"}},
		{"NodeFilesystemAlmostOutOfSpace", map[string]string{"instance": "10.0.0.5:9100", "device": "/dev/sda1", "mountpoint": "/var/lib/containerd", "fstype": "ext4"}, Object{Kind: "Node", Name: "worker-2"}, []string{"node-filesystem"}},
		{"NodeHighCPU", map[string]string{"instance": "10.0.0.5:9100"}, Object{Kind: "Node", Name: "worker-2"}, []string{"node-high-cpu"}},
		{"NodeCPUHighUsage", map[string]string{"instance": "10.0.0.5:9100"}, Object{Kind: "Node", Name: "worker-2"}, []string{"node-high-cpu"}},
		{"TargetDown", map[string]string{"job": "checkout", "namespace": "shop", "service": "checkout"}, deploy, []string{"target-down", "network-policy"}},
		{"BlackboxProbeFailed", map[string]string{"instance": "https://shop.example.com", "job": "blackbox", "namespace": "monitoring"}, Object{}, []string{"blackbox-probe-failed", "network-policy"}},
		{"BlackboxSslCertificateWillExpireSoon", map[string]string{"instance": "https://shop.example.com", "job": "blackbox"}, Object{}, []string{"certificate-expiry-probe"}},
		{"CertManagerCertExpirySoon", map[string]string{"name": "shop-tls", "namespace": "cert-manager", "exported_namespace": "shop"}, Object{Kind: "Certificate", Namespace: "shop", Name: "shop-tls"}, []string{"certificate-expiry-cert-manager"}},
		{"CertManagerCertNotReady", map[string]string{"name": "shop-tls", "namespace": "shop"}, Object{Kind: "Certificate", Namespace: "shop", Name: "shop-tls"}, []string{"certificate-expiry-cert-manager"}},
		{"NginxIngressHigh5xxRate", map[string]string{"ingress": "shop", "exported_namespace": "shop", "namespace": "ingress-nginx"}, deploy, []string{"http-5xx", "network-policy"}},
		{"HTTPHighErrorRate", map[string]string{"namespace": "shop", "service": "checkout"}, deploy, []string{"http-5xx", "network-policy"}},
		{"CoreDNSErrorsHigh", map[string]string{}, Object{Kind: "Deployment", Namespace: "kube-system", Name: "coredns"}, []string{"coredns"}},
		{"LLMEndpointDown", map[string]string{}, Object{Kind: "Deployment", Namespace: "llm-proxy", Name: "llm-proxy"}, []string{"llm-endpoint"}},
		{"Watchdog", map[string]string{"severity": "none"}, Object{}, nil},
	}
	for _, c := range cases {
		labels := with(c.labels, "alertname", c.alert)
		a := Alert{Labels: labels, Fingerprint: "0123456789abcdef", StartsAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		var got []string
		matches := set.Match(a)
		for _, m := range matches {
			got = append(got, m.Runbook.Name)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s %v (-want +got runbooks):\n%s", c.alert, c.labels, diff)
		}
		// What the engine resolves: the target, and the pod and node
		// where it knows them.
		data := NewTemplateData(a, c.target)
		switch {
		case data.Pod != "":
		case c.target.Kind == "Deployment":
			data.Pod = c.target.Name + "-7d4b9c-9xk2p"
		case c.target.Kind == "StatefulSet":
			data.Pod = c.target.Name + "-0"
		}
		if data.Node == "" {
			data.Node = "worker-2"
		}
		for _, m := range matches {
			if _, errs := m.Runbook.RenderSteps(data); len(errs) > 0 {
				t.Errorf("%s: runbook %s: %v", c.alert, m.Runbook.Name, errs)
			}
		}
	}
}

// knownMetrics are the series the exporters of the seed's stack publish
// (kube-state-metrics v2, cAdvisor and the kubelet, node-exporter,
// ingress-nginx, blackbox, CoreDNS, cert-manager). A shipped query naming
// anything else has a typo, or a metric the stack does not have.
var knownMetrics = strings.Fields(`
kube_pod_container_status_last_terminated_reason kube_pod_container_status_last_terminated_exitcode
kube_pod_container_status_terminated_reason kube_pod_container_status_restarts_total
kube_pod_container_status_waiting_reason kube_pod_container_status_ready kube_pod_container_resource_limits
kube_pod_container_resource_requests kube_pod_status_phase kube_pod_status_ready kube_pod_status_unschedulable
kube_pod_status_reason kube_pod_info kube_pod_spec_volumes_persistentvolumeclaims_info
kube_deployment_spec_replicas kube_deployment_status_replicas kube_deployment_status_replicas_available
kube_deployment_status_replicas_updated kube_deployment_status_condition kube_deployment_metadata_generation
kube_deployment_status_observed_generation kube_replicaset_status_ready_replicas kube_replicaset_created
kube_horizontalpodautoscaler_status_current_replicas kube_horizontalpodautoscaler_status_desired_replicas
kube_horizontalpodautoscaler_spec_max_replicas kube_horizontalpodautoscaler_spec_target_metric
kube_horizontalpodautoscaler_status_target_metric kube_horizontalpodautoscaler_status_condition
kube_job_status_failed kube_job_status_succeeded kube_job_status_active kube_job_spec_completions kube_job_owner
kube_job_spec_active_deadline_seconds kube_job_status_start_time kube_resourcequota kube_limitrange
kube_node_status_condition kube_node_status_allocatable kube_node_status_capacity kube_node_spec_taint
kube_node_spec_unschedulable kube_persistentvolumeclaim_status_phase kube_persistentvolumeclaim_info
kube_persistentvolumeclaim_resource_requests_storage_bytes kube_persistentvolume_status_phase
kube_persistentvolume_claim_ref kube_persistentvolume_info kube_storageclass_info kube_endpoint_address
kube_endpoint_address_available kube_endpoint_address_not_ready kube_networkpolicy_created
kube_networkpolicy_spec_ingress_rules kube_networkpolicy_spec_egress_rules
container_memory_working_set_bytes container_cpu_usage_seconds_total container_cpu_cfs_throttled_periods_total
container_cpu_cfs_periods_total kubelet_volume_stats_available_bytes kubelet_volume_stats_capacity_bytes
kubelet_volume_stats_inodes_free kubelet_volume_stats_inodes
node_filesystem_avail_bytes node_filesystem_size_bytes node_filesystem_files_free node_filesystem_files
node_cpu_seconds_total node_load1
nginx_ingress_controller_requests nginx_ingress_controller_request_duration_seconds_bucket
probe_success probe_http_status_code probe_http_duration_seconds probe_dns_lookup_time_seconds
probe_failed_due_to_regex probe_duration_seconds probe_ssl_earliest_cert_expiry probe_ssl_last_chain_info
coredns_dns_responses_total coredns_dns_request_duration_seconds_bucket coredns_forward_responses_total
certmanager_certificate_expiration_timestamp_seconds certmanager_certificate_ready_status
certmanager_certificate_renewal_timestamp_seconds up
`)

// TestBuiltinMetricNames parses every shipped MetricsQL query and checks
// the metric names it selects: each exact name must be a known metric and
// each name regex must select at least one. It also checks that the
// metrics the runbooks are about are all used.
func TestBuiltinMetricNames(t *testing.T) {
	used := map[string]bool{}
	for _, r := range builtin(t).Runbooks() {
		for _, s := range r.Steps {
			if !strings.HasPrefix(s.Tool, "metrics.") {
				continue
			}
			// Rendered as the load-time check does: missing labels are empty.
			dry, err := s.args[slices.IndexFunc(s.args, func(a stepArg) bool { return a.spec.name == "query" })].tmpl.Clone()
			if err != nil {
				t.Fatal(err)
			}
			q, err := execute(dry.Option("missingkey=zero"), NewTemplateData(Alert{}, Object{}))
			if err != nil {
				t.Fatalf("%s step %d: %v", r.Name, s.Index+1, err)
			}
			e, err := metricsql.Parse(q)
			if err != nil {
				t.Fatalf("%s step %d: %v", r.Name, s.Index+1, err)
			}
			metricsql.VisitAll(e, func(e metricsql.Expr) {
				me, ok := e.(*metricsql.MetricExpr)
				if !ok {
					return
				}
				for _, lfs := range me.LabelFilterss {
					for _, lf := range lfs {
						if lf.Label != "__name__" {
							continue
						}
						var hit []string
						if lf.IsRegexp {
							re := regexp.MustCompile("^(?:" + lf.Value + ")$")
							for _, m := range knownMetrics {
								if re.MatchString(m) {
									hit = append(hit, m)
								}
							}
						} else if slices.Contains(knownMetrics, lf.Value) {
							hit = []string{lf.Value}
						}
						if len(hit) == 0 {
							t.Errorf("%s step %d (%s:%d) selects %q, which no exporter of the stack publishes", r.Name, s.Index+1, r.Source, s.Line, lf.Value)
						}
						for _, h := range hit {
							used[h] = true
						}
					}
				}
			})
		}
	}
	for _, m := range strings.Fields(`kube_pod_container_status_last_terminated_reason kube_pod_container_status_restarts_total
		kube_pod_container_resource_limits kube_deployment_status_replicas_available kube_horizontalpodautoscaler_status_current_replicas
		kube_resourcequota kube_job_status_failed container_memory_working_set_bytes container_cpu_usage_seconds_total
		container_cpu_cfs_throttled_periods_total container_cpu_cfs_periods_total node_filesystem_avail_bytes
		node_filesystem_size_bytes node_cpu_seconds_total node_load1 nginx_ingress_controller_requests probe_success
		probe_ssl_earliest_cert_expiry`) {
		if !used[m] {
			t.Errorf("no shipped runbook queries %s", m)
		}
	}
}
