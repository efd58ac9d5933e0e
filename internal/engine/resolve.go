package engine

import (
	"context"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// Resolving a target from arbitrary label values. Alerts written by an
// application or another rule pack name a queue, a route, an exporter's
// job or service: each value that parses as a Kubernetes name (after the
// decorations of known formats are taken off) is looked up as a
// Deployment, StatefulSet, DaemonSet, CronJob, Service or Ingress, in the
// alert's namespace and then across the cluster; only a unique match is
// taken.

// nameRef is a name a label value may denote, with the namespace the value
// carries, if any.
type nameRef struct{ Namespace, Name string }

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	portLike = regexp.MustCompile(`^([0-9]{1,5}|https?|grpcs?|h2c?|tcp|udp|web|websecure|metrics|http-[a-z0-9]+|[a-z]+-port)$`)
	hashLike = regexp.MustCompile(`^[0-9a-f]{6,}$`)
)

// ignoredLabels carry values that never name an object.
var ignoredLabels = map[string]bool{
	"alertname": true, "severity": true, "namespace": true, "exported_namespace": true, "prometheus": true,
	"prometheus_replica": true, "alertgroup": true, "alertstate": true, "team": true, "owner": true, "priority": true,
	"env": true, "environment": true, "cluster": true, "region": true, "zone": true, "le": true, "quantile": true,
	"method": true, "code": true, "status": true, "status_code": true, "uri": true, "path": true, "url": true,
	"grpc_code": true, "grpc_method": true, "grpc_type": true, "reason": true, "phase": true, "condition": true,
	"endpoint": true, "instance": true, "pod_ip": true, "host_ip": true, "uid": true, "receiver": true,
	"tier": true, "slo": true, "sloth_id": true, "sloth_slo": true, "sloth_window": true, "window": true,
	"protocol": true, "scheme": true, "entrypoint": true, "le_bucket": true, "version": true, "image": true,
	"runbook": true, "runbook_url": true, "dashboard": true, "page": true, "oncall": true, "category": true,
}

// workloadLabels name the application itself: besides object names, their
// values are matched against the pod template's app labels.
var workloadLabels = []string{
	"app", "application", "app_kubernetes_io_name", "app_kubernetes_io_instance", "k8s_app", "workload",
	"destination_workload", "source_workload", "service", "service_name", "exported_service", "job", "container",
	"destination_service_name", "destination_app", "name", "component", "server", "upstream", "backend",
	"route", "router", "cluster_name", "envoy_cluster_name", "target", "exported_job", "deployment_name",
}

var appLabelKeys = []string{"app", "app.kubernetes.io/name", "app.kubernetes.io/instance", "k8s-app"}

// genericValues are words that happen to be valid names but mean nothing.
var genericValues = map[string]bool{
	"true": true, "false": true, "none": true, "null": true, "default": true, "unknown": true, "warning": true,
	"critical": true, "info": true, "error": true, "errors": true, "high": true, "low": true, "page": true,
	"ticket": true, "prod": true, "production": true, "staging": true, "dev": true, "kubernetes": true,
	"kubernetescrd": true, "http": true, "https": true, "grpc": true, "tcp": true, "udp": true, "get": true,
	"post": true, "put": true, "delete": true, "websecure": true, "metrics": true,
}

var decorations = []string{"-svc", "-service", "-metrics", "-headless", "-http", "-https", "-grpc", "-internal", "-public", "-monitor", "-servicemonitor", "-podmonitor"}

// isExporterValue tells the scrape job or Service of an exporter (the
// series' producer, not its subject).
func isExporterValue(v string) bool {
	return strings.Contains(v, "exporter") || isScrapeService(v)
}

