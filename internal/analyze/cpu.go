package analyze

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

const (
	// loadPerCoreHigh is NodeSystemSaturation's threshold: a load per core
	// above 2 means runnable tasks wait for a CPU.
	loadPerCoreHigh = 2.0
	// cpuOverRequest: a container using this many times its CPU request
	// with no limit runs on capacity it never reserved, taken from its
	// neighbours.
	cpuOverRequest = 2.0
	// hogShare is the share of a node's CPU one pod must use to be what
	// saturates it (rather than the sum of many).
	hogShare = 0.5
	// cpuRecent is the window whose average usage counts as "now": long
	// enough to smooth a spike, short enough to follow the incident.
	cpuRecent = 10 * time.Minute
)

// nodeLoad is what the metrics say about one node's CPU.
type nodeLoad struct {
	name       string
	busy, load float64 // busy 0..1, load1
	hasBusy    bool
	hasLoad    bool
	cores      float64 // allocatable CPUs, 0 when unknown
}

func (n nodeLoad) saturated() bool {
	return (n.hasBusy && n.busy >= cpuBusyHigh) || (n.hasLoad && n.cores > 0 && n.load/n.cores >= loadPerCoreHigh)
}

// loaded: more runnable tasks than CPUs, or (nearly) all CPU busy.
func (n nodeLoad) loaded() bool {
	return n.saturated() || (n.hasLoad && n.cores > 0 && n.load >= n.cores)
}

