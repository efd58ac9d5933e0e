package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// repeated returns n copies of a log line of a pod, every 20s up to now.
func repeated(now time.Time, ns, pod, container, msg string, n int) []map[string]string {
	var out []map[string]string
	for i := n; i > 0; i-- {
		out = append(out, map[string]string{
			"_time": now.Add(-time.Duration(i) * 20 * time.Second).Format(time.RFC3339Nano), "_msg": msg,
			"kubernetes.pod_namespace": ns, "kubernetes.pod_name": pod, "kubernetes.container_name": container,
		})
	}
	return out
}

// investigate runs the engine on one alert and checks the root cause and
// the evidence the report must cite.
func expectRootCause(t *testing.T, e *Engine, labels map[string]string, startsAt time.Time, category string, object report.Ref, mentions ...string) *report.Report {
	t.Helper()
	r, err := e.InvestigateAlerts(context.Background(), []store.Alert{firing(labels, startsAt)})
	if err != nil {
		t.Fatal(err)
	}
	if r.RootCause.Category != category || r.RootCause.Object != object {
		t.Fatalf("root cause = %+v, want %s %v\n%s", r.RootCause, category, object, r.Text())
	}
	text := strings.ToLower(r.SearchText())
	for _, m := range mentions {
		if !strings.Contains(text, strings.ToLower(m)) {
			t.Errorf("report lacks %q:\n%s", m, r.Text())
		}
	}
	return r
}

