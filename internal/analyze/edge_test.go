package analyze

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// frontend is an edge alert's evidence: a healthy web frontend behind an
// Ingress, alerting on 5xx.
func frontend(alertname string) *Evidence {
	ev := &Evidence{
		Now:      now,
		Alert:    Alert{Name: alertname, Status: "firing", StartsAt: now.Add(-10 * time.Minute), Labels: map[string]string{"namespace": "shop", "ingress": "web"}},
		Target:   report.Ref{Kind: "Service", Namespace: "shop", Name: "web"},
		Workload: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "web"},
		Calls:    map[string][]string{},
	}
	ev.Pods = []corev1.Pod{pod("shop", "web-6f7d8c9b5-kx2pq", "web-6f7d8c9b5", func(p *corev1.Pod) {
		p.Labels = map[string]string{"app.kubernetes.io/name": "web"}
		p.Status.PodIP = "10.244.1.10"
	})}
	return ev
}

func logs(ev *Evidence, lines ...string) {
	for i, l := range lines {
		ev.Logs = append(ev.Logs, LogLine{Time: now.Add(time.Duration(i-len(lines)) * time.Second), Namespace: "shop", Pod: ev.Pods[0].Name, Msg: l})
	}
}

func statefulPod(ns, name, sts string, lbl map[string]string, mutate ...func(*corev1.Pod)) corev1.Pod {
	p := pod(ns, name, sts, mutate...)
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "StatefulSet", Name: sts, Controller: &yes}}
	p.Labels = lbl
	p.Status.PodIP = "10.244.2.20"
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "tcp-postgresql", ContainerPort: 5432}}
	return p
}

func int32p(v int32) *int32 { return &v }

func policy(ns, name string, sel map[string]string, types []networkingv1.PolicyType, mutate ...func(*networkingv1.NetworkPolicy)) networkingv1.NetworkPolicy {
	np := networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}, PolicyTypes: types}}
	for _, m := range mutate {
		m(&np)
	}
	return np
}

func tcpPort(p int) []networkingv1.NetworkPolicyPort {
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt(p)
	return []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}
}

func podsWith(l map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: l}
}

var ingressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
var egressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}

// postgresDep is a healthy database the frontend is configured to use.
func postgresDep(source string, errs ...string) Dependency {
	db := statefulPod("shop", "orders-db-0", "orders-db", map[string]string{"app.kubernetes.io/instance": "orders-db"})
	return Dependency{Host: "orders-db.shop.svc", Port: "5432", Source: source, Errors: errs,
		Service:  report.Ref{Kind: "Service", Namespace: "shop", Name: "orders-db"},
		Workload: report.Ref{Kind: "StatefulSet", Namespace: "shop", Name: "orders-db"},
		Pods:     []corev1.Pod{db}, ReadyEndpoints: 1, Replicas: int32p(1)}
}

func ingressWithTLS(ns, name, host, secret string) networkingv1.Ingress {
	return networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{Host: host}},
			TLS:   []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: secret}},
		}}
}

func secretVolume(vol, secret, mount string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}})
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: mount})
	}
}

// ratio is an error-ratio series of one point a minute, ending at now.
func ratio(values ...float64) Series {
	return series(map[string]string{"ingress": "web"}, values...)
}