func (n nodeLoad) String() string {
	var parts []string
	if n.hasBusy {
		parts = append(parts, pct(n.busy)+" busy")
	}
	if n.hasLoad {
		s := fmt.Sprintf("load1 %.1f", n.load)
		if n.cores > 0 {
			s += fmt.Sprintf(" on %s CPUs", trimFloat(n.cores))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// nodeLoads reads the node CPU and load series, by node name.
func nodeLoads(ev *Evidence) map[string]*nodeLoad {
	out := map[string]*nodeLoad{}
	get := func(l map[string]string) *nodeLoad {
		name := or(l["node"], nodeFromInstance(ev, l["instance"]))
		if name == "" {
			name = strings.Split(l["instance"], ":")[0]
		}
		if out[name] == nil {
			out[name] = &nodeLoad{name: name, cores: nodeCores(ev, name)}
		}
		return out[name]
	}
	for _, s := range ev.Metrics[MetricNodeCPU] {
		if v, ok := s.Last(); ok {
			n := get(s.Labels)
			n.busy, n.hasBusy = max(n.busy, v), true
		}
	}
	for _, s := range ev.Metrics[MetricNodeLoad] {
		if v, ok := s.Last(); ok {
			n := get(s.Labels)
			n.load, n.hasLoad = max(n.load, v), true
		}
	}
	return out
}

// nodeCores returns a node's allocatable CPUs (its capacity when the
// allocatable is not reported), 0 when the node was not read.
func nodeCores(ev *Evidence, name string) float64 {
	for _, n := range ev.Nodes {
		if n.Name != name {
			continue
		}
		if q, ok := n.Status.Allocatable[corev1.ResourceCPU]; ok {
			return q.AsApproximateFloat64()
		}
		if q, ok := n.Status.Capacity[corev1.ResourceCPU]; ok {
			return q.AsApproximateFloat64()
		}
	}
	return 0
}

// nodeSaturation finds a node whose CPU is exhausted and says who uses it.
// One pod taking most of the node beyond its request is the workload to
// fix (a noisy neighbour); load spread over many pods is the node's
// capacity.
func nodeSaturation(ev *Evidence, out *Output) bool {
	loads := nodeLoads(ev)
	names := make([]string, 0, len(loads))
	for name := range loads {
		names = append(names, name)
	}
	sort.Strings(names)
	// An alert about the node's CPU or load already claims saturation:
	// more runnable tasks than CPUs confirms it.
	nodeAlert := ev.Target.Kind == "Node" && alertsAbout(ev, "cpu", "load", "saturat")
	for _, name := range names {
		n := loads[name]
		if !n.saturated() && !(nodeAlert && name == ev.Target.Name && n.loaded()) {
			continue
		}
		cons := nodeConsumers(ev, name, len(loads) == 1)
		obj := report.Ref{Kind: "Node", Name: name}
		title := fmt.Sprintf("node %s CPU is saturated (%s)", name, n)
		var hog *Consumer
		if len(cons) > 0 && hogs(cons[0], n.cores) {
			hog = &cons[0]
			obj = or2(hog.Workload, hog.Pod)
			title += fmt.Sprintf(": %s alone uses %s", obj, usageText(*hog, n.cores))
		}
		f := report.Finding{
			Category: report.CPUSaturation, Object: obj, Score: 0.7,
			Title:    title,
			Evidence: cite(ev, "metric/"+MetricNodeCPU, "metric/"+MetricNodeLoad, "consumers", "node/"+name),
		}
		var top []string
		for _, c := range cons {
			top = append(top, fmt.Sprintf("%s (%s) %s", c.Pod.Namespace+"/"+c.Pod.Name, or2(c.Workload, c.Pod), usageText(c, n.cores)))
		}
		if len(top) > 0 {
			f.Detail = "busiest pods on the node: " + strings.Join(top, "; ")
		}
		if hog != nil {
			f.Remediation = []string{
				fmt.Sprintf("Contain %s, which takes the CPU of node %s from its neighbours: give it a CPU limit and a request that matches its real use (so the scheduler accounts for it), or lower its parallelism; run it on nodes of its own if it must burst.", obj, name),
				fmt.Sprintf("Meanwhile the other pods on %s are slowed: kubectl top pods -A --sort-by=cpu; kubectl describe node %s.", name, name),
			}
		} else {
			f.Remediation = []string{fmt.Sprintf("The CPU of node %s is spread over its pods: add capacity (more or larger nodes), or scale out the busiest workloads so they spread over other nodes (kubectl top pods -A --sort-by=cpu).", name)}
		}
		out.Find(f)
		return true
	}
	return false
}

// nodeConsumers returns the busiest pods on a node, busiest first: the
// collected consumers, and the target's own pods there.
func nodeConsumers(ev *Evidence, node string, only bool) []Consumer {
	var out []Consumer
	seen := map[string]bool{}
	for _, c := range ev.CPUConsumers {
		if c.Node == node || (only && c.Node == "") {
			out = append(out, c)
			seen[c.Pod.Namespace+"/"+c.Pod.Name] = true
		}
	}
	for i := range ev.Pods {
		p := &ev.Pods[i]
		if p.Spec.NodeName != node || seen[p.Namespace+"/"+p.Name] {
			continue
		}
		u, ok := recentUsage(ev, p.Name, "")
		if !ok {
			continue
		}
		out = append(out, Consumer{Pod: podRef(p), Workload: culprit(ev, p), Node: node, Cores: u, Request: cpuRequest(ev, p.Name, ""), Limit: cpuLimitCores(ev, p.Name, "")})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cores > out[j].Cores })
	return out
}

// hogs reports whether one pod saturates a node: it uses most of the node
// and far more than it reserved.
func hogs(c Consumer, cores float64) bool {
	if cores <= 0 || c.Cores < hogShare*cores {
		return false
	}
	return c.Request == 0 || c.Cores >= cpuOverRequest*c.Request
}

func usageText(c Consumer, cores float64) string {
	s := fmt.Sprintf("%.2f cores", c.Cores)
	if cores > 0 {
		s += fmt.Sprintf(" of the node's %s", trimFloat(cores))
	}
	if c.Request > 0 {
		s += fmt.Sprintf(", %.0fx its request of %s", c.Cores/c.Request, coresText(c.Request))
	} else {
		s += ", no CPU request"
	}
	if c.Limit > 0 {
		s += ", limit " + coresText(c.Limit)
	} else {
		s += ", no CPU limit"
	}
	return s
}

func coresText(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.0fm", v*1000)
	}
	return trimFloat(v)
}

func or2(a, b report.Ref) report.Ref {
	if a.IsZero() {
		return b
	}
	return a
}

// workloadSaturation finds the target's containers using far more CPU than
// they request, with no limit: the workload outgrew its sizing under load.
// It needs a sign that the CPU is short (an alert about CPU, a loaded
// node, a pod taking most of its node), because using idle CPU beyond the
// request harms nobody.
func workloadSaturation(ev *Evidence, out *Output) bool {
	type hot struct {
		pod        *corev1.Pod
		container  string
		use, first float64
		req        float64
	}
	// Under an alert about CPU, a workload at its request with no limit is
	// already short: it gets more only from idle neighbours. Otherwise only
	// a large excess counts.
	over := cpuOverRequest
	cpuAlerted := alertsAbout(ev, "cpu", "load", "saturat")
	if cpuAlerted {
		over = 1
	}
	var hots []hot
	for _, s := range ev.Metrics[MetricCPUUsage] {
		podName, container := s.Labels["pod"], s.Labels["container"]
		var p *corev1.Pod
		for i := range ev.Pods {
			if ev.Pods[i].Name == podName {
				p = &ev.Pods[i]
			}
		}
		if p == nil || cpuLimitCores(ev, podName, container) > 0 {
			continue
		}
		use, ok := recentAvg(s, cpuRecent)
		req := cpuRequest(ev, podName, container)
		if !ok || (req > 0 && use < over*req) || (req == 0 && use < 1) {
			continue
		}
		first := s.Points[0].V
		hots = append(hots, hot{p, container, use, first, req})
	}
	if len(hots) == 0 {
		return false
	}
	loads := nodeLoads(ev)
	var short []string
	if cpuAlerted {
		short = append(short, "an alert of the incident is about CPU")
	}
	for _, h := range hots {
		if n := loads[h.pod.Spec.NodeName]; n != nil && n.loaded() {
			short = append(short, fmt.Sprintf("node %s: %s", n.name, n))
			break
		}
		if c := nodeCores(ev, h.pod.Spec.NodeName); c > 0 && h.use >= 0.8*c {
			short = append(short, fmt.Sprintf("pod %s uses %.2f of node %s's %s CPUs", h.pod.Name, h.use, h.pod.Spec.NodeName, trimFloat(c)))
			break
		}
	}
	if len(short) == 0 {
		out.Check("CPU: %s above its request without a limit, but no sign the CPU is short", plural(len(hots), "container", "containers"))
		return false
	}
	sort.SliceStable(hots, func(i, j int) bool { return hots[i].use > hots[j].use })
	h := hots[0]
	obj := culprit(ev, h.pod)
	pods := map[string]bool{}
	for _, x := range hots {
		pods[x.pod.Name] = true
	}
	title := fmt.Sprintf("%s of %s use%s up to %.2f cores", plural(len(pods), "pod", "pods"), obj, map[bool]string{true: "s", false: ""}[len(pods) == 1], h.use)
	if h.req > 0 {
		title += fmt.Sprintf(", %.1fx the CPU request of %s", h.use/h.req, coresText(h.req))
	} else {
		title += " with no CPU request"
	}
	title += ", with no CPU limit"
	var detail []string
	if h.first > 0 && h.use >= 1.5*h.first {
		detail = append(detail, fmt.Sprintf("usage of %s rose from %.2f cores at the start of the window", h.pod.Name, h.first))
	}
	detail = append(detail, "CPU is short: "+strings.Join(short, "; "))
	if len(ev.HPAs) == 0 && !ev.Workload.IsZero() {
		detail = append(detail, "no HorizontalPodAutoscaler scales "+ev.Workload.String())
	}
	out.Find(report.Finding{
		Category: report.CPUSaturation, Object: obj, Score: 0.7,
		Title:    title,
		Detail:   strings.Join(detail, "; "),
		Evidence: cite(ev, "metric/"+MetricCPUUsage, "metric/"+MetricNodeLoad, "metric/"+MetricNodeCPU),
		Remediation: []string{
			fmt.Sprintf("The load exceeds what %s was sized for: scale it out (more replicas, or an HPA on CPU) and raise its CPU request to the real use (%.2f cores per pod) so the scheduler places it where the CPU is free.", obj, h.use),
			"If the nodes are full too, add capacity before scaling out.",
		},
	})
	return true
}

// recentUsage returns a pod's (container's) CPU use over the recent window.
func recentUsage(ev *Evidence, pod, container string) (float64, bool) {
	total, found := 0.0, false
	for _, s := range seriesFor(ev, MetricCPUUsage, pod, container) {
		if v, ok := recentAvg(s, cpuRecent); ok {
			total, found = total+v, true
		}
	}
	return total, found
}

// recentAvg averages the series' points in the window before its last.
func recentAvg(s Series, window time.Duration) (float64, bool) {
	if len(s.Points) == 0 {
		return 0, false
	}
	end := s.Points[len(s.Points)-1].T
	sum, n := 0.0, 0
	for _, p := range s.Points {
		if end.Sub(p.T) <= window {
			sum += p.V
			n++
		}
	}
	return sum / float64(n), true
}

// cpuLimitCores returns a container's CPU limit in cores (the pod's total
// with container ""), 0 when none is set.
func cpuLimitCores(ev *Evidence, pod, container string) float64 {
	total := 0.0
	for _, p := range ev.Pods {
		if p.Name != pod {
			continue
		}
		for _, c := range p.Spec.Containers {
			if c.Name == container || container == "" {
				if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
					total += q.AsApproximateFloat64()
				}
			}
		}
		return total
	}
	if v, ok := lastOf(seriesFor(ev, MetricCPULimit, pod, container)); ok {
		return v
	}
	return 0
}

// alertsAbout reports whether an alert of the incident has one of the
// words in its name.
func alertsAbout(ev *Evidence, words ...string) bool {
	alerts := ev.Alerts
	if len(alerts) == 0 {
		alerts = []Alert{ev.Alert}
	}
	for _, a := range alerts {
		n := strings.ToLower(a.Name)
		for _, w := range words {
			if strings.Contains(n, w) {
				return true
			}
		}
	}
	return false
}
