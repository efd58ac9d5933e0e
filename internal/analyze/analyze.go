package analyze

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// Analyzer examines the evidence for one kind of failure.
type Analyzer struct {
	Name string
	Run  func(ev *Evidence, out *Output)
}

// Output collects what analyzers conclude.
type Output struct {
	Findings []report.Finding
	Checked  []report.Check
	current  string
	// cleared, when set, is evidence that the alert's condition no longer
	// holds (see analyzeRecovery): without a finding, nothing needs fixing.
	cleared *clearance
	// uncleared says what still contradicts "nothing to fix" when the
	// recovery analyzer found the alert's condition not cleared.
	uncleared string
}

// Find records a finding of the running analyzer.
func (o *Output) Find(f report.Finding) {
	f.Analyzer = o.current
	o.Findings = append(o.Findings, f)
}

// Checked records what the running analyzer examined and found healthy.
func (o *Output) Check(format string, args ...any) {
	o.Checked = append(o.Checked, report.Check{Analyzer: o.current, Note: fmt.Sprintf(format, args...)})
}

// All is every analyzer, in the order they run.
var All = []Analyzer{
	{"oom", analyzeOOM},
	{"image-pull", analyzeImagePull},
	{"config", analyzeConfig},
	{"crash-loop", analyzeCrashLoop},
	{"probes", analyzeProbes},
	{"scheduling", analyzeScheduling},
	{"volumes", analyzeVolumes},
	{"quota", analyzeQuota},
	{"webhooks", analyzeWebhooks},
	{"nodes", analyzeNodes},
	{"jobs", analyzeJobs},
	{"cronjobs", analyzeCronJobs},
	{"cpu", analyzeCPU},
	{"disk", analyzeDisk},
	{"dependencies", analyzeDependencies},
	{"dns", analyzeDNS},
	{"http-errors", analyzeHTTPErrors},
	{"certificates", analyzeCertificates},
	{"autoscaling", analyzeAutoscaling},
	{"scrape", analyzeScrape},
	{"rollout", analyzeRollout},
	{"recovery", analyzeRecovery},
	// Runs last: quotes the cloud role of findings about a refused identity.
	{"identity", quoteIdentity},
}

// Run runs every analyzer and returns the findings, best first.
func Run(ev *Evidence) *Output {
	out := &Output{}
	for _, a := range All {
		out.current = a.Name
		a.Run(ev, out)
	}
	out.current = ""
	for i := range out.Findings {
		out.Findings[i].Score += alertAffinity(ev.Alert.Name, out.Findings[i].Category)
	}
	sort.SliceStable(out.Findings, func(i, j int) bool { return out.Findings[i].Score > out.Findings[j].Score })
	return out
}

// affinities are the standard alert names (kube-prometheus, the
// victoria-metrics-k8s-stack rules, common exporters' rules) and the
// categories they are usually about. A matching finding gets a small bonus:
// between two real findings, the one the alert is about ranks first.
var affinities = []struct {
	words      []string
	categories []string
}{
	{[]string{"oom"}, []string{report.OOMKilled}},
	{[]string{"crashloop", "restart"}, []string{report.CrashLoop, report.OOMKilled, report.ProbeFailure, report.BadRollout, report.DependencyFailure}},
	{[]string{"throttl"}, []string{report.CPUThrottling}},
	{[]string{"cpu", "load"}, []string{report.CPUSaturation, report.CPUThrottling}},
	{[]string{"disk", "filesystem", "volume", "inode", "storage"}, []string{report.DiskPressure, report.Volume}},
	{[]string{"node"}, []string{report.NodeFailure, report.DiskPressure, report.CPUSaturation}},
	{[]string{"job"}, []string{report.JobFailure}},
	{[]string{"quota"}, []string{report.QuotaExceeded}},
	{[]string{"cert", "ssl", "tls"}, []string{report.CertificateExpiry}},
	{[]string{"hpa", "autoscal", "scal"}, []string{report.ScalingLimit}},
	{[]string{"5xx", "error", "latency", "http", "probefailed", "down"}, []string{report.DependencyFailure, report.NetworkPolicy}},
	{[]string{"notready", "pending", "unschedul"}, []string{report.Unschedulable, report.NodeFailure, report.ProbeFailure}},
	{[]string{"waiting", "imagepull"}, []string{report.ImagePull, report.ConfigError}},
	{[]string{"rollout", "replicasmismatch", "generationmismatch"}, []string{report.BadRollout}},
}