// TestEdgeAgainstRealBackends stages incidents whose alert is at the edge
// (5xx at an Ingress, a probed URL) while the cause is past it, and checks
// that the engine follows the request path to the object to fix.
func TestEdgeAgainstRealBackends(t *testing.T) {
	b := backends{k: testbackend.SharedKube(t), vm: testbackend.StartVictoriaMetrics(t), vl: testbackend.StartVictoriaLogs(t)}
	now := time.Now().UTC().Truncate(time.Second)
	// An empty namespace stands for kube-system, so that the shared API
	// server's other tests see no resolver.
	quietDNS := b.k.Namespace(t, "dns")
	engine := func() *Engine {
		e := newEngine(t, b, true)
		e.cfg.DNSNamespace = quietDNS
		return e
	}

	t.Run("a dependency scaled to zero behind an Ingress", func(t *testing.T) {
		ns := b.k.Namespace(t, "shop")
		b.k.Apply(t, stage(now, scaledToZeroObjects, ns))
		// The frontend logs the dependency's ClusterIP only; its
		// configuration maps the port to the host.
		b.vl.Ingest(t, repeated(now, ns, "web-6f7d8c9b5-kx2pq", "app",
			`upstream request failed err="dial tcp 172.20.81.14:8080: connect: connection refused" status=502`, 20))
		expectRootCause(t, engine(), map[string]string{"alertname": "HTTP5xxRateHigh", "namespace": ns, "ingress": "web", "severity": "critical"},
			now.Add(-5*time.Minute), report.DependencyFailure, report.Ref{Kind: "Deployment", Namespace: ns, Name: "inventory"},
			"scaled to 0 replicas", "Scaled down replica set inventory-6d8b5c7f94 to 0 from 3", "inventory")
	})

	t.Run("a database's expired certificate, the alert's service naming no Service", func(t *testing.T) {
		ns := b.k.Namespace(t, "pay")
		b.k.Apply(t, stage(now, dbCertObjects, ns))
		b.vl.Ingest(t, repeated(now, ns, "payments-api-79c5f6d8b4-95zkv", "app",
			"Caused by: java.security.cert.CertificateExpiredException: NotAfter: Mon Oct 05 02:00:00 UTC 2026", 20))
		expectRootCause(t, engine(), map[string]string{"alertname": "HTTP5xxRateHigh", "namespace": ns, "service": "payments-api", "severity": "critical"},
			now.Add(-5*time.Minute), report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: ns, Name: "payments-pg-tls"},
			"Mon Oct 05 02:00:00 UTC 2026", "/opt/bitnami/postgresql/certs")
	})

	t.Run("a probed URL whose Ingress serves an expired certificate, alerting for days", func(t *testing.T) {
		ns := b.k.Namespace(t, "web")
		host := ns + ".shop.example.com"
		b.k.Apply(t, stage(now, tlsIngressObjects, ns, host))
		// The probe's series is scraped up to now, two days after the alert
		// started; notAfter is three days ago.
		notAfter := now.Add(-72 * time.Hour).Unix()
		var samples strings.Builder
		for i := 30; i >= 0; i-- {
			fmt.Fprintf(&samples, "probe_ssl_earliest_cert_expiry{instance=%q,job=\"blackbox\"} %d %d\n", "https://"+host, notAfter, now.Add(-time.Duration(i)*time.Minute).UnixMilli())
		}
		b.vm.Import(t, samples.String())
		expectRootCause(t, engine(), map[string]string{"alertname": "BlackboxSslCertificateExpired", "instance": "https://" + host, "job": "blackbox", "severity": "critical"},
			now.Add(-48*time.Hour), report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: ns, Name: "shop-tls"},
			time.Unix(notAfter, 0).UTC().Format(time.RFC3339), "Ingress "+ns+"/storefront")
	})

	t.Run("the cluster DNS crash-looping under an edge alert", func(t *testing.T) {
		ns := b.k.Namespace(t, "shop")
		dns := b.k.Namespace(t, "kube-system")
		b.k.Apply(t, stage(now, crashingDNSObjects, dns))
		b.vl.Ingest(t, repeated(now, dns, "coredns-54d6f577c6-8xvgl", "coredns",
			`[FATAL] plugin/loop: Loop (127.0.0.1:41374 -> :53) detected for zone "corp.example.com."`, 3))
		e := engine()
		e.cfg.DNSNamespace = dns
		expectRootCause(t, e, map[string]string{"alertname": "HTTP5xxRateHigh", "namespace": ns, "ingress": "storefront", "service": "storefront", "severity": "critical"},
			now.Add(-5*time.Minute), report.DependencyFailure, report.Ref{Kind: "Deployment", Namespace: dns, Name: "coredns"},
			"plugin/loop", "0 of 1 pods ready")
	})

	t.Run("DNS blocked by the client's egress policy", func(t *testing.T) {
		ns := b.k.Namespace(t, "pay")
		b.k.Apply(t, stage(now, dnsEgressObjects, ns))
		b.vl.Ingest(t, repeated(now, ns, "psp-connector-5f6c8d9b7b-r2hxv", "app",
			`charge failed err="Post \"https://api.stripe.com/v1/payment_intents\": dial tcp: lookup api.stripe.com on 172.20.0.10:53: read udp 10.0.1.93:41822->172.20.0.10:53: i/o timeout"`, 20))
		expectRootCause(t, engine(), map[string]string{"alertname": "PSPErrorRateHigh", "namespace": ns, "service": "psp-connector", "severity": "critical"},
			now.Add(-5*time.Minute), report.NetworkPolicy, report.Ref{Kind: "NetworkPolicy", Namespace: ns, Name: "psp-connector-egress"},
			"port 53/UDP", "443/TCP")
	})

	t.Run("5xx after a rollout whose pods stay Ready", func(t *testing.T) {
		ns := b.k.Namespace(t, "shop")
		b.k.Apply(t, stage(now, rolloutObjects, ns))
		var samples strings.Builder
		for i := 60; i >= 0; i-- {
			ts := now.Add(-time.Duration(i) * time.Minute)
			ok, bad := 25000000+4800*(60-i), 3000+3*(60-i)
			if i < 27 { // the new revision took traffic 28 minutes ago
				bad = 3000 + 3*33 + 2520*(27-i)
			}
			fmt.Fprintf(&samples, "nginx_ingress_controller_requests{namespace=%q,ingress=\"checkout\",status=\"200\"} %d %d\n", ns, ok, ts.UnixMilli())
			fmt.Fprintf(&samples, "nginx_ingress_controller_requests{namespace=%q,ingress=\"checkout\",status=\"500\"} %d %d\n", ns, bad, ts.UnixMilli())
		}
		b.vm.Import(t, samples.String())
		b.vl.Ingest(t, repeated(now, ns, "checkout-58c6b9d7f4-2lfx9", "app",
			"WARN JwtAuthenticationProvider - Failed to authenticate since the JWT was invalid: The aud claim is not valid", 20))
		expectRootCause(t, engine(), map[string]string{"alertname": "HTTP5xxRateHigh", "namespace": ns, "ingress": "checkout", "service": "checkout", "severity": "critical"},
			now.Add(-20*time.Minute), report.BadRollout, report.Ref{Kind: "Deployment", Namespace: ns, Name: "checkout"},
			`env AUTH_AUDIENCE of app: "https://api.example.com" -> "checkout-api"`, "--to-revision=12")
	})
}

