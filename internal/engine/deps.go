package engine

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// maxDependencies bounds the peers examined per investigation.
const maxDependencies = 4

// peer is a candidate dependency of the target: a host it fails to reach
// or is configured to use.
type peer struct {
	host, port string
	// source is "logs", or the configuration that names the peer.
	source string
	lines  []string
}

// collectDependencies follows the request path past the target, as an
// SRE would: the peers its failing log lines name (a Service, its
// ClusterIP, or a port only its configuration maps to a host), then the
// peers its configuration names (env URLs, host:port values), which are
// the suspects when the lines say "timed out" without a peer or there are
// no logs. Each is read down to its endpoints, pods, workload and replica
// count. The cluster DNS is read when lookups fail, or the alert is about
// the edge (a Service, an Ingress, a probed URL) or finds no pods.
func (c *collector) collectDependencies(ctx context.Context) {
	if c.kube == nil {
		return
	}
	ns := c.ev.Target.Namespace
	if ns == "" {
		ns = c.ev.Workload.Namespace
	}
	var lines []string
	c.mu.Lock() // runbook steps may add lines meanwhile
	for _, l := range c.ev.Logs {
		lines = append(lines, l.Msg)
	}
	pods := c.ev.Pods
	c.mu.Unlock()
	if ns != "" && len(pods) > 0 {
		c.collectPeers(ctx, ns, lines, pods)
	}
	if c.wantDNS(lines, pods) {
		c.collectDNS(ctx)
	}
}