// TestEdgeCauses checks that edge alerts (5xx at an ingress, a failing
// probe, a certificate alert) are traced past the edge to the object to
// fix, and that the report cites the evidence used.
func TestEdgeCauses(t *testing.T) {
	web := report.Ref{Kind: "Deployment", Namespace: "shop", Name: "web"}
	cases := []struct {
		name     string
		ev       func() *Evidence
		category string
		object   report.Ref
		mentions []string
	}{
		{"a dependency scaled to zero is the culprit, not its Service", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			logs(ev, `dial tcp 10.0.0.12:8080: connect: connection refused`)
			ev.Dependencies = []Dependency{{Host: "inventory.shop.svc", Port: "8080", Source: "logs", Errors: []string{`dial tcp 10.0.0.12:8080: connect: connection refused`},
				Service: report.Ref{Kind: "Service", Namespace: "shop", Name: "inventory"}, Workload: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "inventory"},
				Replicas: int32p(0), Events: []string{"2026-11-25T11:20:00Z Scaled down replica set inventory-6d8b5c7f94 to 0 from 3"}}}
			return ev
		}, report.DependencyFailure, report.Ref{Kind: "Deployment", Namespace: "shop", Name: "inventory"},
			[]string{"scaled to 0 replicas", "Scaled down replica set inventory-6d8b5c7f94", "inventory.shop.svc:8080", "kubectl scale"}},

		{"a crash-looping dependency found through the configuration", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			cache := statefulPod("shop", "cache-0", "cache", map[string]string{"app": "cache"}, crashing(1, "Error"))
			ev.Dependencies = []Dependency{{Host: "cache.shop.svc", Port: "6379", Source: "env CACHE_URL of container app",
				Service: report.Ref{Kind: "Service", Namespace: "shop", Name: "cache"}, Workload: report.Ref{Kind: "StatefulSet", Namespace: "shop", Name: "cache"},
				Pods: []corev1.Pod{cache}, PodErrors: []string{"Fatal error loading the DB: Unexpected EOF"}}}
			return ev
		}, report.DependencyFailure, report.Ref{Kind: "StatefulSet", Namespace: "shop", Name: "cache"},
			[]string{"env CACHE_URL", "CrashLoopBackOff", "Unexpected EOF"}},

		{"the allow rule that misses the client is blamed, not the default deny", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			logs(ev, "Caused by: java.net.SocketTimeoutException: Connect timed out")
			ev.Dependencies = []Dependency{postgresDep("env SPRING_DATASOURCE_URL of container app", "Caused by: java.net.SocketTimeoutException: Connect timed out")}
			ev.NetPolicies = []networkingv1.NetworkPolicy{
				policy("shop", "default-deny", nil, ingressOnly),
				policy("shop", "orders-db-ingress", map[string]string{"app.kubernetes.io/instance": "orders-db"}, ingressOnly, func(np *networkingv1.NetworkPolicy) {
					np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{
						{From: []networkingv1.NetworkPolicyPeer{{PodSelector: podsWith(map[string]string{"app": "web"})}}, Ports: tcpPort(5432)},
						{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: podsWith(map[string]string{"kubernetes.io/metadata.name": "monitoring"})}}, Ports: tcpPort(9187)},
					}
				}),
			}
			return ev
		}, report.NetworkPolicy, report.Ref{Kind: "NetworkPolicy", Namespace: "shop", Name: "orders-db-ingress"},
			[]string{"app=web", "app.kubernetes.io/name=web", "port 5432/TCP", "SPRING_DATASOURCE_URL"}},

		{"an egress policy of the client without the database's port", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			logs(ev, "connection timed out")
			ev.Dependencies = []Dependency{postgresDep("logs", "dial tcp 10.0.0.21:5432: i/o timeout")}
			ev.NetPolicies = []networkingv1.NetworkPolicy{policy("shop", "web-egress", map[string]string{"app.kubernetes.io/name": "web"}, egressOnly, func(np *networkingv1.NetworkPolicy) {
				np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{Ports: tcpPort(443)}}
			})}
			return ev
		}, report.NetworkPolicy, report.Ref{Kind: "NetworkPolicy", Namespace: "shop", Name: "web-egress"}, []string{"443/TCP"}},

		{"DNS egress blocked by the client's policy", func() *Evidence {
			ev := frontend("PSPErrorRateHigh")
			logs(ev, `Post "https://api.stripe.com/v1/charges": dial tcp: lookup api.stripe.com on 172.20.0.10:53: read udp 10.0.1.93:41822->172.20.0.10:53: i/o timeout`)
			ev.NetPolicies = []networkingv1.NetworkPolicy{policy("shop", "web-egress", map[string]string{"app.kubernetes.io/name": "web"}, egressOnly, func(np *networkingv1.NetworkPolicy) {
				np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{Ports: tcpPort(443),
					To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12"}}}}}}
			})}
			return ev
		}, report.NetworkPolicy, report.Ref{Kind: "NetworkPolicy", Namespace: "shop", Name: "web-egress"}, []string{"port 53/UDP", "lookup api.stripe.com", "172.20.0.10"}},

		{"a DNS rule without a protocol is TCP only: DNS over UDP stays blocked", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			logs(ev, `dial tcp: lookup orders.shop.svc.cluster.local: i/o timeout`)
			port := intstr.FromInt(53)
			ev.NetPolicies = []networkingv1.NetworkPolicy{policy("shop", "web-egress", map[string]string{"app.kubernetes.io/name": "web"}, egressOnly, func(np *networkingv1.NetworkPolicy) {
				np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}
			})}
			return ev
		}, report.NetworkPolicy, report.Ref{Kind: "NetworkPolicy", Namespace: "shop", Name: "web-egress"}, []string{"53/TCP"}},

		{"the cluster DNS down explains an edge alert", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			ev.Pods = nil
			ev.DNS = &DNSState{Service: report.Ref{Kind: "Service", Namespace: "kube-system", Name: "kube-dns"},
				Workload: report.Ref{Kind: "Deployment", Namespace: "kube-system", Name: "coredns"},
				Pods: []corev1.Pod{
					pod("kube-system", "coredns-54d6f577c6-8xvgl", "coredns-54d6f577c6", crashing(1, "Error")),
					pod("kube-system", "coredns-54d6f577c6-q2nft", "coredns-54d6f577c6", crashing(1, "Error")),
				},
				PodErrors: []string{`[FATAL] plugin/loop: Loop (127.0.0.1:41374 -> :53) detected for zone "corp.example."`}}
			return ev
		}, report.DependencyFailure, report.Ref{Kind: "Deployment", Namespace: "kube-system", Name: "coredns"}, []string{"0 of 2 pods ready", "plugin/loop", "configmap"}},

		{"an expired certificate served by the Ingress of the probed host", func() *Evidence {
			ev := frontend("BlackboxSslCertificateExpired")
			ev.Alert.Labels = map[string]string{"instance": "https://shop.example.com", "job": "blackbox"}
			ev.Pods, ev.Workload = nil, report.Ref{}
			ev.Target = report.Ref{Kind: "Ingress", Namespace: "shop", Name: "storefront"}
			ev.ProbedHost = "shop.example.com"
			ev.Ingresses = []networkingv1.Ingress{ingressWithTLS("shop", "admin", "admin.example.com", "admin-tls"), ingressWithTLS("shop", "storefront", "shop.example.com", "shop-example-com-tls")}
			ev.Metrics = map[string][]Series{MetricProbeCertNotAfter: {series(map[string]string{"instance": "https://shop.example.com"}, float64(now.Add(-50*time.Hour).Unix()))}}
			return ev
		}, report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: "shop", Name: "shop-example-com-tls"}, []string{"expired at 2026-11-23T10:00:00Z", "Ingress shop/storefront"}},

		{"a certificate expiring soon, mounted by the pods that serve the host", func() *Evidence {
			ev := frontend("BlackboxSslCertificateWillExpireSoon")
			ev.Alert.Labels = map[string]string{"instance": "https://sso.example.com/health", "job": "blackbox"}
			ev.ProbedHost = "sso.example.com"
			ev.Workload = report.Ref{Kind: "StatefulSet", Namespace: "auth", Name: "keycloak"}
			ev.Pods = []corev1.Pod{pod("auth", "keycloak-0", "keycloak", secretVolume("db", "keycloak-db", "/etc/db"), secretVolume("https", "keycloak-x509", "/etc/x509/https"))}
			ev.Metrics = map[string][]Series{MetricProbeCertNotAfter: {series(map[string]string{"instance": "https://sso.example.com/health"}, float64(now.Add(6*24*time.Hour).Unix()))}}
			return ev
		}, report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: "auth", Name: "keycloak-x509"}, []string{"/etc/x509/https", "2026-12-01"}},

		{"cert-manager's expiry series names the Certificate", func() *Evidence {
			ev := frontend("CertManagerCertExpirySoon")
			ev.Alert.Labels = map[string]string{"namespace": "shop", "name": "shop-tls"}
			ev.Metrics = map[string][]Series{MetricCertManagerCertNotAfter: {series(map[string]string{"namespace": "shop", "name": "shop-tls"}, float64(now.Add(3*24*time.Hour).Unix()))}}
			return ev
		}, report.CertificateExpiry, report.Ref{Kind: "Certificate", Namespace: "shop", Name: "shop-tls"}, nil},

		{"x509-certificate-exporter's series names the Secret and its namespace", func() *Evidence {
			ev := frontend("X509CertificateExpiringSoon")
			ev.Alert.Labels = map[string]string{"namespace": "monitoring", "secret_name": "api-tls", "secret_namespace": "payments"}
			ev.Metrics = map[string][]Series{MetricProbeCertNotAfter: {series(map[string]string{"namespace": "monitoring", "secret_name": "api-tls", "secret_namespace": "payments"}, float64(now.Add(5*24*time.Hour).Unix()))}}
			return ev
		}, report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: "payments", Name: "api-tls"}, nil},

		{"a database's expired server certificate in the client's logs", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			logs(ev, "SSL error: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed",
				"Caused by: java.security.cert.CertificateExpiredException: NotAfter: Mon Oct 05 02:00:00 UTC 2026")
			dep := postgresDep("env SPRING_DATASOURCE_URL of container app")
			secretVolume("raw-certificates", "orders-db-tls", "/opt/bitnami/postgresql/certs")(&dep.Pods[0])
			ev.Dependencies = []Dependency{{Host: "cache.shop.svc", Source: "env CACHE_URL of container app", Service: report.Ref{Kind: "Service", Namespace: "shop", Name: "cache"},
				Workload: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "cache"}, Pods: []corev1.Pod{pod("shop", "cache-5d-abcde", "cache-5d")}, ReadyEndpoints: 1}, dep}
			return ev
		}, report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: "shop", Name: "orders-db-tls"}, []string{"Mon Oct 05 02:00:00 UTC 2026", "orders-db.shop.svc:5432", "/opt/bitnami/postgresql/certs"}},

		{"the peer rejects the client's own expired certificate", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			secretVolume("client-cert", "web-client-tls", "/etc/client-tls")(&ev.Pods[0])
			logs(ev, `query failed: remote error: tls: expired certificate`)
			return ev
		}, report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: "shop", Name: "web-client-tls"}, []string{"remote error: tls: expired certificate"}},

		{"5xx right after a rollout whose pods stay Ready is the rollout", func() *Evidence {
			ev := frontend("HTTP5xxRateHigh")
			ev.Deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
			old, cur := rs("web-5c6b7d8f9", "12", 72*time.Hour, "web:2.3.1", 0), rs("web-6f7d8c9b5", "13", 2*time.Minute, "web:2.3.1", 1)
			old.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AUTH_AUDIENCE", Value: "https://api.example.com"}, {Name: "DB_PASSWORD", Value: "hunter2"}}
			cur.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AUTH_AUDIENCE", Value: "web-api"}, {Name: "DB_PASSWORD", Value: "hunter3"}}
			ev.ReplicaSets = []appsv1.ReplicaSet{old, cur}
			// The ReplicaSet object is recent, but the controller scaled it up 25 minutes ago.
			ev.Events = []corev1.Event{{Reason: "ScalingReplicaSet", Message: "Scaled up replica set web-6f7d8c9b5 to 1", FirstTimestamp: ago(25 * time.Minute),
				InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Namespace: "shop", Name: "web"}}}
			logs(ev, "Failed to authenticate since the JWT was invalid: The aud claim is not valid")
			ev.Metrics = map[string][]Series{MetricHTTP5xxRatio: {ratio(0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001,
				0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.2, 0.45, 0.5, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52, 0.52)}}
			return ev
		}, report.BadRollout, web, []string{`AUTH_AUDIENCE of app: "https://api.example.com" -> "web-api"`, "aud claim is not valid", "--to-revision=12"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := c.ev()
			out := Run(ev)
			rc := Decide(ev, out)
			if rc.Category != c.category || rc.Object != c.object {
				t.Fatalf("root cause = %s %v, want %s %v\nfindings: %+v", rc.Category, rc.Object, c.category, c.object, out.Findings)
			}
			text := strings.ToLower(Summary(ev, rc, out))
			for _, f := range out.Findings {
				text += " " + strings.ToLower(f.Title+" "+f.Detail+" "+strings.Join(f.Remediation, " "))
			}
			for _, m := range c.mentions {
				if !strings.Contains(text, strings.ToLower(m)) {
					t.Errorf("report text lacks %q:\n%s", m, text)
				}
			}
			if strings.Contains(text, "hunter") {
				t.Errorf("report quotes a secret-looking env value:\n%s", text)
			}
		})
	}
}