func alertAffinity(alertname, category string) float64 {
	name := strings.ToLower(alertname)
	for _, a := range affinities {
		for _, w := range a.words {
			if strings.Contains(name, w) {
				for _, c := range a.categories {
					if c == category {
						return 0.05
					}
				}
			}
		}
	}
	return 0
}

// --- helpers shared by analyzers ---------------------------------------

func podRef(p *corev1.Pod) report.Ref {
	return report.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
}

// culprit returns the object to fix for a pod-level problem: the pod's top
// controller when known, else the pod.
func culprit(ev *Evidence, p *corev1.Pod) report.Ref {
	if !ev.Workload.IsZero() && ev.Workload.Kind != "Pod" && ev.Workload.Namespace == p.Namespace {
		return ev.Workload
	}
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			kind, name := o.Kind, o.Name
			if kind == "ReplicaSet" {
				// A ReplicaSet's name is its Deployment's plus the template hash.
				if i := strings.LastIndex(name, "-"); i > 0 {
					kind, name = "Deployment", name[:i]
				}
			}
			return report.Ref{Kind: kind, Namespace: p.Namespace, Name: name}
		}
	}
	return podRef(p)
}

// cite returns the call IDs recorded for the evidence keys.
func cite(ev *Evidence, keys ...string) []string {
	var ids []string
	seen := map[string]bool{}
	for _, k := range keys {
		for _, id := range ev.Calls[k] {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func podKey(p *corev1.Pod) string  { return "pod/" + p.Namespace + "/" + p.Name }
func logsKey(p *corev1.Pod) string { return "logs/" + p.Namespace + "/" + p.Name }

// statuses returns init and app container statuses with the spec of each.
func statuses(p *corev1.Pod) []containerState {
	var out []containerState
	specs := map[string]*corev1.Container{}
	for i := range p.Spec.InitContainers {
		specs[p.Spec.InitContainers[i].Name] = &p.Spec.InitContainers[i]
	}
	for i := range p.Spec.Containers {
		specs[p.Spec.Containers[i].Name] = &p.Spec.Containers[i]
	}
	for _, s := range p.Status.InitContainerStatuses {
		out = append(out, containerState{Status: s, Spec: specs[s.Name], Init: true})
	}
	for _, s := range p.Status.ContainerStatuses {
		out = append(out, containerState{Status: s, Spec: specs[s.Name]})
	}
	return out
}

type containerState struct {
	Status corev1.ContainerStatus
	Spec   *corev1.Container
	Init   bool
}

// events returns the events about an object, matching kind and name.
func events(ev *Evidence, kind, namespace, name string) []corev1.Event {
	var out []corev1.Event
	for _, e := range ev.Events {
		o := e.InvolvedObject
		if strings.EqualFold(o.Kind, kind) && o.Name == name && (namespace == "" || o.Namespace == namespace) {
			out = append(out, e)
		}
	}
	return out
}

// eventsWithReason returns events with one of the reasons, any object.
func eventsWithReason(ev *Evidence, reasons ...string) []corev1.Event {
	var out []corev1.Event
	for _, e := range ev.Events {
		for _, r := range reasons {
			if e.Reason == r {
				out = append(out, e)
			}
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// bytesHuman renders a byte count as Kubernetes quantities do (Mi, Gi).
func bytesHuman(b float64) string {
	switch {
	case b >= 1<<30:
		return trimFloat(b/(1<<30)) + "Gi"
	case b >= 1<<20:
		return trimFloat(b/(1<<20)) + "Mi"
	case b >= 1<<10:
		return trimFloat(b/(1<<10)) + "Ki"
	default:
		return trimFloat(b) + "B"
	}
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// seriesFor returns the series of a purpose whose labels match the given
// pod and container ("" matches any).
func seriesFor(ev *Evidence, purpose, pod, container string) []Series {
	var out []Series
	for _, s := range ev.Metrics[purpose] {
		if pod != "" && s.Labels["pod"] != "" && s.Labels["pod"] != pod {
			continue
		}
		if container != "" && s.Labels["container"] != "" && s.Labels["container"] != container {
			continue
		}
		out = append(out, s)
	}
	return out
}

func maxOf(series []Series) (float64, bool) {
	found := false
	m := 0.0
	for _, s := range series {
		if v, ok := s.Max(); ok && (!found || v > m) {
			m, found = v, true
		}
	}
	return m, found
}

func lastOf(series []Series) (float64, bool) {
	found := false
	m := 0.0
	for _, s := range series {
		if v, ok := s.Last(); ok && (!found || v > m) {
			m, found = v, true
		}
	}
	return m, found
}
