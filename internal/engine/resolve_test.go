package engine

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

func TestNameCandidates(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []nameRef // must all be present, in this relative order
		not  []nameRef
	}{
		{in: "orders", want: []nameRef{{"", "orders"}}},
		{in: "orders-svc", want: []nameRef{{"", "orders-svc"}, {"", "orders"}}},
		{in: "orders-metrics", want: []nameRef{{"", "orders-metrics"}, {"", "orders"}}},
		{in: "Orders-API", want: []nameRef{{"", "orders-api"}}},
		{in: "outbound|8080||payments.billing.svc.cluster.local", want: []nameRef{{"billing", "payments"}}},
		{in: "inbound|9090||", want: nil},
		{in: "shop-cart-8080@kubernetescrd", want: []nameRef{{"shop", "cart"}, {"shop-cart", ""}}[:1],
			not: []nameRef{{"", "8080"}}},
		{in: "team-a-web-http@kubernetes", want: []nameRef{{"team", "a-web"}, {"team-a", "web"}}},
		{in: "cart@file", want: []nameRef{{"", "cart"}}},
		{in: "payments.billing.svc:8080", want: []nameRef{{"billing", "payments"}}},
		{in: "http://search.catalog.svc.cluster.local:9200/_health", want: []nameRef{{"catalog", "search"}}},
		{in: "monitoring/node-agent", want: []nameRef{{"monitoring", "node-agent"}}},
		{in: "ledger.v1.AccountService", want: nil, not: []nameRef{{"v1", "ledger"}}},
		{in: "edge-cart-8080", want: []nameRef{{"", "edge-cart-8080"}, {"edge", "cart"}}},
		{in: "warning", want: nil},
		{in: "POST", want: nil},
		{in: "12345", want: nil},
		{in: "/api/v2/quotes", want: nil},
		{in: "x", want: nil},
	} {
		got := nameCandidates(tc.in)
		if tc.want == nil && len(got) != 0 {
			t.Errorf("nameCandidates(%q) = %v, want none", tc.in, got)
			continue
		}
		last := -1
		for _, w := range tc.want {
			i := slices.Index(got, w)
			if i < 0 {
				t.Errorf("nameCandidates(%q) = %v, missing %v", tc.in, got, w)
				continue
			}
			if i < last {
				t.Errorf("nameCandidates(%q) = %v: %v out of order", tc.in, got, w)
			}
			last = i
		}
		for _, n := range tc.not {
			if slices.Contains(got, n) {
				t.Errorf("nameCandidates(%q) = %v, must not hold %v", tc.in, got, n)
			}
		}
	}
}

