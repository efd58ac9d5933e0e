package engine

import (
	"context"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// autoscalerTarget resolves an alert about a HorizontalPodAutoscaler
// (KubeHpaMaxedOut, KubeHpaReplicasMismatch): the autoscaler is the
// target, the workload it scales and its pods are what it acts on.
func (c *collector) autoscalerTarget(ctx context.Context, ns, name string) {
	c.ev.Target = report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: ns, Name: name}
	h, err := c.kube.HorizontalPodAutoscaler(ctx, ns, name)
	c.kubeErr("horizontalpodautoscaler "+ns+"/"+name, err)
	if err != nil {
		return
	}
	ref := h.Spec.ScaleTargetRef
	if ref.Kind == "" || ref.Name == "" {
		return
	}
	c.ev.Workload = report.Ref{Kind: ref.Kind, Namespace: ns, Name: ref.Name}
	c.podsOf(ctx, kube.Ref{Kind: ref.Kind, Namespace: ns, Name: ref.Name}, nil)
}

// jobPodsByName lists a Job's pods by the job-name label the Job controller
// puts on them. The Job's own selector matches on its uid, which a Job
// restored or re-created from its manifest no longer shares with the pods
// it ran.
func (c *collector) jobPodsByName(ctx context.Context, ns, job string) []corev1.Pod {
	for _, key := range []string{"batch.kubernetes.io/job-name", "job-name"} {
		list, err := c.kube.Pods(ctx, ns, kube.ListOptions{LabelSelector: key + "=" + job, Limit: 50})
		c.kubeErr("pods of job "+job, err)
		if err != nil {
			return nil
		}
		if len(list.Items) > 0 {
			return list.Items
		}
	}
	return nil
}

// maxConfigMaps bounds the ConfigMaps read per investigation.
const maxConfigMaps = 5

// configMapNames returns the ConfigMaps that the target's failing pods
// read through env, envFrom and volumes: a crash on a bad value is traced
// to the key that holds it. Healthy pods' ConfigMaps are not read.
func (c *collector) configMapNames() []report.Ref {
	seen := map[string]bool{}
	var out []report.Ref
	add := func(ns, name string) {
		if name != "" && !seen[ns+"/"+name] && len(out) < maxConfigMaps {
			seen[ns+"/"+name] = true
			out = append(out, report.Ref{Kind: "ConfigMap", Namespace: ns, Name: name})
		}
	}
	for i := range c.ev.Pods {
		p := &c.ev.Pods[i]
		if healthy(p) {
			continue
		}
		for _, ct := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			for _, e := range ct.EnvFrom {
				if e.ConfigMapRef != nil {
					add(p.Namespace, e.ConfigMapRef.Name)
				}
			}
			for _, e := range ct.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					add(p.Namespace, e.ValueFrom.ConfigMapKeyRef.Name)
				}
			}
		}
		for _, v := range p.Spec.Volumes {
			if v.ConfigMap != nil {
				add(p.Namespace, v.ConfigMap.Name)
			}
		}
	}
	return out
}

func (c *collector) configMap(ctx context.Context, ref report.Ref) {
	mark := len(c.rec.Calls())
	cm, err := c.kube.ConfigMap(ctx, ref.Namespace, ref.Name)
	c.kubeErr("configmap "+ref.Namespace+"/"+ref.Name, err)
	if err == nil {
		c.mu.Lock()
		c.ev.ConfigMaps = append(c.ev.ConfigMaps, *cm)
		c.mu.Unlock()
	}
	c.cite("configmap/"+ref.Namespace+"/"+ref.Name, mark)
}

// cpuAlert reports whether an alert of the incident is about CPU or load:
// then the busiest pods of the nodes involved are worth naming.
func (c *collector) cpuAlert() bool {
	for _, a := range c.ev.Alerts {
		n := strings.ToLower(a.Name)
		for _, w := range []string{"cpu", "load", "saturat", "throttl"} {
			if strings.Contains(n, w) {
				return true
			}
		}
	}
	return false
}

// maxConsumers is how many of a node's busiest pods are read.
const maxConsumers = 3

