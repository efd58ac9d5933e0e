package analyze

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// NetworkPolicy semantics as the analyzers need them: a pod that no policy
// selects for a direction accepts all traffic in that direction; once one
// selects it, only what some selecting policy allows passes. Policies add
// up, none denies on its own, so the verdict is over all of them, and the
// one to blame is the one meant to admit the traffic.

// flow is one connection to judge, from a client pod to a server.
type flow struct {
	client *corev1.Pod
	// The server: its namespace and labels, and its IP when known.
	serverNS     string
	serverLabels map[string]string
	serverIP     string
	// port and portName are the server's (pod) port; 0 and "" when
	// unknown, and then any port of a rule counts.
	port     int32
	portName string
	protocol corev1.Protocol
}

// verdict is what the policies of one direction decide about a flow.
type verdict struct {
	blocked bool
	// selecting are the policies that select the pod in that direction.
	selecting []*networkingv1.NetworkPolicy
}

// ingressVerdict judges the flow at the server's side.
func ingressVerdict(nps []networkingv1.NetworkPolicy, f flow) verdict {
	var v verdict
	allowed := false
	for i := range nps {
		np := &nps[i]
		if np.Namespace != f.serverNS || !selects(np.Spec.PodSelector, f.serverLabels) || !hasType(np, networkingv1.PolicyTypeIngress) {
			continue
		}
		v.selecting = append(v.selecting, np)
		for _, r := range np.Spec.Ingress {
			if portsMatch(r.Ports, f) && (len(r.From) == 0 || clientMatches(r.From, f, np.Namespace)) {
				allowed = true
			}
		}
	}
	v.blocked = len(v.selecting) > 0 && !allowed
	return v
}

// egressVerdict judges the flow at the client's side.
func egressVerdict(nps []networkingv1.NetworkPolicy, f flow) verdict {
	var v verdict
	allowed := false
	for i := range nps {
		np := &nps[i]
		if np.Namespace != f.client.Namespace || !selects(np.Spec.PodSelector, f.client.Labels) || !hasType(np, networkingv1.PolicyTypeEgress) {
			continue
		}
		v.selecting = append(v.selecting, np)
		for _, r := range np.Spec.Egress {
			if portsMatch(r.Ports, f) && (len(r.To) == 0 || serverMatches(r.To, f, np.Namespace)) {
				allowed = true
			}
		}
	}
	v.blocked = len(v.selecting) > 0 && !allowed
	return v
}

// blame picks, among the policies that select a blocked pod, the one to
// fix: one with a rule for the flow's port (it was meant to admit this
// traffic and its peers miss the client), else one written for these pods
// (a non-empty podSelector) rather than a namespace-wide default deny.
func blame(selecting []*networkingv1.NetworkPolicy, f flow, ingress bool) *networkingv1.NetworkPolicy {
	rank := func(np *networkingv1.NetworkPolicy) int {
		r := 0
		if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) > 0 {
			r++
		}
		if f.port != 0 || f.portName != "" {
			if ingress {
				for _, rule := range np.Spec.Ingress {
					if len(rule.Ports) > 0 && portsMatch(rule.Ports, f) {
						r += 2
					}
				}
			} else {
				for _, rule := range np.Spec.Egress {
					if len(rule.Ports) > 0 && portsMatch(rule.Ports, f) {
						r += 2
					}
				}
			}
		}
		return r
	}
	if len(selecting) == 0 {
		return nil
	}
	best := selecting[0]
	for _, np := range selecting[1:] {
		if rank(np) > rank(best) {
			best = np
		}
	}
	return best
}

