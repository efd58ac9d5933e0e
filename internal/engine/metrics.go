package engine

import (
	"context"
	"regexp"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/promql"
)

// metricQuery is one standard query the engine runs for a target.
type metricQuery struct {
	purpose string
	query   string
	// instant queries are evaluated at the window's end; the others over
	// the whole window.
	instant bool
}

// q quotes a value for a PromQL label matcher.
func q(v string) string { return promql.QuoteLabelValue(v) }

// podRegex returns a quoted regex matching exactly the given pod names.
func podRegex(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return q(strings.Join(quoted, "|"))
}

// standardQueries returns the kube-state-metrics, cAdvisor, node-exporter,
// kubelet, ingress-nginx, blackbox and cert-manager series for the target.
func (c *collector) standardQueries() []metricQuery {
	var qs []metricQuery
	l := c.ev.Alert.Labels
	ns := c.ev.Target.Namespace
	var pods []string
	for _, p := range c.ev.Pods {
		pods = append(pods, p.Name)
	}
	if len(pods) == 0 && l["pod"] != "" {
		pods = []string{l["pod"]}
	}
	if ns != "" && len(pods) > 0 {
		sel := `namespace=` + q(ns) + `,pod=~` + podRegex(pods)
		csel := sel + `,container!="",container!="POD"`
		qs = append(qs,
			metricQuery{analyze.MetricMemoryWorkingSet, `max by (pod, container) (container_memory_working_set_bytes{` + csel + `})`, false},
			metricQuery{analyze.MetricMemoryLimit, `max by (pod, container) (kube_pod_container_resource_limits{` + sel + `,resource="memory"})`, true},
			metricQuery{analyze.MetricCPUUsage, `sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{` + csel + `}[5m]))`, false},
			metricQuery{analyze.MetricCPULimit, `max by (pod, container) (kube_pod_container_resource_limits{` + sel + `,resource="cpu"})`, true},
			metricQuery{analyze.MetricCPUThrottled, `sum by (pod, container) (rate(container_cpu_cfs_throttled_periods_total{` + csel + `}[5m])) / sum by (pod, container) (rate(container_cpu_cfs_periods_total{` + csel + `}[5m]))`, false},
			metricQuery{"last_terminated_reason", `max by (pod, container, reason) (kube_pod_container_status_last_terminated_reason{` + sel + `}) > 0`, true},
		)
	}
	if ns != "" && (l["persistentvolumeclaim"] != "" || c.ev.Target.Kind == "PersistentVolumeClaim") {
		claim := l["persistentvolumeclaim"]
		if claim == "" {
			claim = c.ev.Target.Name
		}
		s := `namespace=` + q(ns) + `,persistentvolumeclaim=` + q(claim)
		qs = append(qs, metricQuery{analyze.MetricPVCAvailRatio, `kubelet_volume_stats_available_bytes{` + s + `} / kubelet_volume_stats_capacity_bytes{` + s + `}`, false})
		qs = append(qs, databaseQueries(ns)...)
	}
	if inst := c.nodeInstances(); inst != "" {
		s := `instance=~` + inst
		fs := s + `,fstype!~"tmpfs|overlay|squashfs|nsfs",mountpoint!~"/(run|var/lib/kubelet/pods).*"`
		qs = append(qs,
			metricQuery{analyze.MetricNodeCPU, `1 - avg by (instance) (rate(node_cpu_seconds_total{` + s + `,mode="idle"}[5m]))`, false},
			metricQuery{analyze.MetricFSAvailRatio, `node_filesystem_avail_bytes{` + fs + `} / node_filesystem_size_bytes{` + fs + `}`, false},
			// Hours until the filesystem is full at the last hour's rate,
			// only where it is filling.
			metricQuery{analyze.MetricFSHoursToFull, `(node_filesystem_avail_bytes{` + fs + `} / -deriv(node_filesystem_avail_bytes{` + fs + `}[1h]) / 3600) and deriv(node_filesystem_avail_bytes{` + fs + `}[1h]) < 0`, true},
			metricQuery{analyze.MetricNodeLoad, `max by (instance) (node_load1{` + s + `})`, false},
		)
	} else if inst := c.busyNodeInstances(); inst != "" {
		s := `instance=~` + inst
		qs = append(qs,
			metricQuery{analyze.MetricNodeCPU, `1 - avg by (instance) (rate(node_cpu_seconds_total{` + s + `,mode="idle"}[5m]))`, false},
			metricQuery{analyze.MetricNodeLoad, `max by (instance) (node_load1{` + s + `})`, false},
		)
	}
	if sel, by := edgeSelector(c.ev, ns); sel != "" {
		qs = append(qs, metricQuery{analyze.MetricHTTP5xxRatio,
			`sum by (` + by + `) (rate(nginx_ingress_controller_requests{` + sel + `,status=~"5.."}[5m])) / sum by (` + by + `) (rate(nginx_ingress_controller_requests{` + sel + `}[5m]))`, false})
	}
	// Certificate expiry: collectCertExpiry.
	return qs
}