func (c *collector) collectPeers(ctx context.Context, ns string, lines []string, pods []corev1.Pod) {
	configured := configuredPeers(pods)
	for _, cp := range c.configMapPeers(ctx, pods) {
		dup := false
		for _, have := range configured {
			dup = dup || have.host == cp.host
		}
		if !dup {
			configured = append(configured, cp)
		}
	}
	var cands []peer
	var services []corev1.Service // listed once, for ClusterIPs
	for _, h := range hostsInLogs(lines) {
		if net.ParseIP(h.Host) == nil {
			cands = append(cands, peer{host: h.Host, port: h.Port, source: "logs", lines: h.Lines})
			continue
		}
		// An IP: a Service's ClusterIP, else the configured peer on the
		// same port ("ECONNREFUSED 10.96.118.42:6379" with REDIS_URL
		// pointing at redis:6379).
		if services == nil {
			services = listTypedOpts[corev1.Service](ctx, c, "services", "", kube.ListOptions{Limit: 500})
		}
		if svc := serviceByIP(services, h.Host); svc != nil {
			cands = append(cands, peer{host: svc.Name + "." + svc.Namespace + ".svc", port: h.Port, source: "logs", lines: h.Lines})
			continue
		}
		for _, cp := range configured {
			if cp.port != "" && cp.port == h.Port {
				cands = append(cands, peer{host: cp.host, port: cp.port, source: "logs", lines: h.Lines})
				break
			}
		}
	}
	// Failing lines that name no peer ("Connect timed out", a certificate
	// error) are quoted with the configured peers, the suspects.
	var unnamed []string
	for _, l := range lines {
		if (failureLine.MatchString(l) || certFailure.MatchString(l)) && len(hostsInLogs([]string{l})) == 0 && len(unnamed) < 3 {
			if t := truncate(strings.TrimSpace(l), 300); !contains(unnamed, t) {
				unnamed = append(unnamed, t)
			}
		}
	}
	for _, cp := range configured {
		cands = append(cands, peer{host: cp.host, port: cp.port, source: cp.source, lines: unnamed})
	}
	seen := map[string]bool{}
	n := 0
	for _, p := range cands {
		if n == maxDependencies {
			break
		}
		svc, w, ok := c.resolvePeer(ctx, p.host, ns)
		if !ok {
			continue
		}
		key := w.String()
		if svc != nil {
			key = svc.Namespace + "/" + svc.Name
			if c.servesTarget(svc) {
				continue
			}
		} else if w == c.ev.Workload {
			continue
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		n++
		c.dependency(ctx, p, svc, w)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func serviceByIP(services []corev1.Service, ip string) *corev1.Service {
	for i := range services {
		if services[i].Spec.ClusterIP == ip {
			return &services[i]
		}
	}
	return nil
}

// resolvePeer finds what a host name means in the cluster: the Service of
// that name (in the namespace the name says, else the target's), else a
// workload of that name (a StatefulSet reached through its headless
// Service, or a Service that does not exist).
func (c *collector) resolvePeer(ctx context.Context, host, ns string) (*corev1.Service, report.Ref, bool) {
	name, sns := serviceName(host, ns)
	if name == "" {
		return nil, report.Ref{}, false
	}
	svc, err := c.kube.Service(ctx, sns, name)
	if err == nil {
		return svc, report.Ref{}, true
	}
	if !notFound(err) {
		c.kubeErr("service "+sns+"/"+name, err)
		return nil, report.Ref{}, false
	}
	if w, ok := c.controllerNamed(ctx, sns, name, nil); ok {
		return nil, w, true
	}
	return nil, report.Ref{}, false
}

// servesTarget reports whether the service selects the target's own pods
// (a frontend logging its own URL is not a dependency).
func (c *collector) servesTarget(svc *corev1.Service) bool {
	if len(svc.Spec.Selector) == 0 {
		return false
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	for _, p := range c.ev.Pods {
		if p.Namespace == svc.Namespace && sel.Matches(labels.Set(p.Labels)) {
			return true
		}
	}
	return false
}

// dependency reads a peer down to what serves it: the Service's ready
// endpoints and pods, the workload owning them (found by selector when it
// has no pods, e.g. scaled to zero) with its replica count and scaling
// events, an unhealthy pod's error lines, and the NetworkPolicies of its
// namespace.
func (c *collector) dependency(ctx context.Context, p peer, svc *corev1.Service, w report.Ref) {
	mark := len(c.rec.Calls())
	d := analyze.Dependency{Host: p.host, Port: p.port, Source: p.source, Errors: p.lines, Workload: w}
	ns := w.Namespace
	slices := 0
	if svc != nil {
		ns = svc.Namespace
		d.Service = report.Ref{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
		if list, err := c.kube.EndpointSlices(ctx, svc.Namespace, svc.Name); err == nil {
			slices = len(list.Items)
			for _, s := range list.Items {
				for _, ep := range s.Endpoints {
					if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
						d.ReadyEndpoints++
					}
				}
			}
		} else {
			c.kubeErr("endpoints of service "+svc.Name, err)
		}
		if len(svc.Spec.Selector) > 0 {
			list, err := c.kube.Pods(ctx, svc.Namespace, kube.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(), Limit: 20})
			c.kubeErr("pods of service "+svc.Name, err)
			if err == nil {
				d.Pods = list.Items
			}
			if len(d.Pods) > 0 {
				d.Workload = c.workloadOf(ctx, &d.Pods[0])
			} else {
				d.Workload = c.workloadSelecting(ctx, svc.Namespace, svc.Spec.Selector)
			}
		}
	} else if !w.IsZero() {
		list, err := c.kube.PodsOf(ctx, kube.Ref{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name})
		c.kubeErr("pods of "+w.String(), err)
		if err == nil {
			d.Pods = list.Items
		}
	}
	if slices == 0 {
		// No EndpointSlice to read (no Service, or none published): the
		// ready pods are the endpoints.
		d.ReadyEndpoints = 0
		for i := range d.Pods {
			if healthy(&d.Pods[i]) {
				d.ReadyEndpoints++
			}
		}
	}
	if !d.Workload.IsZero() && d.Workload.Kind != "Pod" {
		d.Replicas = c.replicasOf(ctx, d.Workload)
		d.Events = c.scalingEvents(ctx, d.Workload)
	}
	for i := range d.Pods {
		if !healthy(&d.Pods[i]) {
			d.PodErrors = c.podErrorLines(ctx, &d.Pods[i])
			break
		}
	}
	if len(d.Pods) > 0 {
		c.dependencyDisk(ctx, &d)
	}
	if ns != "" && ns != c.ev.Target.Namespace && ns != c.ev.Workload.Namespace {
		nps := listTyped[networkingv1.NetworkPolicy](ctx, c, "networkpolicies", ns)
		c.mu.Lock()
		c.ev.NetPolicies = append(c.ev.NetPolicies, nps...)
		c.mu.Unlock()
		c.cite("netpol/"+ns, mark)
	}
	c.mu.Lock()
	c.ev.Dependencies = append(c.ev.Dependencies, d)
	c.mu.Unlock()
	if !d.Service.IsZero() {
		c.cite("dependency/"+d.Service.Namespace+"/"+d.Service.Name, mark)
		c.cite("service/"+d.Service.Namespace+"/"+d.Service.Name, mark)
	}
	if !d.Workload.IsZero() {
		c.cite("dependency/"+d.Workload.Namespace+"/"+d.Workload.Name, mark)
	}
}

// workloadSelecting finds the Deployment or StatefulSet whose pod
// template a Service's selector matches: the owner of pods that do not
// exist (scaled to zero, or failing to be created).
func (c *collector) workloadSelecting(ctx context.Context, ns string, selector map[string]string) report.Ref {
	sel := labels.SelectorFromSet(selector)
	for _, d := range listTyped[appsv1.Deployment](ctx, c, "deployments", ns) {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return report.Ref{Kind: "Deployment", Namespace: ns, Name: d.Name}
		}
	}
	for _, s := range listTyped[appsv1.StatefulSet](ctx, c, "statefulsets", ns) {
		if sel.Matches(labels.Set(s.Spec.Template.Labels)) {
			return report.Ref{Kind: "StatefulSet", Namespace: ns, Name: s.Name}
		}
	}
	return report.Ref{}
}

// replicasOf reads a Deployment's or StatefulSet's desired replicas.
func (c *collector) replicasOf(ctx context.Context, w report.Ref) *int32 {
	switch w.Kind {
	case "Deployment":
		d, err := c.kube.Deployment(ctx, w.Namespace, w.Name)
		c.kubeErr("deployment "+w.Name, err)
		if err == nil {
			return replicasOr1(d.Spec.Replicas)
		}
	case "StatefulSet":
		s, err := c.kube.StatefulSet(ctx, w.Namespace, w.Name)
		c.kubeErr("statefulset "+w.Name, err)
		if err == nil {
			return replicasOr1(s.Spec.Replicas)
		}
	}
	return nil
}

// replicasOr1 applies the API's default of one replica.
func replicasOr1(r *int32) *int32 {
	if r != nil {
		return r
	}
	one := int32(1)
	return &one
}

// scalingEvents renders the workload's recent scaling events, newest last:
// "Scaled down replica set inventory-6d8b5c7f94 to 0 from 3" says who
// emptied a Service.
func (c *collector) scalingEvents(ctx context.Context, w report.Ref) []string {
	evs, err := c.kube.Events(ctx, w.Namespace, w.Kind, w.Name)
	c.kubeErr("events of "+w.String(), err)
	sort.SliceStable(evs, func(i, j int) bool { return eventTime(&evs[i]).Before(eventTime(&evs[j])) })
	var out []string
	for i := range evs {
		e := &evs[i]
		if e.Reason != "ScalingReplicaSet" && e.Reason != "SuccessfulDelete" && e.Reason != "SuccessfulCreate" {
			continue
		}
		if t := eventTime(e); t.Before(c.start) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s", eventTime(e).UTC().Format(time.RFC3339), e.Message))
	}
	if len(out) > 3 {
		out = out[len(out)-3:]
	}
	return out
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.FirstTimestamp.Time
}

// errorish matches log lines worth quoting from a failing pod.
var errorish = regexp.MustCompile(`(?i)(fatal|panic|error|exception|fail|cannot|unable|refused|abort|invalid|denied|not found|timed? ?out|unrecoverable|detected)`)

// podErrorLines reads a failing pod's last lines (VictoriaLogs, else the
// log API's previous container) and keeps up to three error lines.
func (c *collector) podErrorLines(ctx context.Context, p *corev1.Pod) []string {
	var raw []string
	if c.logs != nil {
		lines, err := c.logs.PodLogs(ctx, p.Namespace, p.Name, "", c.start, c.end.Add(time.Minute), 50)
		if err == nil {
			for _, e := range lines.Entries {
				raw = append(raw, e.Msg)
			}
		}
	}
	if len(raw) == 0 {
		for _, cs := range p.Status.ContainerStatuses {
			opts := kube.LogOptions{TailLines: 50, LimitBytes: 32 << 10, Previous: cs.RestartCount > 0}
			text, err := c.kube.Logs(ctx, p.Namespace, p.Name, cs.Name, opts)
			if err != nil {
				continue
			}
			for _, l := range parseKubeLogs(text, p, cs.Name, opts.Previous) {
				raw = append(raw, l.Msg)
			}
		}
	}
	var out []string
	for i := len(raw) - 1; i >= 0 && len(out) < 3; i-- {
		l := truncate(strings.TrimSpace(raw[i]), 300)
		if errorish.MatchString(l) && !contains(out, l) {
			out = append([]string{l}, out...)
		}
	}
	return out
}

// wantDNS says whether the cluster DNS is worth reading: lookups fail in
// the logs, or the alert is about the edge (every request path starts
// with a lookup), or no pod of the target was found.
func (c *collector) wantDNS(lines []string, pods []corev1.Pod) bool {
	for _, l := range lines {
		if analyze.IsDNSFailure(l) {
			return true
		}
	}
	switch c.ev.Target.Kind {
	case "Service", "Ingress":
		return true
	}
	if strings.Contains(strings.ToLower(c.ev.Alert.Name), "dns") {
		return true
	}
	return c.ev.ProbedHost != "" || len(pods) == 0 && !c.ev.Target.IsZero() && c.ev.Target.Kind != "Node"
}

// collectDNS reads the cluster resolver: its Service and pods (by the
// Service's selector, else the conventional k8s-app=kube-dns label that
// CoreDNS and kube-dns both carry), their workload and an unhealthy pod's
// error lines.
func (c *collector) collectDNS(ctx context.Context) {
	mark := len(c.rec.Calls())
	defer c.cite("dns", mark)
	cfg := c.e.cfg
	st := &analyze.DNSState{}
	sel := cfg.DNSSelector
	svc, err := c.kube.Service(ctx, cfg.DNSNamespace, cfg.DNSService)
	c.kubeErr("service "+cfg.DNSNamespace+"/"+cfg.DNSService, err)
	if err == nil {
		st.Service = report.Ref{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
		if len(svc.Spec.Selector) > 0 {
			sel = labels.SelectorFromSet(svc.Spec.Selector).String()
		}
	}
	list, err := c.kube.Pods(ctx, cfg.DNSNamespace, kube.ListOptions{LabelSelector: sel, Limit: 20})
	c.kubeErr("pods of the cluster DNS", err)
	if err == nil {
		st.Pods = list.Items
	}
	if len(st.Pods) == 0 && st.Service.IsZero() {
		return
	}
	if len(st.Pods) > 0 {
		st.Workload = c.workloadOf(ctx, &st.Pods[0])
	}
	for i := range st.Pods {
		if !healthy(&st.Pods[i]) {
			st.PodErrors = c.podErrorLines(ctx, &st.Pods[i])
			break
		}
	}
	c.mu.Lock()
	c.ev.DNS = st
	c.mu.Unlock()
}

// configPeer is a peer a pod's configuration names.
type configPeer struct {
	host, port string
	source     string // "env INVENTORY_URL of container app"
}

var (
	// configURL finds URLs in configuration values, JDBC's included.
	configURL = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://(?:[^@/\s]+@)?([a-z0-9][a-z0-9.-]*[a-z0-9])(?::(\d+))?`)
	// configSvc finds cluster DNS names.
	configSvc = regexp.MustCompile(`(?i)\b([a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)?\.svc(?:\.cluster\.local)?)(?::(\d+))?\b`)
	// configHostPort is a whole value of the form host:port.
	configHostPort = regexp.MustCompile(`(?i)^([a-z][a-z0-9.-]*[a-z0-9]):(\d{2,5})$`)
	// hostVar names variables that hold a bare host (DB_HOST, REDIS_ADDR).
	hostVar = regexp.MustCompile(`(?i)(^|_)(HOST|HOSTNAME|SERVER|ADDR|ADDRESS|ENDPOINT)$`)
)

// configuredPeers returns the peers the pods' containers are configured to
// use: URLs, cluster DNS names and host:port values in env values and
// arguments, and bare hosts in *_HOST variables (with the *_PORT next to
// them). Secret references are never followed.
func configuredPeers(pods []corev1.Pod) []configPeer {
	var out []configPeer
	seen := map[string]bool{}
	add := func(host, port, source string) {
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if ignorableHost(host) || net.ParseIP(host) != nil || seen[host] {
			return
		}
		seen[host] = true
		out = append(out, configPeer{host: host, port: port, source: source})
	}
	scan := func(value, source string) bool {
		found := false
		for _, re := range []*regexp.Regexp{configURL, configSvc} {
			for _, m := range re.FindAllStringSubmatch(value, -1) {
				add(m[1], m[2], source)
				found = true
			}
		}
		if m := configHostPort.FindStringSubmatch(strings.TrimSpace(value)); m != nil {
			add(m[1], m[2], source)
			found = true
		}
		return found
	}
	for i := range pods {
		if i == 2 {
			break // replicas share a template
		}
		for _, ct := range pods[i].Spec.Containers {
			vals := map[string]string{}
			for _, e := range ct.Env {
				vals[e.Name] = e.Value
			}
			for _, e := range ct.Env {
				if e.Value == "" {
					continue
				}
				src := "env " + e.Name + " of container " + ct.Name
				if scan(e.Value, src) {
					continue
				}
				if hostVar.MatchString(e.Name) && !strings.ContainsAny(e.Value, " /") {
					prefix := hostVar.ReplaceAllString(e.Name, "")
					add(e.Value, vals[prefix+"_PORT"], src)
				}
			}
			for _, a := range append(append([]string{}, ct.Command...), ct.Args...) {
				scan(a, "arguments of container "+ct.Name)
			}
		}
	}
	return out
}