// TestEdgeNonCauses checks the traps: what looks like a cause at the edge
// but is not one must not be blamed.
func TestEdgeNonCauses(t *testing.T) {
	f := func(name string, ev *Evidence, notCategory string) {
		t.Helper()
		out := Run(ev)
		for _, fd := range out.Findings {
			if fd.Category == notCategory {
				t.Errorf("%s: unexpected %s finding: %+v", name, notCategory, fd)
			}
		}
	}

	ev := frontend("HTTP5xxRateHigh")
	logs(ev, "Connect timed out")
	ev.Dependencies = []Dependency{postgresDep("env DATABASE_URL of container app")}
	ev.NetPolicies = []networkingv1.NetworkPolicy{
		policy("shop", "default-deny", nil, ingressOnly),
		policy("shop", "db-from-web", map[string]string{"app.kubernetes.io/instance": "orders-db"}, ingressOnly, func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: podsWith(map[string]string{"app.kubernetes.io/name": "web"})}}, Ports: tcpPort(5432)}}
		}),
	}
	f("policies that add up to an allow", ev, report.NetworkPolicy)

	ev = frontend("HTTP5xxRateHigh")
	ev.Dependencies = []Dependency{postgresDep("logs", "connection timed out")}
	ev.NetPolicies = []networkingv1.NetworkPolicy{policy("shop", "db-from-team", map[string]string{"app.kubernetes.io/instance": "orders-db"}, ingressOnly, func(np *networkingv1.NetworkPolicy) {
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: podsWith(map[string]string{"team": "shop"})}}}}
	})}
	f("a namespace selector on labels sleuth cannot read is not blamed", ev, report.NetworkPolicy)

	ev = frontend("HTTP5xxRateHigh")
	logs(ev, `dial tcp: lookup orders on 10.96.0.10:53: i/o timeout`)
	udp := corev1.ProtocolUDP
	port := intstr.FromInt(53)
	ev.NetPolicies = []networkingv1.NetworkPolicy{policy("shop", "web-egress", map[string]string{"app.kubernetes.io/name": "web"}, egressOnly, func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{Ports: tcpPort(443)}, {Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &port}},
			To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: podsWith(map[string]string{"kubernetes.io/metadata.name": "kube-system"}), PodSelector: podsWith(map[string]string{"k8s-app": "kube-dns"})}}}}
	})}
	f("an egress policy that lets DNS out", ev, report.NetworkPolicy)

	ev = frontend("HTTP5xxRateHigh")
	logs(ev, `dial tcp: lookup orders-db on 10.96.0.10:53: no such host`)
	ev.DNS = &DNSState{Workload: report.Ref{Kind: "Deployment", Namespace: "kube-system", Name: "coredns"},
		Pods: []corev1.Pod{pod("kube-system", "coredns-54d6f577c6-8xvgl", "coredns-54d6f577c6")}}
	f("NXDOMAIN is an answer: DNS works", ev, report.DependencyFailure)

	ev = frontend("HTTP5xxRateHigh")
	ev.DNS = &DNSState{Workload: report.Ref{Kind: "Deployment", Namespace: "kube-system", Name: "coredns"},
		Pods: []corev1.Pod{pod("kube-system", "coredns-54d6f577c6-8xvgl", "coredns-54d6f577c6"), pod("kube-system", "coredns-54d6f577c6-q2nft", "coredns-54d6f577c6", crashing(1, "Error"))}}
	f("one resolver of two down, no failed lookups", ev, report.DependencyFailure)

	ev = frontend("KubePodCrashLooping")
	crashing(2, "Error")(&ev.Pods[0])
	logs(ev, "panic: runtime error: invalid memory address or nil pointer dereference")
	partial := postgresDep("env DATABASE_URL of container app")
	partial.Pods = append(partial.Pods, statefulPod("shop", "orders-db-1", "orders-db", map[string]string{"app.kubernetes.io/instance": "orders-db"}, crashing(1, "Error")))
	ev.Dependencies = []Dependency{partial}
	f("a configured dependency with one failing replica of two, not named by the logs", ev, report.DependencyFailure)

	ev = frontend("BlackboxSslCertificateWillExpireSoon")
	ev.Alert.Labels = map[string]string{"instance": "https://shop.example.com"}
	ev.Metrics = map[string][]Series{MetricProbeCertNotAfter: {series(map[string]string{"instance": "https://shop.example.com"}, float64(now.Add(80*24*time.Hour).Unix()))}}
	f("a certificate valid for months", ev, report.CertificateExpiry)

	// Rolled out 100 minutes ago; two hours of the ratio, one point a minute.
	rollout := func(values ...float64) *Evidence {
		ev := frontend("HTTP5xxRateHigh")
		ev.Deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
		ev.ReplicaSets = []appsv1.ReplicaSet{rs("web-5c6b7d8f9", "12", 72*time.Hour, "web:2.3.0", 0), rs("web-6f7d8c9b5", "13", 100*time.Minute, "web:2.3.1", 1)}
		ev.Metrics = map[string][]Series{MetricHTTP5xxRatio: {ratio(values...)}}
		return ev
	}
	var high, late []float64
	for i := range 120 {
		high = append(high, 0.4)
		if i < 115 {
			late = append(late, 0.001)
		} else {
			late = append(late, 0.4)
		}
	}
	f("errors already high before the rollout", rollout(high...), report.BadRollout)
	f("errors rising long after the rollout", rollout(late...), report.BadRollout)
}

