package engine

import (
	"context"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// podsOfEdge resolves an alert about the edge (a Service, an Ingress) to
// the pods that serve it, following the request path: the Ingress (kept
// for its TLS), the Service the alert names, the Ingress's backends; and
// when none of them selects a pod, the controller named like the Service
// or the Ingress (rules often carry the app's name in "service" even
// where no Service of that name exists).
func (c *collector) podsOfEdge(ctx context.Context, ns, service, ingress string) {
	var ing *networkingv1.Ingress
	if ingress != "" {
		mark := len(c.rec.Calls())
		i, err := c.kube.Ingress(ctx, ns, ingress)
		c.kubeErr("ingress "+ns+"/"+ingress, err)
		if err == nil {
			ing = i
			c.ev.Ingresses = append(c.ev.Ingresses, *i)
			c.cite("ingress/"+ns, mark)
		} else if notFound(err) {
			// The alert's namespace is the ingress controller's: the
			// Ingress lives with the application.
			if other, ok := c.ingressElsewhere(ctx, ingress, c.ev.Alert.Labels["host"]); ok && other != ns {
				c.resolveAppEdge(ctx, other, "", ingress)
				return
			}
		}
	}
	if service != "" && c.podsOfService(ctx, ns, service) {
		return
	}
	if ing != nil {
		for _, b := range backendServices(ing) {
			if b != service && c.podsOfService(ctx, ns, b) {
				return
			}
		}
	}
	for _, name := range []string{service, ingress} {
		if name == "" {
			continue
		}
		if w, ok := c.controllerNamed(ctx, ns, name, nil); ok {
			c.ev.Workload = w
			c.podsOf(ctx, kube.Ref{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}, nil)
			return
		}
	}
}

// podsOfService takes the pods the Service selects and their controller;
// it reports whether it found any.
func (c *collector) podsOfService(ctx context.Context, ns, name string) bool {
	svc, err := c.kube.Service(ctx, ns, name)
	c.kubeErr("service "+ns+"/"+name, err)
	if err != nil {
		return false
	}
	c.ev.Services = append(c.ev.Services, *svc) // its ports name what scrapes and probes use
	if len(svc.Spec.Selector) == 0 {
		return false
	}
	list, err := c.kube.Pods(ctx, ns, kube.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	c.kubeErr("pods of service "+name, err)
	if err != nil || len(list.Items) == 0 {
		return false
	}
	c.setPods(list.Items)
	c.topOwnerOf(ctx, &c.ev.Pods[0])
	return true
}

// backendServices lists the Services an Ingress routes to, in rule order.
func backendServices(ing *networkingv1.Ingress) []string {
	var out []string
	add := func(b *networkingv1.IngressServiceBackend) {
		if b != nil && !contains(out, b.Name) {
			out = append(out, b.Name)
		}
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			add(p.Backend.Service)
		}
	}
	if b := ing.Spec.DefaultBackend; b != nil {
		add(b.Service)
	}
	return out
}

// probeHost returns the host name a probe alert is about: the host of a
// URL instance (blackbox's http module), or of a host:port instance when
// the alert or job says it is a probe. Node exporters' IP:port instances
// are not probes.
func probeHost(l map[string]string) string {
	inst := firstOf(l, "instance", "target")
	if inst == "" {
		return ""
	}
	host := ""
	switch {
	case strings.Contains(inst, "://"):
		u, err := url.Parse(inst)
		if err != nil {
			return ""
		}
		host = u.Hostname()
	case strings.Contains(strings.ToLower(l["job"]+" "+l["alertname"]+" "+l["module"]), "probe") ||
		strings.Contains(strings.ToLower(l["job"]+" "+l["alertname"]), "blackbox") || certAlert(l["alertname"]):
		host = inst
		if h, _, err := net.SplitHostPort(inst); err == nil {
			host = h
		}
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" || net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return ""
	}
	return host
}

// resolveProbe finds what serves a probed host name: an Ingress whose
// rules or TLS entries name it, else a Service annotated for it (external
// DNS), else a workload whose pod template names it (--hostname=...,
// an env value).
func (c *collector) resolveProbe(ctx context.Context, host string) {
	c.ev.ProbedHost = host
	// A cluster name (a blackbox probe of a Service from inside) is that
	// Service.
	if strings.Contains(host, ".svc") {
		if name, ns := serviceName(host, ""); name != "" && ns != "" {
			c.ev.Target = report.Ref{Kind: "Service", Namespace: ns, Name: name}
			c.podsOfEdge(ctx, ns, name, "")
			return
		}
	}
	for _, ing := range listTypedOpts[networkingv1.Ingress](ctx, c, "ingresses", "", kube.ListOptions{Limit: 500}) {
		if !ingressServes(&ing, host) {
			continue
		}
		c.ev.Target = report.Ref{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name}
		c.ev.Ingresses = append(c.ev.Ingresses, ing)
		for _, b := range backendServices(&ing) {
			if c.podsOfService(ctx, ing.Namespace, b) {
				break
			}
		}
		return
	}
	for _, svc := range listTypedOpts[corev1.Service](ctx, c, "services", "", kube.ListOptions{Limit: 500}) {
		for _, h := range strings.Split(svc.Annotations["external-dns.alpha.kubernetes.io/hostname"], ",") {
			if strings.TrimSpace(strings.TrimSuffix(h, ".")) == host {
				c.ev.Target = report.Ref{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
				c.podsOfService(ctx, svc.Namespace, svc.Name)
				return
			}
		}
	}
	// The server names its own host in its arguments (--hostname=...);
	// clients name it too, mostly in env values, so arguments rank first.
	var best report.Ref
	bestRank := 0
	consider := func(w report.Ref, t *corev1.PodTemplateSpec) {
		if r := templateNames(t, host); r > bestRank {
			best, bestRank = w, r
		}
	}
	for _, d := range listTypedOpts[appsv1.Deployment](ctx, c, "deployments", "", kube.ListOptions{Limit: 500}) {
		consider(report.Ref{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name}, &d.Spec.Template)
	}
	for _, s := range listTypedOpts[appsv1.StatefulSet](ctx, c, "statefulsets", "", kube.ListOptions{Limit: 500}) {
		consider(report.Ref{Kind: "StatefulSet", Namespace: s.Namespace, Name: s.Name}, &s.Spec.Template)
	}
	if best.IsZero() {
		c.unchecked("what serves "+host, "no Ingress, annotated Service or workload in the cluster names this host")
		return
	}
	c.ev.Target, c.ev.Workload = best, best
	c.podsOf(ctx, kube.Ref{Kind: best.Kind, Namespace: best.Namespace, Name: best.Name}, nil)
}

func ingressServes(ing *networkingv1.Ingress, host string) bool {
	for _, r := range ing.Spec.Rules {
		if hostMatches(r.Host, host) {
			return true
		}
	}
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			if hostMatches(h, host) {
				return true
			}
		}
	}
	return false
}

