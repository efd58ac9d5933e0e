package analyze

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// DNSState is the cluster DNS (CoreDNS or kube-dns) as the investigation
// found it.
type DNSState struct {
	// Service is the resolver's Service (kube-system/kube-dns), when found.
	Service report.Ref
	// Workload owns the resolver's pods.
	Workload report.Ref
	Pods     []corev1.Pod
	// PodErrors are error lines from the logs of an unhealthy resolver pod.
	PodErrors []string
}

// dnsUnanswered matches lookups that got no answer, as Go, glibc, musl,
// Node.js and the JVM report them: the resolver is unreachable or down.
// "no such host" (NXDOMAIN) is an answer: the resolver works and the name
// does not exist, which is a configuration problem, not DNS being down.
var dnsUnanswered = regexp.MustCompile(`(?i)(lookup \S+ on \S+:53: .*(i/o timeout|connection refused|server misbehaving|no route to host|network is unreachable)|lookup \S+: (i/o timeout|temporary failure)|temporary failure in name resolution|eai_again|getaddrinfo .*(timed out|eai_again)|name resolution (timed out|failed)|unknownhostexception|dns (lookup|query|resolution) (timed out|failed)|could not resolve host)`)

// dnsResolver finds the resolver address in Go's "lookup X on IP:53".
var dnsResolver = regexp.MustCompile(`(?i)lookup \S+ on \[?([0-9a-f.:]+?)\]?:53\b`)

// IsDNSFailure reports whether a log line says a name lookup got no
// answer: the resolver is unreachable or down.
func IsDNSFailure(msg string) bool { return dnsUnanswered.MatchString(msg) }

// dnsFailures returns up to three distinct sample lines of the target's
// failed lookups, how many there were, and the resolver they name.
func dnsFailures(ev *Evidence) (samples []string, n int, resolver string) {
	for _, l := range ev.Logs {
		if !dnsUnanswered.MatchString(l.Msg) {
			continue
		}
		n++
		msg := firstLine(l.Msg)
		if len(samples) < 3 && !contains(samples, msg) {
			samples = append(samples, msg)
		}
		if m := dnsResolver.FindStringSubmatch(l.Msg); m != nil && resolver == "" {
			resolver = m[1]
		}
	}
	return samples, n, resolver
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// analyzeDNS follows failed name lookups to their cause: an egress
// NetworkPolicy of the client that does not let DNS out, or the cluster's
// resolver being down. A resolver that is down is a finding even without
// failed lookups in the target's logs (every name lookup of the cluster
// fails), but a weaker one.
func analyzeDNS(ev *Evidence, out *Output) {
	samples, n, resolver := dnsFailures(ev)
	if n > 0 && len(ev.Pods) > 0 {
		if np, why := dnsEgressBlocker(ev, resolver); np != nil {
			ref := report.Ref{Kind: "NetworkPolicy", Namespace: np.Namespace, Name: np.Name}
			out.Find(report.Finding{
				Category: report.NetworkPolicy, Object: ref, Score: 0.9,
				Title: fmt.Sprintf("%s cannot resolve names: NetworkPolicy %s blocks its DNS traffic (port 53/UDP to the cluster resolver%s)",
					targetName(ev), np.Name, or(" "+resolver, "")),
				Detail:   fmt.Sprintf("NetworkPolicy %s/%s selects pod %s for egress, and %s. Failed lookups in the logs (%d): %s", ref.Namespace, ref.Name, ev.Pods[0].Name, why, n, strings.Join(samples, " | ")),
				Evidence: cite(ev, "netpol/"+np.Namespace, logsKey(&ev.Pods[0])),
				Remediation: []string{
					fmt.Sprintf("Add an egress rule to NetworkPolicy %s/%s allowing UDP and TCP port 53 to the cluster DNS (namespaceSelector kubernetes.io/metadata.name: kube-system, podSelector k8s-app: kube-dns), then check with: kubectl exec -n %s %s -- nslookup kubernetes.default", ref.Namespace, ref.Name, ev.Pods[0].Namespace, ev.Pods[0].Name),
				},
			})
			return
		}
	}
	if d := ev.DNS; d != nil && len(d.Pods) > 0 {
		var bad []string
		ready := 0
		for i := range d.Pods {
			if podHealthy(&d.Pods[i]) {
				ready++
			} else {
				bad = append(bad, podState(&d.Pods[i]))
			}
		}
		if ready == 0 || (len(bad) > 0 && n > 0) {
			obj := d.Workload
			if obj.IsZero() {
				obj = d.Service
			}
			score := 0.72
			if n > 0 {
				score = 0.9
			}
			if ready > 0 {
				score -= 0.15 // some resolvers still answer
			}
			f := report.Finding{
				Category: report.DependencyFailure, Object: obj, Score: score,
				Title:    fmt.Sprintf("the cluster DNS (%s) is down: %d of %d pods ready, so name lookups fail for %s", obj, ready, len(d.Pods), targetName(ev)),
				Evidence: cite(ev, "dns"),
			}
			var detail []string
			detail = append(detail, "resolver pods: "+strings.Join(bad, "; "))
			if len(d.PodErrors) > 0 {
				detail = append(detail, "resolver logs: "+strings.Join(d.PodErrors, " | "))
			}
			if n > 0 {
				detail = append(detail, fmt.Sprintf("failed lookups in the logs of %s (%d): %s", targetName(ev), n, strings.Join(samples, " | ")))
			}
			f.Detail = strings.Join(detail, ". ")
			f.Remediation = []string{
				fmt.Sprintf("Fix the resolver first: every workload that resolves names fails until it answers. Read why it exits: kubectl logs -n %s %s --previous", obj.Namespace, d.Pods[0].Name),
				fmt.Sprintf("CoreDNS exits on a bad Corefile (a forwarding loop, an unknown plugin): check the recent changes of its ConfigMap (kubectl get configmap -n %s -o yaml) and revert them; kubectl rollout restart -n %s %s/%s once fixed.", obj.Namespace, obj.Namespace, strings.ToLower(obj.Kind), obj.Name),
			}
			out.Find(f)
			return
		}
	}
	switch {
	case n > 0:
		out.Check("%d failed name lookups in the logs (%s), but no NetworkPolicy blocks DNS and the resolver looks healthy", n, samples[0])
	case ev.DNS != nil && len(ev.DNS.Pods) > 0:
		out.Check("cluster DNS %s: %s ready", or(ev.DNS.Workload.String(), ev.DNS.Service.String()), plural(len(ev.DNS.Pods), "pod", "pods"))
	}
}

// dnsEgressBlocker returns the egress NetworkPolicy that keeps the
// target's pods from the cluster resolver, with the reason.
func dnsEgressBlocker(ev *Evidence, resolverIP string) (*networkingv1.NetworkPolicy, string) {
	f := flow{client: &ev.Pods[0], serverNS: "kube-system", serverLabels: map[string]string{"k8s-app": "kube-dns"},
		serverIP: resolverIP, port: 53, portName: "dns", protocol: corev1.ProtocolUDP}
	if d := ev.DNS; d != nil {
		if !d.Service.IsZero() {
			f.serverNS = d.Service.Namespace
		}
		if len(d.Pods) > 0 {
			f.serverNS, f.serverLabels = d.Pods[0].Namespace, d.Pods[0].Labels
			if resolverIP == "" {
				f.serverIP = d.Pods[0].Status.PodIP
			}
		}
	}
	v := egressVerdict(ev.NetPolicies, f)
	if !v.blocked {
		return nil, ""
	}
	np := blame(v.selecting, f, false)
	return np, whyBlocked(np, f, false)
}
