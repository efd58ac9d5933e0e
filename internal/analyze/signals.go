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
	// Saturation: a node or a container using (nearly) all it can.
	for _, s := range ev.Metrics[MetricNodeCPU] {
		v, ok := s.Last()
		if !ok || v < cpuBusyHigh {
			continue
		}
		node := s.Labels["node"]
		if node == "" {
			node = nodeFromInstance(ev, s.Labels["instance"])
		}
		obj := report.Ref{Kind: "Node", Name: node}
		top := topConsumer(ev)
		f := report.Finding{
			Category: report.CPUSaturation, Object: obj, Score: 0.7,
			Title:    fmt.Sprintf("node %s CPU is %s busy", or(node, s.Labels["instance"]), pct(v)),
			Evidence: cite(ev, "metric/"+MetricNodeCPU, "metric/"+MetricCPUUsage),
		}
		if top != "" {
			f.Detail = "largest consumer: " + top
		}
		f.Remediation = []string{fmt.Sprintf("Find what consumes the CPU on %s (kubectl top pods -A --sort-by=cpu) and scale it out or move it; add capacity if the load is legitimate.", or(node, "the node"))}
		out.Find(f)
		found = true
		break
	}
	if !found {
		for _, s := range ev.Metrics[MetricCPUUsage] {
			u, ok := s.Last()
			if !ok {
				continue
			}
			lim := 0.0
			if ls := seriesFor(ev, MetricCPULimit, s.Labels["pod"], s.Labels["container"]); len(ls) > 0 {
				lim, _ = lastOf(ls)
			}
			req := cpuRequest(ev, s.Labels["pod"], s.Labels["container"])
			if lim == 0 && req > 0 && u >= 2*req && strings.Contains(strings.ToLower(ev.Alert.Name), "cpu") {
				obj := ev.Workload
				if obj.IsZero() {
					obj = ev.Target
				}
				out.Find(report.Finding{
					Category: report.CPUSaturation, Object: obj, Score: 0.7,
					Title:       fmt.Sprintf("container %s of pod %s uses %.2f cores, %.0fx its request, with no limit", s.Labels["container"], s.Labels["pod"], u, u/req),
					Evidence:    cite(ev, "metric/"+MetricCPUUsage),
					Remediation: []string{fmt.Sprintf("The load exceeds what %s was sized for: scale it out (more replicas or an HPA) and raise its CPU request to the real use.", obj)},
				})
				found = true
				break
			}
		}
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

func topConsumer(ev *Evidence) string {
	best, bestV := "", 0.0
	for _, s := range ev.Metrics[MetricCPUUsage] {
		if v, ok := s.Last(); ok && v > bestV {
			best, bestV = fmt.Sprintf("%s/%s (%.2f cores)", s.Labels["namespace"], s.Labels["pod"], v), v
		}
	}
	return best
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
		out.Find(report.Finding{
			Category: report.DiskPressure, Object: ref, Score: 0.85,
			Title:       fmt.Sprintf("volume %s has %s free", ref.Name, pct(v)),
			Evidence:    cite(ev, "metric/"+MetricPVCAvailRatio),
			Remediation: []string{fmt.Sprintf("Grow PersistentVolumeClaim %s (edit spec.resources.requests.storage if its StorageClass allows expansion) or delete data (retention, old backups, WAL).", ref)},
		})
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

func analyzeCertificates(ev *Evidence, out *Output) {
	for _, s := range ev.Metrics[MetricCertExpiry] {
		v, ok := s.Last()
		if !ok || time.Duration(v)*time.Second > certSoon {
			continue
		}
		obj := certObject(ev, s.Labels)
		state := fmt.Sprintf("expires in %s", (time.Duration(v) * time.Second).Round(time.Hour))
		if v <= 0 {
			state = fmt.Sprintf("expired %s ago", (time.Duration(-v) * time.Second).Round(time.Hour))
		}
		out.Find(report.Finding{
			Category: report.CertificateExpiry, Object: obj, Score: 0.9,
			Title:       fmt.Sprintf("the TLS certificate of %s %s", or(s.Labels["instance"], obj.String()), state),
			Evidence:    cite(ev, "metric/"+MetricCertExpiry),
			Remediation: []string{fmt.Sprintf("Renew the certificate (%s): with cert-manager, check the Certificate's status and its issuer (kubectl describe certificate -n %s %s; cmctl renew); otherwise replace the Secret holding it.", obj, obj.Namespace, obj.Name)},
		})
		return
	}
	for key, o := range ev.Objects {
		if !strings.HasPrefix(key, "Certificate/") {
			continue
		}
		status, _ := o["status"].(map[string]any)
		notAfter, _ := status["notAfter"].(string)
		t, err := time.Parse(time.RFC3339, notAfter)
		if err != nil || t.Sub(ev.Now) > certSoon {
			continue
		}
		md, _ := o["metadata"].(map[string]any)
		ref := report.Ref{Kind: "Certificate", Namespace: fmt.Sprint(md["namespace"]), Name: fmt.Sprint(md["name"])}
		out.Find(report.Finding{
			Category: report.CertificateExpiry, Object: ref, Score: 0.9,
			Title:       fmt.Sprintf("Certificate %s expires at %s", ref, notAfter),
			Evidence:    cite(ev, "object/"+key),
			Remediation: []string{fmt.Sprintf("Find why cert-manager does not renew %s: kubectl describe certificate -n %s %s (issuer, challenges, CertificateRequest).", ref, ref.Namespace, ref.Name)},
		})
		return
	}
	if len(ev.Metrics[MetricCertExpiry]) > 0 {
		out.Check("certificates valid for more than %d days", int(certSoon.Hours()/24))
	}
}

// certObject names the object to fix for a certificate metric: the
// cert-manager Certificate when the series names one, else the Secret or
// the Ingress that serves it, else the probed target.
func certObject(ev *Evidence, l map[string]string) report.Ref {
	ns := or(l["namespace"], or(l["exported_namespace"], ev.Target.Namespace))
	switch {
	case l["name"] != "" && (l["issuer_kind"] != "" || strings.Contains(l["__name__"], "certmanager")):
		return report.Ref{Kind: "Certificate", Namespace: ns, Name: l["name"]}
	case l["certificate"] != "":
		return report.Ref{Kind: "Certificate", Namespace: ns, Name: l["certificate"]}
	case l["secret_name"] != "":
		return report.Ref{Kind: "Secret", Namespace: ns, Name: l["secret_name"]}
	}
	for key := range ev.Objects {
		if strings.HasPrefix(key, "Certificate/") {
			parts := strings.SplitN(key, "/", 3)
			if len(parts) == 3 {
				return report.Ref{Kind: "Certificate", Namespace: parts[1], Name: parts[2]}
			}
		}
	}
	if !ev.Target.IsZero() {
		return ev.Target
	}
	return report.Ref{Kind: "Service", Namespace: ns, Name: or(l["service"], l["instance"])}
}

func analyzeAutoscaling(ev *Evidence, out *Output) {
	for _, h := range ev.HPAs {
		if h.Status.CurrentReplicas < h.Spec.MaxReplicas && h.Status.DesiredReplicas <= h.Spec.MaxReplicas {
			continue
		}
		limited := false
		for _, c := range h.Status.Conditions {
			if c.Type == "ScalingLimited" && c.Status == corev1.ConditionTrue {
				limited = true
			}
		}
		if !limited && h.Status.CurrentReplicas < h.Spec.MaxReplicas {
			continue
		}
		ref := report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: h.Namespace, Name: h.Name}
		out.Find(report.Finding{
			Category: report.ScalingLimit, Object: ref, Score: 0.78,
			Title:    fmt.Sprintf("HPA %s is at its maximum of %d replicas (desired %d) for %s/%s", h.Name, h.Spec.MaxReplicas, h.Status.DesiredReplicas, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name),
			Evidence: cite(ev, "hpa/"+h.Namespace+"/"+h.Name),
			Remediation: []string{
				fmt.Sprintf("Raise spec.maxReplicas of HorizontalPodAutoscaler %s (now %d) if the cluster has room, or make each replica handle more (CPU request, performance).", ref, h.Spec.MaxReplicas),
			},
		})
		return
	}
	if len(ev.HPAs) > 0 {
		out.Check("%s below their maximum", plural(len(ev.HPAs), "autoscaler", "autoscalers"))
	}
}