// hostMatches matches a host against a name that may be a wildcard
// ("*.acme.io" covers one label).
func hostMatches(pattern, host string) bool {
	pattern = strings.ToLower(pattern)
	if pattern == host {
		return true
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		i := strings.IndexByte(host, '.')
		return i > 0 && host[i+1:] == rest
	}
	return false
}

// templateNames ranks how a pod template names the host as a whole
// word: 2 in its command or arguments, 1 in an env value, 0 not at all.
func templateNames(t *corev1.PodTemplateSpec, host string) int {
	re := regexp.MustCompile(`(?i)(^|[^a-z0-9.-])` + regexp.QuoteMeta(host) + `($|[^a-z0-9-])`)
	rank := 0
	for _, ct := range t.Spec.Containers {
		for _, a := range append(append([]string{}, ct.Command...), ct.Args...) {
			if re.MatchString(a) {
				return 2
			}
		}
		for _, e := range ct.Env {
			if re.MatchString(e.Value) {
				rank = 1
			}
		}
	}
	return rank
}

func certAlert(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "cert") || strings.Contains(n, "ssl") || strings.Contains(n, "tls")
}

// certificates reads cert-manager Certificates when the CRD is installed.
func (c *collector) certificates(ctx context.Context, ns string) {
	mark := len(c.rec.Calls())
	list, err := c.kube.List(ctx, "certificates.cert-manager.io", ns, kube.ListOptions{Limit: 50})
	if err != nil {
		return // cert-manager is optional; the metrics may still tell
	}
	c.mu.Lock()
	for _, u := range list.Items {
		c.ev.Objects["Certificate/"+u.GetNamespace()+"/"+u.GetName()] = u.Object
	}
	c.mu.Unlock()
	for _, u := range list.Items {
		c.cite("object/Certificate/"+u.GetNamespace()+"/"+u.GetName(), mark)
	}
}

