package analyze

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// certSoonAlerted is how close an expiry must be when the alert itself is
// about a certificate: the rule already judged it (blackbox's 20 days,
// cert-manager's 21, some teams 30).
const certSoonAlerted = 30 * 24 * time.Hour

// analyzeCertificates finds certificates that expired or are about to, and
// the object holding each one: from the blackbox exporter's and
// cert-manager's metrics, cert-manager Certificates, and log lines that
// reject an expired certificate. The object to fix is the Secret (or the
// cert-manager Certificate that writes it) on the request path: an
// Ingress's spec.tls for the probed host, or the TLS volume of the pods
// that serve it; sleuth never reads Secret data, so the certificate is
// traced through what references it.
func analyzeCertificates(ev *Evidence, out *Output) {
	if certFromMetrics(ev, out) || certFromObjects(ev, out) || certFromLogs(ev, out) {
		return
	}
	if len(ev.Metrics[MetricCertExpiry])+len(ev.Metrics[MetricProbeCertNotAfter])+len(ev.Metrics[MetricCertManagerCertNotAfter]) > 0 {
		out.Check("certificates valid for more than %d days", int(certSoon.Hours()/24))
	}
}

// certObservation is one certificate's expiry from a metric.
type certObservation struct {
	labels   map[string]string
	notAfter time.Time // zero when only the time left is known
	left     time.Duration
	purpose  string
}

func certObservations(ev *Evidence) []certObservation {
	var obs []certObservation
	for _, s := range ev.Metrics[MetricCertExpiry] {
		if v, ok := s.Last(); ok {
			obs = append(obs, certObservation{labels: s.Labels, left: time.Duration(v) * time.Second, purpose: MetricCertExpiry})
		}
	}
	for _, purpose := range []string{MetricProbeCertNotAfter, MetricCertManagerCertNotAfter} {
		for _, s := range ev.Metrics[purpose] {
			if v, ok := s.Last(); ok && v > 0 {
				t := time.Unix(int64(v), 0).UTC()
				obs = append(obs, certObservation{labels: s.Labels, notAfter: t, left: t.Sub(ev.Now), purpose: purpose})
			}
		}
	}
	// The soonest first: it is the one that breaks first.
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].left < obs[j].left })
	return obs
}

func certFromMetrics(ev *Evidence, out *Output) bool {
	limit := certSoon
	if certRelated(ev.Alert.Name) {
		limit = certSoonAlerted
	}
	for _, o := range certObservations(ev) {
		if o.left > limit {
			continue
		}
		obj, via := certObject(ev, o.labels, o.purpose == MetricCertManagerCertNotAfter)
		what := or(o.labels["instance"], or(o.labels["name"], obj.String()))
		state := expiryState(ev, o.left, o.notAfter)
		f := report.Finding{
			Category: report.CertificateExpiry, Object: obj, Score: 0.9,
			Title:    fmt.Sprintf("the TLS certificate of %s %s", what, state),
			Evidence: cite(ev, "metric/"+o.purpose, "ingress/"+obj.Namespace, "object/"+obj.Kind+"/"+obj.Namespace+"/"+obj.Name),
		}
		if via != "" {
			f.Detail = fmt.Sprintf("the certificate is held in %s (%s)", obj, via)
		}
		f.Remediation = certRemediation(obj)
		out.Find(f)
		return true
	}
	return false
}

func certFromObjects(ev *Evidence, out *Output) bool {
	keys := make([]string, 0, len(ev.Objects))
	for key := range ev.Objects {
		if strings.HasPrefix(key, "Certificate/") {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		o := ev.Objects[key]
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
			Title:       fmt.Sprintf("Certificate %s %s", ref, expiryState(ev, t.Sub(ev.Now), t)),
			Detail:      certificateConditions(o),
			Evidence:    cite(ev, "object/"+key),
			Remediation: []string{fmt.Sprintf("Find why cert-manager does not renew %s: kubectl describe certificate -n %s %s (issuer, challenges, CertificateRequest).", ref, ref.Namespace, ref.Name)},
		})
		return true
	}
	return false
}

// certificateConditions renders a cert-manager Certificate's conditions.
func certificateConditions(o map[string]any) string {
	status, _ := o["status"].(map[string]any)
	conds, _ := status["conditions"].([]any)
	var parts []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m == nil {
			continue
		}
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%v=%v %v: %v", m["type"], m["status"], m["reason"], m["message"])))
	}
	return strings.Join(parts, "; ")
}