func TestPickNeedsAUniqueObject(t *testing.T) {
	d := report.Ref{Kind: "Deployment", Namespace: "a", Name: "x"}
	s := report.Ref{Kind: "Service", Namespace: "a", Name: "x"}
	for _, tc := range []struct {
		in   []report.Ref
		want report.Ref
		ok   bool
	}{
		{nil, report.Ref{}, false},
		{[]report.Ref{d, s}, d, true},
		{[]report.Ref{s}, s, true},
		{[]report.Ref{d, {Kind: "Deployment", Namespace: "b", Name: "x"}}, report.Ref{}, false},
		{[]report.Ref{d, {Kind: "StatefulSet", Namespace: "a", Name: "y"}}, report.Ref{}, false},
	} {
		got, ok := pick(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("pick(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestExporterValuesAreNotSubjects(t *testing.T) {
	for _, v := range []string{"redis-exporter", "celery-exporter", "kube-state-metrics", "node-exporter"} {
		if !isExporterValue(v) {
			t.Errorf("%s: not taken for an exporter", v)
		}
	}
	if isExporterValue("orders") {
		t.Error("orders taken for an exporter")
	}
}

// TestResolveFromLabelValues stages applications in an API server of its
// own (the cluster-wide scan must not see other tests' pods) and checks
// alerts that name a route, an app label, an ambiguous name or nothing.
func TestResolveFromLabelValues(t *testing.T) {
	b := backends{k: testbackend.StartKube(t), vm: testbackend.StartVictoriaMetrics(t)}
	now := time.Now().UTC().Truncate(time.Second)
	b.k.Apply(t, stage(now, resolveObjects))
	e := newEngine(t, b, false)

	run := func(labels map[string]string) *report.Report {
		t.Helper()
		r, err := e.InvestigateAlerts(context.Background(), []store.Alert{firing(labels, now.Add(-5*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	note := func(r *report.Report) string {
		for _, f := range r.Findings {
			if f.Analyzer == "target" {
				return f.Detail
			}
		}
		return ""
	}

	// A Traefik service name, no namespace label.
	r := run(map[string]string{"alertname": "EdgeErrors", "service": "rv-shop-storefront-http@kubernetes"})
	if r.Target != (report.Ref{Kind: "Service", Namespace: "rv-shop", Name: "storefront"}) {
		t.Errorf("traefik route: target %v", r.Target)
	}
	if !strings.Contains(note(r), `service="rv-shop-storefront-http@kubernetes"`) {
		t.Errorf("traefik route: finding %q does not say how the target was found", note(r))
	}
	// An application label that is the pods' app label, not a name.
	r = run(map[string]string{"alertname": "HighLatency", "namespace": "rv-shop", "application": "pricing-engine", "uri": "/api/v1/price"})
	if r.Target != (report.Ref{Kind: "Deployment", Namespace: "rv-shop", Name: "pricer"}) {
		t.Errorf("app label: target %v", r.Target)
	}
	// An Istio cluster name, from the mesh's namespace.
	r = run(map[string]string{"alertname": "UpstreamErrors", "namespace": "rv-mesh", "envoy_cluster_name": "outbound|80||pricer.rv-shop.svc.cluster.local"})
	if r.Target != (report.Ref{Kind: "Deployment", Namespace: "rv-shop", Name: "pricer"}) {
		t.Errorf("istio cluster: target %v", r.Target)
	}
	// An exporter's job is the series' producer, not its subject.
	r = run(map[string]string{"alertname": "QueueBacklog", "job": "queue-exporter", "queue": "worker"})
	if r.Target.Name == "queue-exporter" || r.Target.Name == "worker" {
		t.Errorf("exporter or ambiguous name taken: %v", r.Target)
	}
	// "worker" is a Deployment in two namespaces and the alert has none:
	// neither is guessed. The broken-now scan takes the OOMKilled pod,
	// more severe than the not-ready one listed before it (rv-alpha).
	if r.Target != (report.Ref{Kind: "Pod", Namespace: "rv-broken", Name: "loader-0"}) {
		t.Errorf("scan: target %v, want the OOMKilled pod", r.Target)
	}
	if r.RootCause.Category != report.OOMKilled || r.RootCause.Object != (report.Ref{Kind: "StatefulSet", Namespace: "rv-broken", Name: "loader"}) {
		t.Errorf("scan: root cause %+v", r.RootCause)
	}
	if n := note(r); !strings.Contains(n, "no namespace") || !strings.Contains(n, "OOMKilled") {
		t.Errorf("scan: finding %q", n)
	}
	// In the alert's namespace, a Deployment without its pods (none
	// created) is found by its unavailable replicas.
	r = run(map[string]string{"alertname": "SLOBurn", "namespace": "rv-quota", "slo": "availability"})
	if r.Target != (report.Ref{Kind: "Deployment", Namespace: "rv-quota", Name: "ingest"}) || !strings.Contains(note(r), "0 of 2 replicas ready") {
		t.Errorf("namespace scan: target %v, note %q", r.Target, note(r))
	}
	// A healthy namespace yields no target but the namespace.
	r = run(map[string]string{"alertname": "QueueBacklog", "namespace": "rv-calm", "queue": "imports-nothing"})
	if r.Target != (report.Ref{Kind: "Namespace", Name: "rv-calm"}) || (r.RootCause.Object.Kind != "" && r.RootCause.Object.Kind != "Namespace") || note(r) != "" {
		t.Errorf("healthy namespace: target %v, root cause %v, note %q", r.Target, r.RootCause, note(r))
	}
	// Two Deployments carry app=batch in rv-calm: not guessed.
	r = run(map[string]string{"alertname": "Slow", "namespace": "rv-calm", "app": "batch"})
	if r.Target.Kind != "Namespace" {
		t.Errorf("ambiguous app label guessed: %v", r.Target)
	}
}

const resolveObjects = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: pricer, namespace: rv-shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: pricing-engine}}
  template:
    metadata: {labels: {app: pricing-engine}}
    spec: {containers: [{name: app, image: pricer:1}]}
status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
---
apiVersion: v1
kind: Service
metadata: {name: storefront, namespace: rv-shop}
spec:
  selector: {app: storefront}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Namespace
metadata: {name: rv-mesh}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: rv-a}
spec:
  replicas: 1
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec: {containers: [{name: app, image: worker:1}]}
status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: rv-b}
spec:
  replicas: 1
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec: {containers: [{name: app, image: worker:1}]}
status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: queue-exporter, namespace: rv-mon}
spec:
  replicas: 1
  selector: {matchLabels: {app: queue-exporter}}
  template:
    metadata: {labels: {app: queue-exporter}}
    spec: {containers: [{name: app, image: exporter:1}]}
status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: loader, namespace: rv-broken}
spec:
  replicas: 1
  serviceName: loader
  selector: {matchLabels: {app: loader}}
  template:
    metadata: {labels: {app: loader}}
    spec: {containers: [{name: app, image: loader:1, resources: {limits: {memory: 256Mi}}}]}
status: {replicas: 1, readyReplicas: 0}
---
apiVersion: v1
kind: Pod
metadata: {name: loader-0, namespace: rv-broken, labels: {app: loader}}
spec:
  nodeName: node-1
  containers: [{name: app, image: loader:1, resources: {limits: {memory: 256Mi}}}]
status:
  phase: Running
  conditions: [{type: Ready, status: "False"}]
  containerStatuses:
  - name: app
    image: loader:1
    imageID: ""
    ready: false
    restartCount: 6
    state: {waiting: {reason: CrashLoopBackOff, message: back-off restarting failed container}}
    lastState: {terminated: {reason: OOMKilled, exitCode: 137, startedAt: "${now-3m}", finishedAt: "${now-2m}"}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: slowstart, namespace: rv-alpha}
spec:
  replicas: 1
  serviceName: slowstart
  selector: {matchLabels: {app: slowstart}}
  template:
    metadata: {labels: {app: slowstart}}
    spec: {containers: [{name: app, image: slow:1}]}
status: {replicas: 1, readyReplicas: 0}
---
apiVersion: v1
kind: Pod
metadata: {name: slowstart-0, namespace: rv-alpha, labels: {app: slowstart}}
spec:
  containers: [{name: app, image: slow:1}]
status:
  phase: Running
  conditions: [{type: Ready, status: "False"}]
  containerStatuses:
  - {name: app, image: "slow:1", imageID: "", ready: false, restartCount: 0, state: {running: {startedAt: "${now-20m}"}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingest, namespace: rv-quota}
spec:
  replicas: 2
  selector: {matchLabels: {app: ingest}}
  template:
    metadata: {labels: {app: ingest}}
    spec: {containers: [{name: app, image: ingest:1}]}
status: {replicas: 0, readyReplicas: 0, unavailableReplicas: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch-a, namespace: rv-calm}
spec:
  replicas: 1
  selector: {matchLabels: {app: batch, part: a}}
  template:
    metadata: {labels: {app: batch, part: a}}
    spec: {containers: [{name: app, image: batch:1}]}
status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch-b, namespace: rv-calm}
spec:
  replicas: 1
  selector: {matchLabels: {app: batch, part: b}}
  template:
    metadata: {labels: {app: batch, part: b}}
    spec: {containers: [{name: app, image: batch:1}]}
status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
`

func TestRankBySeverity(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase, st corev1.ContainerStatus) corev1.Pod {
		st.Name = "app"
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{st}}}
	}
	pods := []corev1.Pod{
		pod("a-notready", corev1.PodRunning, corev1.ContainerStatus{Ready: false}),
		pod("b-pending", corev1.PodPending, corev1.ContainerStatus{}),
		pod("c-healthy", corev1.PodRunning, corev1.ContainerStatus{Ready: true}),
		pod("d-crash", corev1.PodRunning, corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}),
		pod("e-oom", corev1.PodRunning, corev1.ContainerStatus{Ready: true, RestartCount: 2,
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}),
	}
	rankBySeverity(pods)
	var got []string
	for _, p := range pods {
		got = append(got, p.Name)
	}
	want := []string{"e-oom", "d-crash", "b-pending", "a-notready", "c-healthy"}
	if !slices.Equal(got, want) {
		t.Errorf("ranked %v, want %v", got, want)
	}
	if s, _ := podSeverity(&pods[4], false); s != 0 {
		t.Errorf("healthy pod scored %d", s)
	}
	if s, why := podSeverity(&pods[4], true); s == 0 || why != "warning events" {
		t.Errorf("healthy pod with warnings scored %d (%s)", s, why)
	}
}