// nameCandidates parses a label value into the names it may denote, most
// specific first: Envoy/Istio cluster names, DNS names, Traefik router and
// service names, ns/name pairs, and plain names with common suffixes off.
func nameCandidates(v string) []nameRef {
	v = strings.TrimSpace(strings.ToLower(v))
	if v == "" || len(v) > 253 {
		return nil
	}
	var out []nameRef
	seen := map[nameRef]bool{}
	add := func(ns, name string) {
		if !validName(name) || (ns != "" && !dnsLabel.MatchString(ns)) {
			return
		}
		r := nameRef{ns, name}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	addPlain := func(ns, name string) {
		add(ns, name)
		for _, d := range decorations {
			if strings.HasSuffix(name, d) {
				add(ns, strings.TrimSuffix(name, d))
			}
		}
	}
	// URL: its host.
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
		if j := strings.IndexAny(v, "/?#"); j >= 0 {
			v = v[:j]
		}
	}
	// Envoy/Istio: outbound|8080||name.ns.svc.cluster.local, inbound|8080||.
	if strings.Contains(v, "|") {
		parts := strings.Split(v, "|")
		for i := len(parts) - 1; i >= 0; i-- {
			if strings.Contains(parts[i], ".") {
				return append(out, nameCandidates(parts[i])...)
			}
		}
		return nil
	}
	// Traefik: <ns>-<name>-<port>@kubernetes(crd), name@file.
	if i := strings.LastIndex(v, "@"); i > 0 {
		provider := v[i+1:]
		v = v[:i]
		if strings.HasPrefix(provider, "kubernetes") {
			for _, r := range dashedNsName(v) {
				addPlain(r.Namespace, r.Name)
			}
		}
		addPlain("", v)
		return out
	}
	// host:port
	if i := strings.LastIndex(v, ":"); i > 0 && portLike.MatchString(v[i+1:]) {
		v = v[:i]
	}
	// ns/name (kube-prometheus job names, Contour's ns/name/port).
	if strings.Contains(v, "/") {
		parts := strings.Split(v, "/")
		if len(parts) >= 2 && dnsLabel.MatchString(parts[0]) {
			addPlain(parts[0], parts[1])
		}
		return out
	}
	// DNS names: name.ns.svc.cluster.local, name.ns.svc, name.ns.
	if strings.Contains(v, ".") {
		parts := strings.Split(v, ".")
		if len(parts) >= 2 && dnsLabel.MatchString(parts[0]) && dnsLabel.MatchString(parts[1]) &&
			(len(parts) == 2 || parts[2] == "svc" || parts[2] == "pod") {
			addPlain(parts[1], parts[0])
		}
		return out
	}
	addPlain("", v)
	// Envoy Gateway/Contour style without an @: ns-name-port is only tried
	// when the last part is a port, and always checked against the cluster.
	if parts := strings.Split(v, "-"); len(parts) >= 3 && portLike.MatchString(parts[len(parts)-1]) {
		for _, r := range dashedNsName(v) {
			addPlain(r.Namespace, r.Name)
		}
	}
	return out
}

// dashedNsName splits "<ns>-<name>[-<port or hash>]" at every dash: the
// cluster decides which split is real.
func dashedNsName(v string) []nameRef {
	parts := strings.Split(v, "-")
	var out []nameRef
	last := len(parts)
	if last >= 3 && (portLike.MatchString(parts[last-1]) || hashLike.MatchString(parts[last-1])) {
		last--
	}
	for i := 1; i < last; i++ {
		out = append(out, nameRef{strings.Join(parts[:i], "-"), strings.Join(parts[i:last], "-")})
	}
	return out
}

func validName(s string) bool {
	return len(s) >= 2 && len(s) <= 63 && dnsLabel.MatchString(s) && !genericValues[s] && strings.Trim(s, "0123456789-") != ""
}

