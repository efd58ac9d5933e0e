package analyze

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// scrapeDown is a TargetDown on a healthy API whose metrics port (8081)
// is not the port it serves on (8080); upNow is the up series' last value.
func scrapeDown(upNow float64) *Evidence {
	ev := frontend("TargetDown")
	ev.Alert.Labels = map[string]string{"namespace": "shop", "job": "web", "service": "web"}
	ev.Pods[0].Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "management", ContainerPort: 8081}}
	vals := append(flat(1, 30), flat(upNow, 20)...)
	ev.Metrics = map[string][]Series{MetricUp: {series(map[string]string{"job": "web", "namespace": "shop", "pod": ev.Pods[0].Name, "instance": "10.244.1.10:8081"}, vals...)}}
	ev.Scrape = &ScrapeState{Namespace: "monitoring", PodName: "vmagent-0",
		Lines: []string{`cannot scrape target "http://10.244.1.10:8081/metrics": context deadline exceeded`}}
	return ev
}

func defaultDeny() networkingv1.NetworkPolicy {
	return policy("shop", "default-deny", nil, ingressOnly)
}

// allowFrom admits namespace ns (by name) on a port to the web pods.
func allowFrom(name, ns string, port int) networkingv1.NetworkPolicy {
	return policy("shop", name, map[string]string{"app.kubernetes.io/name": "web"}, ingressOnly, func(np *networkingv1.NetworkPolicy) {
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: podsWith(map[string]string{"kubernetes.io/metadata.name": ns})}},
			Ports: tcpPort(port)}}
	})
}

func sameNamespace() networkingv1.NetworkPolicy {
	return policy("shop", "allow-same-namespace", nil, ingressOnly, func(np *networkingv1.NetworkPolicy) {
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}
	})
}

func TestScrapeBlocked(t *testing.T) {
	nginxPolicy := report.Ref{Kind: "NetworkPolicy", Namespace: "shop", Name: "allow-from-ingress-nginx"}
	t.Run("default deny with an allow-list for the ingress controller only", func(t *testing.T) {
		ev := scrapeDown(0)
		ev.NetPolicies = []networkingv1.NetworkPolicy{defaultDeny(), allowFrom("allow-from-ingress-nginx", "ingress-nginx", 8080), sameNamespace()}
		rc, text, out := decided(ev)
		if rc.Category != report.NetworkPolicy || rc.Object != nginxPolicy {
			t.Fatalf("root cause = %s %v, want network-policy %v\nfindings: %+v\nchecked: %+v", rc.Category, rc.Object, nginxPolicy, out.Findings, out.Checked)
		}
		for _, m := range []string{"8081", "namespace monitoring", "default-deny denies all ingress", "context deadline exceeded", "down, for 20m"} {
			if !strings.Contains(text, m) {
				t.Errorf("report lacks %q:\n%s", m, text)
			}
		}
	})
	t.Run("without an up series the declared metrics port is judged", func(t *testing.T) {
		ev := scrapeDown(0)
		ev.Metrics = nil
		ev.NetPolicies = []networkingv1.NetworkPolicy{defaultDeny()}
		rc, text, _ := decided(ev)
		if rc.Category != report.NetworkPolicy || !strings.Contains(text, "8081") {
			t.Fatalf("root cause = %s %v, want network-policy on 8081:\n%s", rc.Category, rc.Object, text)
		}
	})
	traps := []struct {
		name string
		ev   func() *Evidence
	}{
		{"no policy isolates the pods", func() *Evidence { return scrapeDown(0) }},
		{"a policy admits the monitoring namespace on the metrics port", func() *Evidence {
			ev := scrapeDown(0)
			ev.NetPolicies = []networkingv1.NetworkPolicy{defaultDeny(), allowFrom("allow-from-ingress-nginx", "ingress-nginx", 8080), allowFrom("allow-monitoring", "monitoring", 8081)}
			return ev
		}},
		{"the scraper's namespace is unknown and a namespace selector may admit it", func() *Evidence {
			ev := scrapeDown(0)
			ev.Scrape = nil
			ev.NetPolicies = []networkingv1.NetworkPolicy{defaultDeny(), allowFrom("allow-observability", "observability", 8081)}
			return ev
		}},
	}
	for _, c := range traps {
		t.Run(c.name, func(t *testing.T) {
			rc, text, out := decided(c.ev())
			if rc.Category == report.NetworkPolicy || rc.Category == report.None {
				t.Fatalf("root cause = %s %v: the scrape still fails and no policy blocks it\nfindings: %+v", rc.Category, rc.Object, out.Findings)
			}
			if !strings.Contains(text, "the scrape still fails") {
				t.Errorf("report does not say the scrape still fails:\n%s", text)
			}
		})
	}
	t.Run("the scrape recovered: the policies are not blamed", func(t *testing.T) {
		ev := scrapeDown(1)
		ev.Alert.Status = "resolved"
		ev.NetPolicies = []networkingv1.NetworkPolicy{defaultDeny()}
		if rc, _, out := decided(ev); rc.Category == report.NetworkPolicy {
			t.Fatalf("blamed a policy for a scrape that succeeds now: %+v", out.Findings)
		}
	})
	t.Run("a crash-looping target is the pod's problem first", func(t *testing.T) {
		ev := scrapeDown(0)
		ev.Pods[0] = pod("shop", ev.Pods[0].Name, "web-6f7d8c9b5", crashing(1, "Error"), func(p *corev1.Pod) {
			p.Labels = map[string]string{"app.kubernetes.io/name": "web"}
			p.Status.PodIP = "10.244.1.10"
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "management", ContainerPort: 8081}}
		})
		ev.NetPolicies = []networkingv1.NetworkPolicy{defaultDeny()}
		ev.Alert.StartsAt = now.Add(-time.Minute)
		if rc, _, out := decided(ev); rc.Category != report.CrashLoop {
			t.Fatalf("root cause = %s, want crash-loop\nfindings: %+v", rc.Category, out.Findings)
		}
	})
}