// nodeInstances returns a quoted regex matching the node-exporter
// instances of the target's nodes: the alert's own instance, or each
// node's name and addresses with any port.
func (c *collector) nodeInstances() string {
	l := c.ev.Alert.Labels
	var alts []string
	if c.ev.Target.Kind == "Node" && l["instance"] != "" {
		alts = append(alts, regexp.QuoteMeta(l["instance"]))
	}
	if c.ev.Target.Kind == "Node" || strings.Contains(strings.ToLower(c.ev.Alert.Name), "node") || strings.Contains(strings.ToLower(c.ev.Alert.Name), "cpu") {
		for _, n := range c.ev.Nodes {
			alts = append(alts, regexp.QuoteMeta(n.Name)+"(:[0-9]+)?")
			for _, a := range n.Status.Addresses {
				alts = append(alts, regexp.QuoteMeta(a.Address)+"(:[0-9]+)?")
			}
		}
		if len(c.ev.Nodes) == 0 && c.ev.Target.Kind == "Node" {
			alts = append(alts, regexp.QuoteMeta(c.ev.Target.Name)+"(:[0-9]+)?")
		}
	}
	if len(alts) == 0 {
		return ""
	}
	return q(strings.Join(alts, "|"))
}

// collectMetrics runs the standard queries. Nodes are known only after
// collectKube, so node queries use what resolveTarget found.
func (c *collector) collectMetrics(ctx context.Context) {
	if c.prom == nil {
		c.unchecked("metrics (memory, CPU, throttling, disk, error ratios)", c.e.whyMissing("metrics", "prometheus.url is not configured"))
		return
	}
	var fns []func(context.Context)
	for _, mq := range c.standardQueries() {
		fns = append(fns, func(ctx context.Context) { c.runMetric(ctx, mq.purpose, mq.query, mq.instant) })
	}
	c.parallel(ctx, fns...)
}

func (c *collector) runMetric(ctx context.Context, purpose, query string, instant bool) {
	mark := len(c.rec.Calls())
	defer c.cite("metric/"+purpose, mark)
	var res *promql.Result
	var err error
	if instant {
		res, err = c.prom.Instant(ctx, query, c.end)
	} else {
		res, err = c.prom.Range(ctx, query, c.start, c.end, 0)
	}
	if err != nil {
		c.unchecked("metric "+purpose, err.Error())
		return
	}
	if !instant {
		c.chart(purpose, query, res)
	}
	series := make([]analyze.Series, 0, len(res.Series))
	for _, s := range res.Series {
		as := analyze.Series{Labels: s.Labels}
		for _, p := range s.Points {
			as.Points = append(as.Points, analyze.Point{T: p.T, V: p.V})
		}
		series = append(series, as)
	}
	c.mu.Lock()
	c.ev.Metrics[purpose] = append(c.ev.Metrics[purpose], series...)
	c.mu.Unlock()
}
