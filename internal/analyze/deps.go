package analyze

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// analyzeDependencies turns the services the target's logs fail to reach
// into findings: a dependency whose pods are down is the root cause; a
// healthy dependency that cannot be reached behind a NetworkPolicy points
// at the policy.
func analyzeDependencies(ev *Evidence, out *Output) {
	for _, d := range ev.Dependencies {
		if len(d.Errors) == 0 {
			continue
		}
		var bad []string
		for i := range d.Pods {
			if !podHealthy(&d.Pods[i]) {
				bad = append(bad, podState(&d.Pods[i]))
			}
		}
		obj := d.Workload
		if obj.IsZero() {
			obj = d.Service
		}
		if d.Service.IsZero() {
			continue
		}
		if len(bad) > 0 || d.ReadyEndpoints == 0 {
			f := report.Finding{
				Category: report.DependencyFailure, Object: obj, Score: 0.88,
				Title: fmt.Sprintf("%s fails because its dependency %s (%s) is down: %s ready endpoints",
					targetName(ev), d.Service.Name, d.Host, fmt.Sprint(d.ReadyEndpoints)),
				Evidence: cite(ev, "service/"+d.Service.Namespace+"/"+d.Service.Name, "dependency/"+d.Service.Namespace+"/"+d.Service.Name),
			}
			var detail []string
			if len(bad) > 0 {
				detail = append(detail, "dependency pods: "+strings.Join(bad, "; "))
			}
			detail = append(detail, "errors in the logs: "+strings.Join(d.Errors, " | "))
			f.Detail = strings.Join(detail, ". ")
			f.Remediation = []string{
				fmt.Sprintf("Fix %s first: %s is only the symptom (kubectl describe pods -n %s -l ... of %s; kubectl get endpoints -n %s %s).", obj, targetName(ev), obj.Namespace, obj, d.Service.Namespace, d.Service.Name),
			}
			if len(bad) > 0 {
				f.Remediation = append(f.Remediation, "Dependency state: "+strings.Join(bad, "; "))
			}
			out.Find(f)
			return
		}
		if np := blockingPolicy(ev, d); np != nil {
			ref := report.Ref{Kind: "NetworkPolicy", Namespace: np.Namespace, Name: np.Name}
			out.Find(report.Finding{
				Category: report.NetworkPolicy, Object: ref, Score: 0.86,
				Title: fmt.Sprintf("%s cannot reach %s although %s has %d ready endpoints: NetworkPolicy %s does not allow the traffic",
					targetName(ev), d.Host, d.Service.Name, d.ReadyEndpoints, np.Name),
				Detail:   "errors in the logs: " + strings.Join(d.Errors, " | "),
				Evidence: cite(ev, "netpol/"+np.Namespace, "service/"+d.Service.Namespace+"/"+d.Service.Name),
				Remediation: []string{fmt.Sprintf("Allow the traffic from %s to %s in NetworkPolicy %s (an ingress rule with a podSelector/namespaceSelector for the client, or an egress rule for it), then verify with a connection test from the client pod.",
					targetName(ev), d.Service, ref)},
			})
			return
		}
	}
	if len(ev.Dependencies) > 0 {
		var names []string
		for _, d := range ev.Dependencies {
			names = append(names, fmt.Sprintf("%s (%d ready endpoints)", d.Host, d.ReadyEndpoints))
		}
		out.Check("dependencies named in the logs are up: %s", strings.Join(names, ", "))
	}
}

// podState renders a pod's phase and the reason of its worst container.
func podState(p *corev1.Pod) string {
	s := fmt.Sprintf("%s %s", p.Name, p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			s += " " + c.State.Waiting.Reason
		case !c.Ready:
			s += " not ready"
		}
		if t := c.LastTerminationState.Terminated; t != nil {
			s += fmt.Sprintf(" (last exit %d %s)", t.ExitCode, t.Reason)
		}
		if c.RestartCount > 0 {
			s += fmt.Sprintf(", %d restarts", c.RestartCount)
		}
	}
	return s
}

// blockingPolicy returns a NetworkPolicy that denies traffic from the
// target's pods to the dependency's pods: one that selects the dependency
// for ingress without admitting the client, or selects the client for
// egress without admitting the dependency.
func blockingPolicy(ev *Evidence, d Dependency) *networkingv1.NetworkPolicy {
	if len(ev.Pods) == 0 || len(d.Pods) == 0 {
		return nil
	}
	client, server := &ev.Pods[0], &d.Pods[0]
	for i := range ev.NetPolicies {
		np := &ev.NetPolicies[i]
		if np.Namespace == server.Namespace && selects(np.Spec.PodSelector, server.Labels) && hasType(np, networkingv1.PolicyTypeIngress) {
			allowed := false
			for _, r := range np.Spec.Ingress {
				if len(r.From) == 0 || peersMatch(r.From, client, np.Namespace) {
					allowed = true
				}
			}
			if !allowed {
				return np
			}
		}
		if np.Namespace == client.Namespace && selects(np.Spec.PodSelector, client.Labels) && hasType(np, networkingv1.PolicyTypeEgress) {
			allowed := false
			for _, r := range np.Spec.Egress {
				if len(r.To) == 0 || peersMatch(r.To, server, np.Namespace) {
					allowed = true
				}
			}
			if !allowed {
				return np
			}
		}
	}
	return nil
}

func hasType(np *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress // the API's default
	}
	for _, pt := range np.Spec.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}

func selects(sel metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(&sel)
	return err == nil && s.Matches(labels.Set(l))
}

func peersMatch(peers []networkingv1.NetworkPolicyPeer, p *corev1.Pod, policyNS string) bool {
	for _, peer := range peers {
		if peer.IPBlock != nil {
			continue // pod IPs are not known here; do not guess
		}
		nsOK := p.Namespace == policyNS
		if peer.NamespaceSelector != nil {
			nsOK = selects(*peer.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": p.Namespace})
		}
		podOK := peer.PodSelector == nil || selects(*peer.PodSelector, p.Labels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}