// labelOrder returns the alert's label keys: the workload-ish ones first,
// in workloadLabels' order, then the others sorted; ignored keys and
// object labels the switch already handles are left out.
func labelOrder(l map[string]string) (keys []string, workloadish map[string]bool) {
	workloadish = map[string]bool{}
	for _, k := range workloadLabels {
		if l[k] != "" {
			keys = append(keys, k)
			workloadish[k] = true
		}
	}
	var rest []string
	for k, v := range l {
		if v == "" || workloadish[k] || ignoredLabels[k] || strings.HasPrefix(k, "__") {
			continue
		}
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return append(keys, rest...), workloadish
}

// objectIndex holds the named objects of a scope (one namespace or the
// cluster), listed once.
type objectIndex struct {
	deployments  []appsv1.Deployment
	statefulsets []appsv1.StatefulSet
	daemonsets   []appsv1.DaemonSet
	cronjobs     []batchv1.CronJob
	services     []corev1.Service
	ingresses    []networkingv1.Ingress
}

const maxIndexed = 500

func (c *collector) indexObjects(ctx context.Context, ns string) *objectIndex {
	o := kube.ListOptions{Limit: maxIndexed}
	idx := &objectIndex{}
	c.parallel(ctx,
		func(ctx context.Context) {
			idx.deployments = listTypedOpts[appsv1.Deployment](ctx, c, "deployments", ns, o)
		},
		func(ctx context.Context) {
			idx.statefulsets = listTypedOpts[appsv1.StatefulSet](ctx, c, "statefulsets", ns, o)
		},
		func(ctx context.Context) {
			idx.daemonsets = listTypedOpts[appsv1.DaemonSet](ctx, c, "daemonsets", ns, o)
		},
		func(ctx context.Context) { idx.cronjobs = listTypedOpts[batchv1.CronJob](ctx, c, "cronjobs", ns, o) },
		func(ctx context.Context) { idx.services = listTypedOpts[corev1.Service](ctx, c, "services", ns, o) },
		func(ctx context.Context) {
			idx.ingresses = listTypedOpts[networkingv1.Ingress](ctx, c, "ingresses", ns, o)
		},
	)
	return idx
}

// match returns the objects named name (in ns when set), workloads first,
// and, with byAppLabel, the workloads whose pod template carries the name
// as an app label.
func (idx *objectIndex) match(ns, name string, byAppLabel bool) []report.Ref {
	var out []report.Ref
	ok := func(objNS, objName string) bool { return objName == name && (ns == "" || objNS == ns) }
	tmpl := func(objNS string, l map[string]string) bool {
		if !byAppLabel || (ns != "" && objNS != ns) {
			return false
		}
		for _, k := range appLabelKeys {
			if l[k] == name {
				return true
			}
		}
		return false
	}
	add := func(r report.Ref) {
		for _, o := range out {
			if o == r {
				return
			}
		}
		out = append(out, r)
	}
	for _, d := range idx.deployments {
		if ok(d.Namespace, d.Name) || tmpl(d.Namespace, d.Spec.Template.Labels) {
			add(report.Ref{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name})
		}
	}
	for _, s := range idx.statefulsets {
		if ok(s.Namespace, s.Name) || tmpl(s.Namespace, s.Spec.Template.Labels) {
			add(report.Ref{Kind: "StatefulSet", Namespace: s.Namespace, Name: s.Name})
		}
	}
	for _, d := range idx.daemonsets {
		if ok(d.Namespace, d.Name) || tmpl(d.Namespace, d.Spec.Template.Labels) {
			add(report.Ref{Kind: "DaemonSet", Namespace: d.Namespace, Name: d.Name})
		}
	}
	for _, j := range idx.cronjobs {
		if ok(j.Namespace, j.Name) || tmpl(j.Namespace, j.Spec.JobTemplate.Spec.Template.Labels) {
			add(report.Ref{Kind: "CronJob", Namespace: j.Namespace, Name: j.Name})
		}
	}
	for _, s := range idx.services {
		if ok(s.Namespace, s.Name) {
			add(report.Ref{Kind: "Service", Namespace: s.Namespace, Name: s.Name})
		}
	}
	for _, i := range idx.ingresses {
		if ok(i.Namespace, i.Name) {
			add(report.Ref{Kind: "Ingress", Namespace: i.Namespace, Name: i.Name})
		}
	}
	return out
}

// pick reduces a name's matches to one object: the workload when there is
// exactly one, else the Service or Ingress when there is exactly one;
// several workloads, or matches in several namespaces, are ambiguous.
func pick(refs []report.Ref) (report.Ref, bool) {
	if len(refs) == 0 {
		return report.Ref{}, false
	}
	nss := map[string]bool{}
	var workloads, edges []report.Ref
	for _, r := range refs {
		nss[r.Namespace] = true
		if r.Kind == "Service" || r.Kind == "Ingress" {
			edges = append(edges, r)
		} else {
			workloads = append(workloads, r)
		}
	}
	if len(nss) != 1 {
		return report.Ref{}, false
	}
	if len(workloads) == 1 {
		return workloads[0], true
	}
	if len(workloads) == 0 && len(edges) >= 1 {
		for _, e := range edges {
			if e.Kind == "Service" {
				return e, true
			}
		}
		return edges[0], true
	}
	return report.Ref{}, false
}

// resolveByLabels resolves the target from the alert's label values; it
// reports whether it found one.
func (c *collector) resolveByLabels(ctx context.Context, l map[string]string, ns string) bool {
	keys, workloadish := labelOrder(l)
	type cand struct {
		key string
		ref nameRef
	}
	var cands []cand
	for _, k := range keys {
		v := l[k]
		if isExporterValue(strings.ToLower(v)) {
			continue
		}
		for _, r := range nameCandidates(v) {
			if isExporterValue(r.Name) {
				continue
			}
			cands = append(cands, cand{k, r})
		}
	}
	if len(cands) == 0 {
		return false
	}
	try := func(idx *objectIndex, scope string) bool {
		for _, cd := range cands {
			cns := cd.ref.Namespace
			if scope != "" {
				if cns != "" && cns != scope {
					continue
				}
				cns = scope
			}
			ref, ok := pick(idx.match(cns, cd.ref.Name, workloadish[cd.key]))
			if !ok {
				continue
			}
			c.takeResolved(ctx, ref, cd.key, l[cd.key])
			return true
		}
		return false
	}
	if ns != "" && try(c.indexObjects(ctx, ns), ns) {
		return true
	}
	return try(c.indexObjects(ctx, ""), "")
}

// takeResolved makes ref the target and collects its pods.
func (c *collector) takeResolved(ctx context.Context, ref report.Ref, key, value string) {
	c.targetNote = "The alert names no Kubernetes object; its label " + key + "=\"" + value + "\" resolved to " +
		ref.Kind + " " + ref.Namespace + "/" + ref.Name + "."
	c.ev.Target = ref
	switch ref.Kind {
	case "Service":
		c.podsOfEdge(ctx, ref.Namespace, ref.Name, "")
	case "Ingress":
		c.podsOfEdge(ctx, ref.Namespace, "", ref.Name)
	case "CronJob":
		c.ev.Workload = ref
	default:
		c.ev.Workload = ref
		c.podsOf(ctx, kube.Ref{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}, nil)
	}
}