// whyBlocked explains in one sentence why a policy lets the flow through
// nowhere, quoting its rules and the labels they miss.
func whyBlocked(np *networkingv1.NetworkPolicy, f flow, ingress bool) string {
	var peers []string
	var ports []string
	rules := 0
	if ingress {
		for _, r := range np.Spec.Ingress {
			rules++
			if len(r.Ports) == 0 || portsMatch(r.Ports, f) {
				peers = append(peers, describePeers(r.From)...)
			}
			ports = append(ports, describePorts(r.Ports)...)
		}
	} else {
		for _, r := range np.Spec.Egress {
			rules++
			if len(r.Ports) == 0 || portsMatch(r.Ports, f) {
				peers = append(peers, describePeers(r.To)...)
			}
			ports = append(ports, describePorts(r.Ports)...)
		}
	}
	dir, other := "ingress", "from the client"
	if !ingress {
		dir, other = "egress", "to the destination"
	}
	switch {
	case rules == 0:
		return fmt.Sprintf("it selects the pods for %s and has no %s rules: it denies all %s traffic", dir, dir, dir)
	case len(peers) > 0:
		who := "client pod " + f.client.Name + " (labels " + labelString(f.client.Labels) + ")"
		if !ingress {
			who = "the destination (namespace " + f.serverNS + ", labels " + labelString(f.serverLabels) + ")"
		}
		return fmt.Sprintf("its %s rules for %s admit only %s, which %s does not match", dir, portText(f), strings.Join(dedupe(peers), ", "), who)
	default:
		return fmt.Sprintf("its %s rules allow only %s; none allows %s %s", dir, strings.Join(dedupe(ports), ", "), portText(f), other)
	}
}

func portText(f flow) string {
	proto := string(f.protocol)
	if proto == "" {
		proto = "TCP"
	}
	switch {
	case f.port != 0:
		return fmt.Sprintf("port %d/%s", f.port, proto)
	case f.portName != "":
		return fmt.Sprintf("port %s/%s", f.portName, proto)
	}
	return "the port"
}

func describePeers(peers []networkingv1.NetworkPolicyPeer) []string {
	var out []string
	for _, p := range peers {
		var parts []string
		if p.NamespaceSelector != nil {
			parts = append(parts, "namespaces "+selectorString(p.NamespaceSelector))
		}
		if p.PodSelector != nil {
			parts = append(parts, "pods "+selectorString(p.PodSelector))
		}
		if p.IPBlock != nil {
			s := "ipBlock " + p.IPBlock.CIDR
			if len(p.IPBlock.Except) > 0 {
				s += " except " + strings.Join(p.IPBlock.Except, ",")
			}
			parts = append(parts, s)
		}
		out = append(out, strings.Join(parts, " and "))
	}
	return out
}

func describePorts(ports []networkingv1.NetworkPolicyPort) []string {
	var out []string
	for _, p := range ports {
		proto := "TCP"
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		port := "any"
		if p.Port != nil {
			port = p.Port.String()
		}
		out = append(out, port+"/"+proto)
	}
	return out
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil || sel.Empty() {
		return "(all)"
	}
	return sel.String()
}