// maxCertLookBack bounds how far back the last expiry sample is looked
// for: the exporters' expiry series are absolute timestamps, so the last
// sample stays true until the certificate changes.
const maxCertLookBack = 400 * 24 * time.Hour

// collectCertExpiry reads, for a certificate alert (or a probe of an
// https URL), the notAfter of the
// probed endpoint's certificate (blackbox) and of the cert-manager
// Certificate the alert names, as their last values. An alert that has
// fired for days is read past the investigation window: its expiry series
// keep being scraped, and their last sample is the current certificate.
func (c *collector) collectCertExpiry(ctx context.Context) {
	l := c.ev.Alert.Labels
	// A failing probe of an https URL may be its certificate: read it too.
	https := strings.HasPrefix(strings.ToLower(l["instance"]), "https://")
	if c.prom == nil || !certAlert(c.ev.Alert.Name) && !https {
		return
	}
	at := c.e.now()
	if at.Before(c.end) {
		at = c.end
	}
	span := min(max(at.Sub(c.start), time.Hour), maxCertLookBack)
	window := strconv.Itoa(int(span.Hours())+1) + "h"
	if inst := l["instance"]; inst != "" {
		c.instantAt(ctx, analyze.MetricProbeCertNotAfter, `last_over_time(probe_ssl_earliest_cert_expiry{instance=`+q(inst)+`}[`+window+`])`, at)
	}
	if !certAlert(c.ev.Alert.Name) {
		return
	}
	// x509-certificate-exporter watches Secrets and names them.
	if secret := l["secret_name"]; secret != "" {
		sel := `secret_name=` + q(secret)
		if ns := firstOf(l, "secret_namespace", "namespace"); ns != "" {
			sel += `,secret_namespace=` + q(ns)
		}
		c.instantAt(ctx, analyze.MetricProbeCertNotAfter, `last_over_time(x509_cert_not_after{`+sel+`}[`+window+`])`, at)
	}
	var sel []string
	// Scraped without honor_labels, the Certificate's namespace is
	// exported_namespace; the alert carries the label the series has.
	if ns := l["exported_namespace"]; ns != "" {
		sel = append(sel, `exported_namespace=`+q(ns))
	} else if ns := l["namespace"]; ns != "" {
		sel = append(sel, `namespace=`+q(ns))
	}
	if l["name"] != "" {
		sel = append(sel, `name=`+q(l["name"]))
	}
	if len(sel) > 0 {
		c.instantAt(ctx, analyze.MetricCertManagerCertNotAfter, `last_over_time(certmanager_certificate_expiration_timestamp_seconds{`+strings.Join(sel, ",")+`}[`+window+`])`, at)
	}
}

// instantAt runs an instant query at a time and stores its series.
func (c *collector) instantAt(ctx context.Context, purpose, query string, at time.Time) {
	mark := len(c.rec.Calls())
	defer c.cite("metric/"+purpose, mark)
	res, err := c.prom.Instant(ctx, query, at)
	if err != nil {
		c.unchecked("metric "+purpose, err.Error())
		return
	}
	c.addSeries(purpose, res)
}

func (c *collector) addSeries(purpose string, res *promql.Result) {
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

// edgeSelector selects the ingress controller's request series of the
// alert's Ingress (or, without one, of the Service it routes to): the
// error ratio there is what an edge alert measures.
func edgeSelector(ev *analyze.Evidence, ns string) (sel, by string) {
	l := ev.Alert.Labels
	ingress := l["ingress"]
	if ingress == "" && ev.Target.Kind == "Ingress" {
		ingress, ns = ev.Target.Name, ev.Target.Namespace
	}
	switch {
	case ns == "":
		return "", ""
	case ingress != "" && l["exported_namespace"] == ns && l["namespace"] != ns:
		// The controller's series scraped without honor_labels.
		return `exported_namespace=` + q(ns) + `,ingress=` + q(ingress), "ingress"
	case ingress != "":
		return `namespace=` + q(ns) + `,ingress=` + q(ingress), "ingress"
	case l["service"] != "" && !isScrapeService(l["service"]):
		return `namespace=` + q(ns) + `,service=` + q(l["service"]), "service"
	}
	return "", ""
}