// expiryState renders an expiry: the date when known, and how it relates
// to when the alert fired (an alert that has fired for days is read with
// the evidence of its start, so "ago" from now would mislead).
func expiryState(ev *Evidence, left time.Duration, notAfter time.Time) string {
	if notAfter.IsZero() {
		if left <= 0 {
			return fmt.Sprintf("expired %s ago", humanDuration(-left))
		}
		return fmt.Sprintf("expires in %s", humanDuration(left))
	}
	ref := ev.Alert.StartsAt
	if ref.IsZero() {
		ref = ev.Now
	}
	at := notAfter.UTC().Format(time.RFC3339)
	switch d := notAfter.Sub(ref); {
	case d <= 0:
		return fmt.Sprintf("expired at %s (notAfter), %s before the alert fired", at, humanDuration(-d))
	default:
		return fmt.Sprintf("expires at %s (notAfter), %s after the alert fired", at, humanDuration(d))
	}
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.0f days", d.Hours()/24)
	case d >= time.Hour:
		return fmt.Sprintf("%.0fh", d.Hours())
	default:
		return d.Round(time.Minute).String()
	}
}

func certRemediation(obj report.Ref) []string {
	switch obj.Kind {
	case "Certificate":
		return []string{fmt.Sprintf("Renew the certificate: check why cert-manager does not (kubectl describe certificate -n %s %s; its CertificateRequest, Order and Challenge), fix the issuer, then cmctl renew -n %s %s.", obj.Namespace, obj.Name, obj.Namespace, obj.Name)}
	case "Secret":
		return []string{fmt.Sprintf("Re-issue the certificate held in Secret %s/%s and replace it (kubectl create secret tls %s -n %s --cert=... --key=... --dry-run=client -o yaml | kubectl apply -f -); if cert-manager writes it, renew its Certificate (cmctl renew). Restart the pods that read it from a volume if they do not reload it.", obj.Namespace, obj.Name, obj.Name, obj.Namespace)}
	}
	return []string{fmt.Sprintf("Renew the certificate served by %s and replace the Secret holding it.", obj)}
}

// certRelated reports whether an alert name is about certificates.
func certRelated(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "cert") || strings.Contains(n, "ssl") || strings.Contains(n, "tls")
}

