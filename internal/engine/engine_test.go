package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/logsql"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

func TestMain(m *testing.M) { os.Exit(testbackend.KubeMain(m)) }

// stage renders a YAML template with times relative to now: {{ago "5m"}}.
func stage(now time.Time, tmpl string, args ...any) string {
	s := fmt.Sprintf(tmpl, args...)
	for {
		i := strings.Index(s, "${now-")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "}")
		d, err := time.ParseDuration(s[i+6 : i+j])
		if err != nil {
			panic(err)
		}
		s = s[:i] + now.Add(-d).UTC().Format(time.RFC3339) + s[i+j+1:]
	}
}

type backends struct {
	k  *testbackend.Kube
	vm *testbackend.VM
	vl *testbackend.VL
}

func newEngine(t *testing.T, b backends, withLogs bool) *Engine {
	t.Helper()
	kc, err := kube.NewForConfig(b.k.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := promql.New(promql.Config{URL: b.vm.URL})
	if err != nil {
		t.Fatal(err)
	}
	bk := Backends{Kube: kc, Prom: pc, Missing: map[string]string{"logs": "victorialogs.url is not configured"}}
	if withLogs {
		lc, err := logsql.New(logsql.Config{URL: b.vl.URL})
		if err != nil {
			t.Fatal(err)
		}
		bk.Logs = lc
	}
	rb, errs := runbook.Builtin()
	if len(errs) > 0 {
		t.Fatalf("built-in runbooks: %v", errs)
	}
	bk.Runbooks = rb
	return New(Config{}, bk, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
}

func firing(labels map[string]string, startsAt time.Time) store.Alert {
	return store.Alert{Status: "firing", Labels: labels, StartsAt: startsAt, Fingerprint: "0123456789abcdef",
		Annotations: map[string]string{"summary": "test alert"}}
}

// TestEngineAgainstRealBackends stages two incidents in a real API server,
// VictoriaMetrics and VictoriaLogs and checks the engine names the cause
// and the object to fix, citing the calls it made.
func TestEngineAgainstRealBackends(t *testing.T) {
	b := backends{k: testbackend.SharedKube(t), vm: testbackend.StartVictoriaMetrics(t), vl: testbackend.StartVictoriaLogs(t)}
	now := time.Now().UTC().Truncate(time.Second)

	t.Run("oom after the limit was lowered", func(t *testing.T) {
		ns := b.k.Namespace(t, "shop")
		b.k.Apply(t, stage(now, oomObjects, ns))
		// The working set climbs to the 256Mi limit, then the kill.
		var samples strings.Builder
		for i := 60; i >= 0; i-- {
			ts := now.Add(-time.Duration(i) * time.Minute).UnixMilli()
			ws := 150e6 + float64(60-i)*2e6
			fmt.Fprintf(&samples, "container_memory_working_set_bytes{namespace=%q,pod=\"checkout-7d9f8b6c5d-x2k4p\",container=\"app\"} %.0f %d\n", ns, min(ws, 268e6), ts)
			fmt.Fprintf(&samples, "kube_pod_container_resource_limits{namespace=%q,pod=\"checkout-7d9f8b6c5d-x2k4p\",container=\"app\",resource=\"memory\"} 268435456 %d\n", ns, ts)
		}
		b.vm.Import(t, samples.String())
		e := newEngine(t, b, true)
		r, err := e.InvestigateAlerts(context.Background(), []store.Alert{firing(map[string]string{
			"alertname": "KubePodCrashLooping", "namespace": ns, "pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app", "severity": "warning",
		}, now.Add(-10*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		want := report.Ref{Kind: "Deployment", Namespace: ns, Name: "checkout"}
		if r.RootCause.Category != report.OOMKilled || r.RootCause.Object != want {
			t.Fatalf("root cause = %+v, want oom-killed %v\n%s", r.RootCause, want, r.Text())
		}
		text := strings.ToLower(r.SearchText())
		for _, m := range []string{"256mi", "oomkilled", "checkout"} {
			if !strings.Contains(text, m) {
				t.Errorf("report lacks %q:\n%s", m, r.Text())
			}
		}
		// The OOM finding cites the pod read and the memory series.
		cited := map[string]bool{}
		for _, id := range r.Findings[0].Evidence {
			cited[id] = true
		}
		tools := map[string]bool{}
		for _, c := range r.ToolCalls {
			if cited[c.ID] {
				tools[c.Tool] = true
			}
		}
		if !tools["kubernetes.get"] || !tools["metrics.query_range"] {
			t.Errorf("OOM finding cites %v, want the pod read and the memory range query", tools)
		}
		if len(r.Runbooks) == 0 {
			t.Errorf("no runbook matched KubePodCrashLooping")
		}
		if r.Sections[report.SectionConclusions] == "" || r.Sections[report.SectionNextSteps] == "" {
			t.Errorf("HolmesGPT sections not filled: %v", r.Sections)
		}
		// The UI charts the working set against its limit.
		var mem *report.Series
		for i, s := range r.Series {
			if s.Name == "memory_working_set" && s.Labels["container"] == "app" {
				mem = &r.Series[i]
			}
		}
		if mem == nil || mem.Limit == nil || *mem.Limit != 268435456 || mem.Unit != report.UnitBytes || len(mem.Points) < 10 || len(mem.Points) > report.MaxSeriesPoints {
			t.Errorf("memory series for the chart = %+v, want points and the 256Mi limit", mem)
		}
		kinds := map[string]bool{}
		for _, e := range r.Timeline {
			kinds[e.Kind] = true
		}
		if !kinds[report.TimelineAlert] {
			t.Errorf("timeline %+v lacks the alert", r.Timeline)
		}
	})

	t.Run("frontend errors caused by its database", func(t *testing.T) {
		ns := b.k.Namespace(t, "web")
		b.k.Apply(t, stage(now, dependencyObjects, ns))
		var lines []map[string]string
		for i := 30; i > 0; i-- {
			lines = append(lines, map[string]string{
				"_time":                    now.Add(-time.Duration(i) * 20 * time.Second).Format(time.RFC3339Nano),
				"_msg":                     "level=error msg=\"query failed\" err=\"dial tcp: lookup orders-db on 10.96.0.10:53: no such host\"",
				"kubernetes.pod_namespace": ns, "kubernetes.pod_name": "storefront-6f7d8c9b5-kx2pq", "kubernetes.container_name": "web",
			}, map[string]string{
				"_time":                    now.Add(-time.Duration(i)*20*time.Second + time.Second).Format(time.RFC3339Nano),
				"_msg":                     "GET /checkout 502 upstream error: failed to connect to orders-db:5432: connection refused",
				"kubernetes.pod_namespace": ns, "kubernetes.pod_name": "storefront-6f7d8c9b5-kx2pq", "kubernetes.container_name": "web",
			})
		}
		b.vl.Ingest(t, lines)
		e := newEngine(t, b, true)
		r, err := e.InvestigateAlerts(context.Background(), []store.Alert{firing(map[string]string{
			"alertname": "HTTPHighErrorRate", "namespace": ns, "service": "storefront", "severity": "critical",
		}, now.Add(-5*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		want := report.Ref{Kind: "StatefulSet", Namespace: ns, Name: "orders-db"}
		if r.RootCause.Category != report.DependencyFailure || r.RootCause.Object != want {
			t.Fatalf("root cause = %+v, want dependency-failure %v\n%s", r.RootCause, want, r.Text())
		}
		if !strings.Contains(r.SearchText(), "connection refused") {
			t.Errorf("report does not quote the failing log line:\n%s", r.Text())
		}
		// The 60 log lines fold into their two templates, 30 each.
		if len(r.Logs) != 2 || r.Logs[0].Count != 30 || r.Logs[1].Count != 30 || r.Logs[0].Pod != "storefront-6f7d8c9b5-kx2pq" {
			t.Errorf("folded logs = %+v, want two templates of 30 lines", r.Logs)
		}
	})

	t.Run("without VictoriaLogs the report says so", func(t *testing.T) {
		ns := b.k.Namespace(t, "ops")
		b.k.Apply(t, stage(now, oomObjects, ns))
		e := newEngine(t, b, false)
		r, err := e.InvestigateAlerts(context.Background(), []store.Alert{firing(map[string]string{
			"alertname": "KubePodCrashLooping", "namespace": ns, "pod": "checkout-7d9f8b6c5d-x2k4p", "severity": "warning",
		}, now.Add(-10*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		if r.RootCause.Category != report.OOMKilled {
			t.Errorf("root cause = %+v without logs, want oom-killed from the pod status", r.RootCause)
		}
		// The kubelet-less API server cannot serve container logs either:
		// both gaps are listed.
		var whats []string
		for _, u := range r.Unchecked {
			whats = append(whats, u.What+": "+u.Why)
		}
		joined := strings.Join(whats, "\n")
		if !strings.Contains(joined, "container logs of checkout-7d9f8b6c5d-x2k4p") {
			t.Errorf("unchecked = %s, want the container logs listed", joined)
		}
	})
}

const oomObjects = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: %[1]s, uid: ""}
spec:
  replicas: 1
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers:
      - name: app
        image: registry.example.com/checkout:2.3.1
        resources: {limits: {memory: 256Mi}, requests: {memory: 128Mi}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: checkout-7d9f8b6c5d
  namespace: %[1]s
  labels: {app: checkout}
  annotations: {deployment.kubernetes.io/revision: "1"}
spec:
  replicas: 1
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers:
      - name: app
        image: registry.example.com/checkout:2.3.1
        resources: {limits: {memory: 256Mi}, requests: {memory: 128Mi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: checkout-7d9f8b6c5d-x2k4p
  namespace: %[1]s
  labels: {app: checkout}
spec:
  nodeName: worker-1
  containers:
  - name: app
    image: registry.example.com/checkout:2.3.1
    resources: {limits: {memory: 256Mi}, requests: {memory: 128Mi}}
status:
  phase: Running
  conditions: [{type: Ready, status: "False"}]
  containerStatuses:
  - name: app
    ready: false
    restartCount: 6
    image: registry.example.com/checkout:2.3.1
    imageID: ""
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 5m0s restarting failed container}}
    lastState: {terminated: {exitCode: 137, reason: OOMKilled, startedAt: "${now-4m}", finishedAt: "${now-2m}"}}
`

const dependencyObjects = `
apiVersion: v1
kind: Service
metadata: {name: storefront, namespace: %[1]s}
spec:
  selector: {app: storefront}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata:
  name: storefront-6f7d8c9b5-kx2pq
  namespace: %[1]s
  labels: {app: storefront}
spec:
  nodeName: worker-1
  containers: [{name: web, image: registry.example.com/storefront:5.1.0}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: web, ready: true, restartCount: 0, image: registry.example.com/storefront:5.1.0, imageID: "", state: {running: {startedAt: "${now-3h}"}}}
---
apiVersion: v1
kind: Service
metadata: {name: orders-db, namespace: %[1]s}
spec:
  selector: {app: orders-db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: orders-db, namespace: %[1]s}
spec:
  serviceName: orders-db
  replicas: 1
  selector: {matchLabels: {app: orders-db}}
  template:
    metadata: {labels: {app: orders-db}}
    spec:
      containers: [{name: postgres, image: postgres:16}]
---
apiVersion: v1
kind: Pod
metadata:
  name: orders-db-0
  namespace: %[1]s
  labels: {app: orders-db}
spec:
  nodeName: worker-2
  containers: [{name: postgres, image: postgres:16}]
status:
  phase: Running
  conditions: [{type: Ready, status: "False"}]
  containerStatuses:
  - name: postgres
    ready: false
    restartCount: 9
    image: postgres:16
    imageID: ""
    state: {waiting: {reason: CrashLoopBackOff}}
    lastState: {terminated: {exitCode: 1, reason: Error, startedAt: "${now-6m}", finishedAt: "${now-5m}"}}
`

// BenchmarkInvestigate measures one investigation without an LLM against
// the local real backends (API server, VictoriaMetrics, VictoriaLogs), the
// OOM incident of the test above. It reports the p50 and p95 latency and the
// backend calls per investigation.
func BenchmarkInvestigate(b *testing.B) {
	bk := backends{k: testbackend.SharedKube(b), vm: testbackend.StartVictoriaMetrics(b), vl: testbackend.StartVictoriaLogs(b)}
	now := time.Now().UTC().Truncate(time.Second)
	ns := bk.k.Namespace(b, "bench")
	bk.k.Apply(b, stage(now, oomObjects, ns))
	kc, err := kube.NewForConfig(bk.k.RESTConfig)
	if err != nil {
		b.Fatal(err)
	}
	pc, _ := promql.New(promql.Config{URL: bk.vm.URL})
	lc, _ := logsql.New(logsql.Config{URL: bk.vl.URL})
	rb, _ := runbook.Builtin()
	e := New(Config{}, Backends{Kube: kc, Prom: pc, Logs: lc, Runbooks: rb}, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	alerts := []store.Alert{firing(map[string]string{
		"alertname": "KubePodCrashLooping", "namespace": ns, "pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app", "severity": "warning",
	}, now.Add(-10*time.Minute))}
	var durs []time.Duration
	calls := 0
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		r, err := e.InvestigateAlerts(context.Background(), alerts)
		if err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(start))
		calls += len(r.ToolCalls)
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durs[(len(durs)*95)/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
}