const readyPodStatus = `
status:
  phase: Running
  podIP: 10.244.1.%[2]d
  startTime: "${now-3h}"
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: app, ready: true, restartCount: 0, image: app, imageID: "", state: {running: {startedAt: "${now-3h}"}}}
`

var scaledToZeroObjects = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: %[1]s}
spec:
  rules:
  - host: www.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: %[1]s}
spec:
  selector: {app.kubernetes.io/name: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-6f7d8c9b5-kx2pq
  namespace: %[1]s
  labels: {app.kubernetes.io/name: web}
spec:
  nodeName: worker-1
  containers:
  - name: app
    image: app
    env:
    - {name: INVENTORY_URL, value: "http://inventory:8080"}
    - {name: CATALOG_URL, value: "http://catalog"}
` + strings.ReplaceAll(readyPodStatus, "%[2]d", "10") + `
---
apiVersion: v1
kind: Service
metadata: {name: inventory, namespace: %[1]s}
spec:
  selector: {app.kubernetes.io/name: inventory}
  ports: [{port: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: inventory, namespace: %[1]s}
spec:
  replicas: 0
  selector: {matchLabels: {app.kubernetes.io/name: inventory}}
  template:
    metadata: {labels: {app.kubernetes.io/name: inventory}}
    spec: {containers: [{name: app, image: inventory}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: inventory-sync, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: inventory-sync}}
  template:
    metadata: {labels: {app.kubernetes.io/name: inventory-sync}}
    spec: {containers: [{name: sync, image: inventory-sync}]}
---
apiVersion: v1
kind: Event
metadata: {name: inventory.1, namespace: %[1]s}
involvedObject: {apiVersion: apps/v1, kind: Deployment, name: inventory, namespace: %[1]s}
reason: ScalingReplicaSet
message: Scaled down replica set inventory-6d8b5c7f94 to 0 from 3
type: Normal
firstTimestamp: "${now-20m}"
lastTimestamp: "${now-20m}"
`

var dbCertObjects = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: payments-api, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: payments-api}}
  template:
    metadata: {labels: {app: payments-api}}
    spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: payments-api-79c5f6d8b4-95zkv
  namespace: %[1]s
  labels: {app: payments-api}
spec:
  nodeName: worker-1
  containers:
  - name: app
    image: app
    env:
    - {name: SPRING_DATASOURCE_URL, value: "jdbc:postgresql://payments-pg.%[1]s.svc:5432/payments?sslmode=verify-full"}
` + strings.ReplaceAll(readyPodStatus, "%[2]d", "11") + `
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: payments-pg, namespace: %[1]s}
spec:
  serviceName: payments-pg-hl
  replicas: 1
  selector: {matchLabels: {app: payments-pg}}
  template:
    metadata: {labels: {app: payments-pg}}
    spec: {containers: [{name: app, image: postgres}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: payments-pg-0
  namespace: %[1]s
  labels: {app: payments-pg}
spec:
  nodeName: worker-2
  containers:
  - name: app
    image: postgres
    volumeMounts: [{name: raw-certificates, mountPath: /opt/bitnami/postgresql/certs}, {name: conf, mountPath: /etc/conf}]
  volumes:
  - {name: raw-certificates, secret: {secretName: payments-pg-tls}}
  - {name: conf, secret: {secretName: payments-pg-config}}
` + strings.ReplaceAll(readyPodStatus, "%[2]d", "12")

var tlsIngressObjects = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: storefront, namespace: %[1]s}
spec:
  tls: [{hosts: ["%[2]s"], secretName: shop-tls}]
  rules:
  - host: "%[2]s"
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: storefront, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: admin, namespace: %[1]s}
spec:
  tls: [{hosts: ["admin.%[2]s"], secretName: admin-tls}]
  rules:
  - host: "admin.%[2]s"