// collectCPUConsumers finds the pods using the most CPU on the target's
// node (or the nodes of its pods) when the incident is about CPU, and reads
// each pod's requests, limits and owner: a node saturated by one workload
// names that workload as what to fix.
func (c *collector) collectCPUConsumers(ctx context.Context) {
	if c.prom == nil || c.kube == nil || !c.cpuAlert() {
		return
	}
	var names []string
	if c.ev.Target.Kind == "Node" {
		names = []string{c.ev.Target.Name}
	} else {
		names = c.nodeNames()
	}
	if len(names) == 0 {
		return
	}
	if len(names) > maxLogPods {
		names = names[:maxLogPods]
	}
	var nodeAlts, instAlts []string
	for _, n := range names {
		nodeAlts = append(nodeAlts, regexp.QuoteMeta(n))
		instAlts = append(instAlts, regexp.QuoteMeta(n)+"(:[0-9]+)?")
	}
	sel := `container!="",container!="POD"`
	// cAdvisor series carry the node's name as node (kube-prometheus,
	// victoria-metrics-k8s-stack) or as instance (a plain kubelet scrape).
	query := `topk(8, sum by (namespace, pod, node) (rate(container_cpu_usage_seconds_total{` + sel + `,node=~` + q(strings.Join(nodeAlts, "|")) + `}[5m]))` +
		` or sum by (namespace, pod, instance) (rate(container_cpu_usage_seconds_total{` + sel + `,node="",instance=~` + q(strings.Join(instAlts, "|")) + `}[5m])))`
	mark := len(c.rec.Calls())
	res, err := c.prom.Instant(ctx, query, c.end)
	c.cite("consumers", mark)
	if err != nil {
		c.unchecked("the busiest pods of node "+strings.Join(names, ", "), err.Error())
		return
	}
	type use struct {
		ns, pod, node string
		cores         float64
	}
	var uses []use
	for _, s := range res.Series {
		if len(s.Points) == 0 || s.Labels["pod"] == "" {
			continue
		}
		node := s.Labels["node"]
		if node == "" {
			node = strings.Split(s.Labels["instance"], ":")[0]
		}
		uses = append(uses, use{s.Labels["namespace"], s.Labels["pod"], node, s.Points[len(s.Points)-1].V})
	}
	sort.Slice(uses, func(i, j int) bool { return uses[i].cores > uses[j].cores })
	if len(uses) > maxConsumers {
		uses = uses[:maxConsumers]
	}
	// A few reads in sequence: this runs inside the collector's parallel
	// phase already.
	out := make([]analyze.Consumer, len(uses))
	for i, u := range uses {
		out[i] = analyze.Consumer{Pod: report.Ref{Kind: "Pod", Namespace: u.ns, Name: u.pod}, Node: u.node, Cores: u.cores}
		mark := len(c.rec.Calls())
		p, err := c.kube.Pod(ctx, u.ns, u.pod)
		c.kubeErr("pod "+u.ns+"/"+u.pod, err)
		if err == nil {
			for _, ct := range p.Spec.Containers {
				if r, ok := ct.Resources.Requests[corev1.ResourceCPU]; ok {
					out[i].Request += r.AsApproximateFloat64()
				}
				if l, ok := ct.Resources.Limits[corev1.ResourceCPU]; ok {
					out[i].Limit += l.AsApproximateFloat64()
				}
			}
			out[i].Workload = c.workloadOf(ctx, p)
		}
		c.cite("consumers", mark)
	}
	c.mu.Lock()
	c.ev.CPUConsumers = out
	c.mu.Unlock()
}

// loadAlert reports whether an alert of the incident is about CPU, load or
// slowness (latency, timeouts, 5xx): a saturated node under the target's
// pods is a cause worth checking.
func (c *collector) loadAlert() bool {
	if c.cpuAlert() {
		return true
	}
	for _, a := range c.ev.Alerts {
		n := strings.ToLower(a.Name)
		for _, w := range []string{"latency", "slow", "timeout", "5xx", "overcommit"} {
			if strings.Contains(n, w) {
				return true
			}
		}
	}
	return false
}

// busyNodeInstances returns a quoted regex matching the node-exporter
// instances of the nodes the target's pods run on, when the incident is
// about load; "" otherwise.
func (c *collector) busyNodeInstances() string {
	if !c.loadAlert() {
		return ""
	}
	var alts []string
	for _, n := range c.ev.Nodes {
		alts = append(alts, regexp.QuoteMeta(n.Name)+"(:[0-9]+)?")
		for _, a := range n.Status.Addresses {
			alts = append(alts, regexp.QuoteMeta(a.Address)+"(:[0-9]+)?")
		}
	}
	if len(alts) == 0 {
		return ""
	}
	return q(strings.Join(alts, "|"))
}

// databaseQueries read what a database exporter says holds a volume's
// space: for Postgres (postgres_exporter), the WAL each replication slot
// retains, whether a client is attached to it, and the databases' size. A
// slot nobody reads keeps every WAL segment and fills the disk.
func databaseQueries(ns string) []metricQuery {
	s := `namespace=` + q(ns)
	return []metricQuery{
		{analyze.MetricPGSlotRetained, `max by (pod, slot_name, database) (pg_replication_slots_pg_wal_lsn_diff{` + s + `})`, true},
		{analyze.MetricPGSlotActive, `max by (pod, slot_name) (pg_replication_slots_active{` + s + `})`, true},
		{analyze.MetricPGDatabaseSize, `max by (pod, datname) (pg_database_size_bytes{` + s + `})`, true},
	}
}

// controller reads a StatefulSet or DaemonSet: its replica counts tell
// whether all its pods exist and are ready.
func (c *collector) controller(ctx context.Context, w report.Ref) {
	mark := len(c.rec.Calls())
	defer c.cite("controller/"+w.Namespace+"/"+w.Name, mark)
	switch w.Kind {
	case "StatefulSet":
		s, err := c.kube.StatefulSet(ctx, w.Namespace, w.Name)
		c.kubeErr("statefulset "+w.Name, err)
		if err == nil {
			c.mu.Lock()
			c.ev.StatefulSet = s
			c.mu.Unlock()
		}
	case "DaemonSet":
		d, err := c.kube.DaemonSet(ctx, w.Namespace, w.Name)
		c.kubeErr("daemonset "+w.Name, err)
		if err == nil {
			c.mu.Lock()
			c.ev.DaemonSet = d
			c.mu.Unlock()
		}
	}
}