func labelString(l map[string]string) string {
	if len(l) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		if k == "pod-template-hash" || k == "controller-revision-hash" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

func hasType(np *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(np.Spec.PolicyTypes) == 0 {
		// The API's default: Ingress, plus Egress when egress rules exist.
		return t == networkingv1.PolicyTypeIngress || (t == networkingv1.PolicyTypeEgress && len(np.Spec.Egress) > 0)
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

// portsMatch reports whether a rule's ports admit the flow's port. A port
// without a protocol is TCP, as the API defaults it: a rule for "53"
// alone does not admit DNS over UDP.
func portsMatch(ports []networkingv1.NetworkPolicyPort, f flow) bool {
	if len(ports) == 0 {
		return true
	}
	want := f.protocol
	if want == "" {
		want = corev1.ProtocolTCP
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if proto != want {
			continue
		}
		if p.Port == nil || (f.port == 0 && f.portName == "") {
			return true
		}
		if p.Port.Type == intstr.String {
			if p.Port.StrVal == f.portName {
				return true
			}
			continue
		}
		lo := p.Port.IntVal
		hi := lo
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if f.port >= lo && f.port <= hi {
			return true
		}
	}
	return false
}

// namespaceMatches judges a namespaceSelector knowing only a namespace's
// name (its kubernetes.io/metadata.name label): a selector on other labels
// cannot be judged and counts as a match, so no policy is blamed on a
// guess.
func namespaceMatches(sel *metav1.LabelSelector, ns string) bool {
	for k := range sel.MatchLabels {
		if k != "kubernetes.io/metadata.name" {
			return true
		}
	}
	for _, e := range sel.MatchExpressions {
		if e.Key != "kubernetes.io/metadata.name" {
			return true
		}
	}
	return selects(*sel, map[string]string{"kubernetes.io/metadata.name": ns})
}

// ipMatches judges an ipBlock; an unknown IP counts as a match.
func ipMatches(b *networkingv1.IPBlock, ip string) bool {
	addr := net.ParseIP(ip)
	if addr == nil {
		return true
	}
	_, cidr, err := net.ParseCIDR(b.CIDR)
	if err != nil || !cidr.Contains(addr) {
		return false
	}
	for _, e := range b.Except {
		if _, ex, err := net.ParseCIDR(e); err == nil && ex.Contains(addr) {
			return false
		}
	}
	return true
}

func clientMatches(peers []networkingv1.NetworkPolicyPeer, f flow, policyNS string) bool {
	p := f.client
	for _, peer := range peers {
		if peer.IPBlock != nil {
			if ipMatches(peer.IPBlock, p.Status.PodIP) {
				return true
			}
			continue
		}
		nsOK := p.Namespace == policyNS
		if peer.NamespaceSelector != nil {
			nsOK = namespaceMatches(peer.NamespaceSelector, p.Namespace)
		}
		podOK := peer.PodSelector == nil || selects(*peer.PodSelector, p.Labels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func serverMatches(peers []networkingv1.NetworkPolicyPeer, f flow, policyNS string) bool {
	for _, peer := range peers {
		if peer.IPBlock != nil {
			if ipMatches(peer.IPBlock, f.serverIP) {
				return true
			}
			continue
		}
		nsOK := f.serverNS == policyNS
		if peer.NamespaceSelector != nil {
			nsOK = namespaceMatches(peer.NamespaceSelector, f.serverNS)
		}
		podOK := peer.PodSelector == nil || selects(*peer.PodSelector, f.serverLabels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

// dependencyFlow builds the flow from the target's first pod to a pod of
// the dependency, on the dependency's pod port when it can be told.
func dependencyFlow(ev *Evidence, d Dependency) (flow, bool) {
	if len(ev.Pods) == 0 || len(d.Pods) == 0 {
		return flow{}, false
	}
	server := &d.Pods[0]
	for i := range d.Pods {
		if podHealthy(&d.Pods[i]) {
			server = &d.Pods[i]
			break
		}
	}
	f := flow{client: &ev.Pods[0], serverNS: server.Namespace, serverLabels: server.Labels, serverIP: server.Status.PodIP, protocol: corev1.ProtocolTCP}
	port, _ := strconv.Atoi(d.Port)
	var all []corev1.ContainerPort
	for _, c := range server.Spec.Containers {
		all = append(all, c.Ports...)
	}
	for _, cp := range all {
		if port != 0 && cp.ContainerPort == int32(port) {
			f.port, f.portName = cp.ContainerPort, cp.Name
		}
	}
	if f.port == 0 && len(all) == 1 {
		// The Service maps its port to the pod's only one.
		f.port, f.portName = all[0].ContainerPort, all[0].Name
	}
	if f.port == 0 && port != 0 && len(all) == 0 {
		f.port = int32(port)
	}
	return f, true
}

// blockingPolicy returns the NetworkPolicy that denies traffic from the
// target's pods to the dependency's pods, with the reason: at the
// dependency's side (ingress) or at the client's (egress).
func blockingPolicy(ev *Evidence, d Dependency) (*networkingv1.NetworkPolicy, string) {
	f, ok := dependencyFlow(ev, d)
	if !ok {
		return nil, ""
	}
	if v := ingressVerdict(ev.NetPolicies, f); v.blocked {
		np := blame(v.selecting, f, true)
		return np, whyBlocked(np, f, true)
	}
	if v := egressVerdict(ev.NetPolicies, f); v.blocked {
		np := blame(v.selecting, f, false)
		return np, whyBlocked(np, f, false)
	}
	return nil, ""
}