`

var crashingDNSObjects = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec: {containers: [{name: coredns, image: coredns}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: coredns-54d6f577c6-8xvgl
  namespace: %[1]s
  labels: {k8s-app: kube-dns}
spec:
  nodeName: worker-1
  containers: [{name: coredns, image: coredns}]
status:
  phase: Running
  conditions: [{type: Ready, status: "False"}]
  containerStatuses:
  - name: coredns
    ready: false
    restartCount: 7
    image: coredns
    imageID: ""
    state: {waiting: {reason: CrashLoopBackOff}}
    lastState: {terminated: {exitCode: 1, reason: Error, startedAt: "${now-3m}", finishedAt: "${now-2m}"}}
`

var dnsEgressObjects = `
apiVersion: v1
kind: Pod
metadata:
  name: psp-connector-5f6c8d9b7b-r2hxv
  namespace: %[1]s
  labels: {app.kubernetes.io/name: psp-connector}
spec:
  nodeName: worker-1
  containers:
  - name: app
    image: app
    env: [{name: PSP_BASE_URL, value: "https://api.stripe.com"}]
` + strings.ReplaceAll(readyPodStatus, "%[2]d", "13") + `
---
apiVersion: v1
kind: Service
metadata: {name: psp-connector, namespace: %[1]s}
spec:
  selector: {app.kubernetes.io/name: psp-connector}
  ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: psp-connector-egress, namespace: %[1]s}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: psp-connector}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 443, protocol: TCP}]
    to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]}}]
`

var rolloutObjects = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers:
      - {name: app, image: checkout:2.3.1, env: [{name: AUTH_AUDIENCE, value: checkout-api}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: checkout-7d4b9c6f5
  namespace: %[1]s
  labels: {app: checkout}
  annotations: {deployment.kubernetes.io/revision: "12"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: checkout, uid: 5e8f9d70-7b9c-4ebe-9f3c-b5310ac41a81, controller: true}]
spec:
  replicas: 0
  selector: {matchLabels: {app: checkout, pod-template-hash: 7d4b9c6f5}}
  template:
    metadata: {labels: {app: checkout, pod-template-hash: 7d4b9c6f5}}
    spec:
      containers:
      - {name: app, image: checkout:2.3.1, env: [{name: AUTH_AUDIENCE, value: "https://api.example.com"}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: checkout-58c6b9d7f4
  namespace: %[1]s
  labels: {app: checkout}
  annotations: {deployment.kubernetes.io/revision: "13"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: checkout, uid: 5e8f9d70-7b9c-4ebe-9f3c-b5310ac41a81, controller: true}]
spec:
  replicas: 1
  selector: {matchLabels: {app: checkout, pod-template-hash: 58c6b9d7f4}}
  template:
    metadata: {labels: {app: checkout, pod-template-hash: 58c6b9d7f4}}
    spec:
      containers:
      - {name: app, image: checkout:2.3.1, env: [{name: AUTH_AUDIENCE, value: checkout-api}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: checkout-58c6b9d7f4-2lfx9
  namespace: %[1]s
  labels: {app: checkout, pod-template-hash: 58c6b9d7f4}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: checkout-58c6b9d7f4, uid: bf70b82c-00c7-4c18-9b04-dda8396c0ea5, controller: true}]
spec:
  nodeName: worker-1
  containers:
  - {name: app, image: checkout:2.3.1, env: [{name: AUTH_AUDIENCE, value: checkout-api}]}
status:
  phase: Running
  startTime: "${now-27m}"
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: app, ready: true, restartCount: 0, image: app, imageID: "", state: {running: {startedAt: "${now-27m}"}}}
---
apiVersion: v1
kind: Event
metadata: {name: checkout.1, namespace: %[1]s}
involvedObject: {apiVersion: apps/v1, kind: Deployment, name: checkout, namespace: %[1]s}
reason: ScalingReplicaSet
message: Scaled up replica set checkout-58c6b9d7f4 to 1
type: Normal
firstTimestamp: "${now-28m}"
lastTimestamp: "${now-28m}"
`