// certObject names the object to fix for a certificate metric: the
// cert-manager Certificate the series names, else the Secret an Ingress
// serves for the probed host (or the Certificate that writes it), else a
// Certificate for the host, else the TLS Secret the serving pods mount;
// via says how it was traced.
func certObject(ev *Evidence, l map[string]string, fromCertManager bool) (report.Ref, string) {
	ns := or(l["exported_namespace"], or(l["namespace"], ev.Target.Namespace))
	switch {
	case l["name"] != "" && (fromCertManager || l["issuer_kind"] != "" || strings.Contains(l["__name__"], "certmanager")):
		return report.Ref{Kind: "Certificate", Namespace: ns, Name: l["name"]}, "named by the cert-manager metric"
	case l["certificate"] != "":
		return report.Ref{Kind: "Certificate", Namespace: ns, Name: l["certificate"]}, "named by the metric"
	case l["secret_name"] != "":
		return report.Ref{Kind: "Secret", Namespace: or(l["secret_namespace"], ns), Name: l["secret_name"]}, "named by the metric"
	}
	host := or(hostOf(l["instance"]), ev.ProbedHost)
	if s := ingressTLSSecrets(ev.Ingresses, host); len(s) > 0 {
		if c, ok := certificateFor(ev, s[0].ref, ""); ok {
			return c, s[0].via + ", written by Certificate " + c.Name
		}
		return s[0].ref, s[0].via
	}
	if host != "" {
		if c, ok := certificateFor(ev, report.Ref{}, host); ok {
			return c, "its dnsNames include " + host
		}
	}
	if s := podTLSSecrets(ev.Pods); len(s) > 0 {
		return s[0].ref, s[0].via
	}
	if s := ingressTLSSecrets(ev.Ingresses, ""); len(s) == 1 {
		return s[0].ref, s[0].via
	}
	keys := make([]string, 0)
	for key := range ev.Objects {
		if strings.HasPrefix(key, "Certificate/") {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		parts := strings.SplitN(keys[0], "/", 3)
		if len(parts) == 3 {
			return report.Ref{Kind: "Certificate", Namespace: parts[1], Name: parts[2]}, ""
		}
	}
	if !ev.Workload.IsZero() {
		return ev.Workload, ""
	}
	if !ev.Target.IsZero() {
		return ev.Target, ""
	}
	return report.Ref{Kind: "Service", Namespace: ns, Name: or(l["service"], l["instance"])}, ""
}

// certificateFor finds the cert-manager Certificate that writes a Secret,
// or whose dnsNames include a host.
func certificateFor(ev *Evidence, secret report.Ref, host string) (report.Ref, bool) {
	keys := make([]string, 0)
	for key := range ev.Objects {
		if strings.HasPrefix(key, "Certificate/") {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		o := ev.Objects[key]
		md, _ := o["metadata"].(map[string]any)
		spec, _ := o["spec"].(map[string]any)
		ref := report.Ref{Kind: "Certificate", Namespace: fmt.Sprint(md["namespace"]), Name: fmt.Sprint(md["name"])}
		if !secret.IsZero() && spec["secretName"] == secret.Name && ref.Namespace == secret.Namespace {
			return ref, true
		}
		if host != "" {
			names, _ := spec["dnsNames"].([]any)
			for _, n := range names {
				if s, ok := n.(string); ok && hostMatches(s, host) {
					return ref, true
				}
			}
		}
	}
	return report.Ref{}, false
}

// hostOf returns the host name of a probe's instance: a URL, a host:port
// or a bare host.
func hostOf(instance string) string {
	if instance == "" {
		return ""
	}
	if strings.Contains(instance, "://") {
		u, err := url.Parse(instance)
		if err != nil {
			return ""
		}
		return strings.ToLower(u.Hostname())
	}
	h := instance
	if i := strings.IndexAny(h, "/"); i >= 0 {
		h = h[:i]
	}
	if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	return strings.ToLower(h)
}

// hostMatches matches a host against a name that may be a wildcard
// ("*.acme.io" covers one label).
func hostMatches(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if pattern == host {
		return true
	}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		i := strings.IndexByte(host, '.')
		return i > 0 && host[i+1:] == rest
	}
	return false
}

// tlsSecret is a Secret holding a certificate, found through what
// references it.
type tlsSecret struct {
	ref report.Ref
	via string
}

// ingressTLSSecrets returns the Secrets of the Ingresses' spec.tls entries
// for the host (any host when empty).
func ingressTLSSecrets(ings []networkingv1.Ingress, host string) []tlsSecret {
	var out []tlsSecret
	seen := map[string]bool{}
	for _, ing := range ings {
		for _, t := range ing.Spec.TLS {
			if t.SecretName == "" {
				continue
			}
			match := host == ""
			for _, h := range t.Hosts {
				if host != "" && hostMatches(h, host) {
					match = true
				}
			}
			if !match || seen[ing.Namespace+"/"+t.SecretName] {
				continue
			}
			seen[ing.Namespace+"/"+t.SecretName] = true
			out = append(out, tlsSecret{
				ref: report.Ref{Kind: "Secret", Namespace: ing.Namespace, Name: t.SecretName},
				via: fmt.Sprintf("spec.tls of Ingress %s/%s for %s", ing.Namespace, ing.Name, strings.Join(t.Hosts, ",")),
			})
		}
	}
	return out
}

// tlsWords mark a secret volume as a certificate's: its name, the
// Secret's or the mount path say so.
var tlsWords = regexp.MustCompile(`(?i)(tls|ssl|cert|x509|https|pki|crt|keystore)`)

// podTLSSecrets returns the certificate Secrets the pods mount, the ones
// whose name says TLS first.
func podTLSSecrets(pods []corev1.Pod) []tlsSecret {
	var out []tlsSecret
	seen := map[string]bool{}
	add := func(p *corev1.Pod, vol, secret string) {
		mount := ""
		for _, c := range p.Spec.Containers {
			for _, m := range c.VolumeMounts {
				if m.Name == vol {
					mount = m.MountPath
				}
			}
		}
		if !tlsWords.MatchString(secret+" "+vol+" "+mount) || seen[p.Namespace+"/"+secret] {
			return
		}
		seen[p.Namespace+"/"+secret] = true
		via := fmt.Sprintf("volume %s of pod %s", vol, p.Name)
		if mount != "" {
			via += " mounted at " + mount
		}
		out = append(out, tlsSecret{ref: report.Ref{Kind: "Secret", Namespace: p.Namespace, Name: secret}, via: via})
	}
	for i := range pods {
		p := &pods[i]
		for _, v := range p.Spec.Volumes {
			switch {
			case v.Secret != nil:
				add(p, v.Name, v.Secret.SecretName)
			case v.Projected != nil:
				for _, src := range v.Projected.Sources {
					if src.Secret != nil {
						add(p, v.Name, src.Secret.Name)
					}
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Contains(strings.ToLower(out[i].ref.Name), "tls") && !strings.Contains(strings.ToLower(out[j].ref.Name), "tls")
	})
	return out
}

var (
	// ownCertRejected: the peer rejected this pod's certificate (a client
	// certificate, or the server's own when the pod is the server).
	ownCertRejected = regexp.MustCompile(`(?i)(remote error: tls: (expired|bad) certificate|alert certificate expired|client certificate (has )?expired|expired client certificate)`)
	// peerCertExpired: this pod rejected the peer's expired certificate.
	peerCertExpired = regexp.MustCompile(`(?i)(certificate has expired|certificateexpiredexception|certificate expired|certificate is expired|cert(ificate)? (has )?expired|validity check failed|certificate is not yet valid|notafter:)`)
	// certNotAfter finds the expiry date in such lines.
	certNotAfter = regexp.MustCompile(`(?i)(?:notafter[:=]\s*|is after |expired (?:at|on) )([^;)"]+?)(?:$|[;)"]|, )`)
)

// certFromLogs reads the target's log lines that reject an expired
// certificate: one the target presents (its own TLS Secret) or, more
// often, one a dependency presents (the Secret its pods mount).
func certFromLogs(ev *Evidence, out *Output) bool {
	var own, peer []string
	n := 0
	date := ""
	for _, l := range ev.Logs {
		msg := firstLine(l.Msg)
		switch {
		case ownCertRejected.MatchString(msg):
			own = appendUnique(own, msg, 3)
		case peerCertExpired.MatchString(msg):
			peer = appendUnique(peer, msg, 3)
		default:
			continue
		}
		n++
		if m := certNotAfter.FindStringSubmatch(msg); m != nil && date == "" {
			date = strings.TrimSpace(m[1])
		}
	}
	if n == 0 {
		return false
	}
	lines := append(append([]string{}, peer...), own...)
	state := "expired"
	if date != "" {
		state = "expired (notAfter " + date + ")"
	}
	find := func(obj report.Ref, title, via string) {
		f := report.Finding{
			Category: report.CertificateExpiry, Object: obj, Score: 0.9, Title: title,
		}
		keys := []string{"dependency/" + obj.Namespace + "/" + obj.Name}
		for i := range ev.Pods {
			keys = append(keys, logsKey(&ev.Pods[i]))
		}
		for _, d := range ev.Dependencies {
			keys = append(keys, "dependency/"+d.Workload.Namespace+"/"+d.Workload.Name, "dependency/"+d.Service.Namespace+"/"+d.Service.Name)
		}
		f.Evidence = cite(ev, keys...)
		var detail []string
		if via != "" {
			detail = append(detail, fmt.Sprintf("the certificate is held in %s (%s)", obj, via))
		}
		detail = append(detail, fmt.Sprintf("TLS errors in the logs of %s (%d): %s", targetName(ev), n, strings.Join(lines, " | ")))
		f.Detail = strings.Join(detail, ". ")
		f.Remediation = certRemediation(obj)
		out.Find(f)
	}
	peerSide := func() bool {
		d, s, ok := peerCertHolder(ev, lines)
		if !ok {
			return false
		}
		if !s.ref.IsZero() {
			find(s.ref, fmt.Sprintf("%s cannot connect to %s: its server certificate %s", targetName(ev), hostPort(d), state), s.via)
		} else {
			find(d.Workload, fmt.Sprintf("%s cannot connect to %s: its server certificate %s", targetName(ev), hostPort(d), state), "")
		}
		return true
	}
	ownSide := func() bool {
		s := podTLSSecrets(ev.Pods)
		if len(s) == 0 {
			return false
		}
		find(s[0].ref, fmt.Sprintf("the certificate %s presents is rejected: it %s", targetName(ev), state), s[0].via)
		return true
	}
	if len(own) > 0 && len(peer) == 0 {
		return ownSide() || peerSide()
	}
	return peerSide() || ownSide()
}

func appendUnique(list []string, s string, max int) []string {
	if len(list) >= max || contains(list, s) {
		return list
	}
	return append(list, s)
}

// peerCertHolder picks the dependency whose certificate the lines reject
// (the one they name, else the only one serving TLS from a Secret, else
// the only dependency) and the Secret its pods mount.
func peerCertHolder(ev *Evidence, lines []string) (Dependency, tlsSecret, bool) {
	text := strings.ToLower(strings.Join(lines, " "))
	var withTLS []int
	for i, d := range ev.Dependencies {
		secrets := podTLSSecrets(d.Pods)
		if len(secrets) > 0 {
			withTLS = append(withTLS, i)
		}
		if d.Host != "" && strings.Contains(text, strings.ToLower(d.Host)) {
			if len(secrets) > 0 {
				return d, secrets[0], true
			}
			return d, tlsSecret{}, !d.Workload.IsZero()
		}
	}
	if len(withTLS) == 1 {
		d := ev.Dependencies[withTLS[0]]
		return d, podTLSSecrets(d.Pods)[0], true
	}
	if len(ev.Dependencies) == 1 && !ev.Dependencies[0].Workload.IsZero() {
		return ev.Dependencies[0], tlsSecret{}, true
	}
	return Dependency{}, tlsSecret{}, false
}