func TestDNSFailureLines(t *testing.T) {
	f := func(line string, want bool) {
		t.Helper()
		if got := IsDNSFailure(line); got != want {
			t.Errorf("IsDNSFailure(%q) = %v, want %v", line, got, want)
		}
	}
	f(`dial tcp: lookup api.stripe.com on 172.20.0.10:53: read udp 10.0.1.93:41822->172.20.0.10:53: i/o timeout`, true)
	f(`getaddrinfo EAI_AGAIN redis-master`, true)
	f(`could not translate host name "db" to address: Temporary failure in name resolution`, true)
	f(`java.net.UnknownHostException: kafka-0.kafka-headless`, true)
	f(`dial tcp: lookup orders-db on 10.96.0.10:53: no such host`, false)
	f(`GET /healthz 200`, false)
}

func TestHostOf(t *testing.T) {
	f := func(instance, want string) {
		t.Helper()
		if got := hostOf(instance); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", instance, got, want)
		}
	}
	f("https://sso.example.com/health/ready", "sso.example.com")
	f("https://Shop.Example.com:8443", "shop.example.com")
	f("sso.example.com:443", "sso.example.com")
	f("", "")
	if !hostMatches("*.example.com", "shop.example.com") || hostMatches("*.example.com", "a.shop.example.com") {
		t.Error("wildcard hosts cover exactly one label")
	}
}
