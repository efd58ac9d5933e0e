package analyze

import (
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// Thresholds. They are the ones the standard alert rules use, so that a
// finding agrees with the alert that fired.
const (
	// throttledHigh is CPUThrottlingHigh's threshold.
	throttledHigh = 0.25
	// cpuBusyHigh marks a node or container as saturated.
	cpuBusyHigh = 0.9
	// fsAvailLow is NodeFilesystemAlmostOutOfSpace's critical threshold (5%),
	// raised a little: the alert fires on the trend too.
	fsAvailLow = 0.10
	// fsHoursSoon is how soon a predicted fill counts (the 24h of
	// NodeFilesystemSpaceFillingUp).
	fsHoursSoon = 24
	// certSoon is how close an expiry must be (BlackboxSslCertificateWillExpireSoon uses 20 days, cert-manager 21).
	certSoon = 21 * 24 * time.Hour
)

func analyzeCPU(ev *Evidence, out *Output) {
	found := false
	byContainer := map[string]float64{}
	for _, s := range ev.Metrics[MetricCPUThrottled] {
		if v, ok := s.Max(); ok && v >= throttledHigh {
			k := s.Labels["pod"] + "/" + s.Labels["container"]
			byContainer[k] = max(byContainer[k], v)
		}
	}
	for k, ratio := range byContainer {
		pod, container, _ := strings.Cut(k, "/")
		obj := ev.Workload
		for i := range ev.Pods {
			if ev.Pods[i].Name == pod {
				obj = culprit(ev, &ev.Pods[i])
			}
		}
		if obj.IsZero() {
			obj = ev.Target
		}
		limit := cpuLimit(ev, pod, container)
		f := report.Finding{
			Category: report.CPUThrottling, Object: obj, Score: 0.8,
			Title:    fmt.Sprintf("container %s of pod %s is CPU-throttled in %s of its periods", container, pod, pct(ratio)),
			Evidence: cite(ev, "metric/"+MetricCPUThrottled, "metric/"+MetricCPUUsage, "metric/"+MetricCPULimit),
		}
		var detail []string
		if limit != "" {
			detail = append(detail, "CPU limit "+limit)
		}
		if u, ok := maxOf(seriesFor(ev, MetricCPUUsage, pod, container)); ok {
			detail = append(detail, fmt.Sprintf("usage up to %.2f cores", u))
		}
		f.Detail = strings.Join(detail, "; ")
		f.Remediation = []string{fmt.Sprintf("Raise the CPU limit of container %s in %s (now %s), or remove the limit and keep the request; throttling adds latency even when average usage looks low.", container, obj, or(limit, "unset"))}
		out.Find(f)
		found = true
		break
	}
	// Saturation: a node, or a workload using far more than it reserved.
	if nodeSaturation(ev, out) {
		found = true
	}
	if !found && workloadSaturation(ev, out) {
		found = true
	}
	if !found {
		if len(ev.Metrics[MetricCPUThrottled])+len(ev.Metrics[MetricNodeCPU])+len(ev.Metrics[MetricCPUUsage]) > 0 {
			out.Check("CPU: no throttling above %s, no saturation", pct(throttledHigh))
		}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cpuLimit(ev *Evidence, pod, container string) string {
	for _, p := range ev.Pods {
		if p.Name != pod {
			continue
		}
		for _, c := range p.Spec.Containers {
			if c.Name == container || container == "" {
				if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
					return q.String()
				}
			}
		}
	}
	if v, ok := lastOf(seriesFor(ev, MetricCPULimit, pod, container)); ok && v > 0 {
		return fmt.Sprintf("%gm", math.Round(v*1000))
	}
	return ""
}

func cpuRequest(ev *Evidence, pod, container string) float64 {
	for _, p := range ev.Pods {
		if p.Name != pod {
			continue
		}
		for _, c := range p.Spec.Containers {
			if c.Name == container || container == "" {
				if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
					return q.AsApproximateFloat64()
				}
			}
		}
	}
	return 0
}

func nodeFromInstance(ev *Evidence, instance string) string {
	host := instance
	if i := strings.LastIndex(host, ":"); i > 0 {
		host = host[:i]
	}
	for _, n := range ev.Nodes {
		if n.Name == host {
			return n.Name
		}
		for _, a := range n.Status.Addresses {
			if a.Address == host {
				return n.Name
			}
		}
	}
	return ""
}

func analyzeDisk(ev *Evidence, out *Output) {
	for _, s := range ev.Metrics[MetricPVCAvailRatio] {
		v, ok := s.Last()
		if !ok || v > fsAvailLow {
			continue
		}
		ref := report.Ref{Kind: "PersistentVolumeClaim", Namespace: s.Labels["namespace"], Name: s.Labels["persistentvolumeclaim"]}
		f := report.Finding{
			Category: report.DiskPressure, Object: ref, Score: 0.85,
			Title:       fmt.Sprintf("volume %s has %s free", ref.Name, pct(v)),
			Evidence:    cite(ev, "metric/"+MetricPVCAvailRatio),
			Remediation: []string{fmt.Sprintf("Grow PersistentVolumeClaim %s (edit spec.resources.requests.storage if its StorageClass allows expansion) or delete data (retention, old backups, WAL).", ref)},
		}
		volumeDetail(ev, s, ref, &f)
		out.Find(f)
		return
	}
	for _, s := range ev.Metrics[MetricFSAvailRatio] {
		v, ok := s.Last()
		if !ok {
			continue
		}
		hours := math.Inf(1)
		for _, h := range ev.Metrics[MetricFSHoursToFull] {
			if h.Labels["instance"] == s.Labels["instance"] && h.Labels["mountpoint"] == s.Labels["mountpoint"] {
				if hv, ok := h.Last(); ok && hv >= 0 {
					hours = hv
				}
			}
		}
		if v > fsAvailLow && hours > fsHoursSoon {
			continue
		}
		if slope, ok := slopePerHour(s, fsTrendWindow); v > fsAvailLow && ok && slope >= 0 {
			continue // the prediction extrapolates a fill that has stopped
		}
		node := or(s.Labels["node"], nodeFromInstance(ev, s.Labels["instance"]))
		obj := report.Ref{Kind: "Node", Name: node}
		if node == "" {
			obj = report.Ref{Kind: "Node", Name: strings.Split(s.Labels["instance"], ":")[0]}
		}
		title := fmt.Sprintf("filesystem %s on %s has %s free", s.Labels["mountpoint"], obj.Name, pct(v))
		if !math.IsInf(hours, 1) {
			title += fmt.Sprintf(", full in about %.0f hours at the current rate", hours)
		}
		out.Find(report.Finding{
			Category: report.DiskPressure, Object: obj, Score: 0.85,
			Title:    title,
			Evidence: cite(ev, "metric/"+MetricFSAvailRatio, "metric/"+MetricFSHoursToFull),
			Remediation: []string{
				fmt.Sprintf("Find what fills %s on %s (du -xh --max-depth=2 %s; container logs and images: crictl rmi --prune) and free it or grow the disk.", s.Labels["mountpoint"], obj.Name, or(s.Labels["mountpoint"], "/")),
			},
		})
		return
	}
	if len(ev.Metrics[MetricFSAvailRatio])+len(ev.Metrics[MetricPVCAvailRatio]) > 0 {
		out.Check("filesystems above %s free and not filling within %dh", pct(fsAvailLow), fsHoursSoon)
	}
}
