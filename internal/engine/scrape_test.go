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

// scrapedObjects: a healthy API serving on 8080 with its metrics on 8081,
// in a namespace isolated by a default deny whose allow-list admits the
// ingress controller on 8080 only (%[2]s adds a policy).
var scrapedObjects = `
apiVersion: v1
kind: Service
metadata: {name: crm-api, namespace: %[1]s}
spec:
  selector: {app.kubernetes.io/name: crm-api}
  ports: [{name: http, port: 80, targetPort: http}, {name: metrics, port: 8081, targetPort: management}]
---
apiVersion: v1
kind: Pod
metadata:
  name: crm-api-84f6b7d9c5-v4lql
  namespace: %[1]s
  labels: {app.kubernetes.io/name: crm-api}
spec:
  nodeName: worker-1
  containers:
  - name: app
    image: app
    ports: [{name: http, containerPort: 8080}, {name: management, containerPort: 8081}]
` + strings.ReplaceAll(readyPodStatus, "%[2]d", "23") + `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: %[1]s}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-ingress-nginx, namespace: %[1]s}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: crm-api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
    ports: [{port: 8080, protocol: TCP}]
%[2]s`

// allowMonitoring admits the monitoring namespace on the metrics port.
const allowMonitoring = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-monitoring, namespace: %[1]s}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: crm-api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %[3]s}}}]
    ports: [{port: 8081, protocol: TCP}]
`

// TestScrapeBlockedAgainstRealBackends stages a TargetDown whose pods are
// Ready: the scraper's own log lines name its namespace, the up series
// the port, and the target's NetworkPolicies decide.
func TestScrapeBlockedAgainstRealBackends(t *testing.T) {
	b := backends{k: testbackend.SharedKube(t), vm: testbackend.StartVictoriaMetrics(t), vl: testbackend.StartVictoriaLogs(t)}
	now := time.Now().UTC().Truncate(time.Second)
	quietDNS := b.k.Namespace(t, "dns")
	stageScrape := func(t *testing.T, extra string) (ns string, alert map[string]string) {
		ns = b.k.Namespace(t, "crm")
		mon := b.k.Namespace(t, "monitoring")
		if extra != "" {
			extra = fmt.Sprintf(extra, ns, "", mon)
		}
		b.k.Apply(t, stage(now, scrapedObjects, ns, extra))
		var samples strings.Builder
		for i := 40; i >= 0; i-- {
			v := 1
			if i < 26 {
				v = 0
			}
			fmt.Fprintf(&samples, "up{job=\"crm-api\",namespace=%q,pod=\"crm-api-84f6b7d9c5-v4lql\",service=\"crm-api\",endpoint=\"metrics\",instance=\"10.244.1.23:8081\"} %d %d\n",
				ns, v, now.Add(-time.Duration(i)*time.Minute).UnixMilli())
		}
		b.vm.Import(t, samples.String())
		b.vl.Ingest(t, repeated(now, mon, "vmagent-7d9c6b8f5-xq2lt", "vmagent",
			`warn	lib/promscrape/scrapework.go:389	cannot scrape target "http://10.244.1.23:8081/actuator/prometheus": context deadline exceeded`, 20))
		// The ingress controller logs the pod's address too, without a scrape.
		b.vl.Ingest(t, repeated(now, "ingress-nginx", "ingress-nginx-controller-5c8d7", "controller",
			`10.0.0.1 - - "GET / HTTP/1.1" 200 12 "-" "curl" 120 0.004 [crm-api-http] 10.244.1.23:8080 12 0.004 200`, 5))
		return ns, map[string]string{"alertname": "TargetDown", "job": "crm-api", "namespace": ns, "service": "crm-api", "severity": "warning"}
	}
	engine := func() *Engine {
		e := newEngine(t, b, true)
		e.cfg.DNSNamespace = quietDNS
		return e
	}

	t.Run("a default deny whose allow-list misses the metrics port", func(t *testing.T) {
		ns, alert := stageScrape(t, "")
		r := expectRootCause(t, engine(), alert, now.Add(-17*time.Minute), report.NetworkPolicy,
			report.Ref{Kind: "NetworkPolicy", Namespace: ns, Name: "allow-from-ingress-nginx"},
			"8081", "default-deny-ingress denies all ingress", "context deadline exceeded", "vmagent-7d9c6b8f5-xq2lt")
		if !strings.Contains(r.Text(), "monitoring") {
			t.Errorf("report does not name the scraper's namespace:\n%s", r.Text())
		}
	})

	t.Run("a policy admits the scraper: not the policies, and not none while up is 0", func(t *testing.T) {
		_, alert := stageScrape(t, allowMonitoring)
		r, err := engine().InvestigateAlerts(context.Background(), []store.Alert{firing(alert, now.Add(-17*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		if c := r.RootCause.Category; c == report.NetworkPolicy || c == report.None {
			t.Fatalf("root cause = %+v, want neither network-policy nor none\n%s", r.RootCause, r.Text())
		}
		if !strings.Contains(r.SearchText(), "the scrape still fails") && !strings.Contains(r.Text(), "the scrape still fails") {
			t.Errorf("report does not say the scrape still fails:\n%s", r.Text())
		}
	})
}
