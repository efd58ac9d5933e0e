package lab_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sleuth-sre/sleuth/internal/lab"
	"github.com/sleuth-sre/sleuth/internal/scenario"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

var shared *lab.Lab

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// startLab starts one lab for the package, from the pinned builds.
func startLab(t *testing.T) *lab.Lab {
	t.Helper()
	if shared != nil {
		return shared
	}
	for _, b := range lab.Backends[:len(lab.Backends)-1] {
		testbackend.Binary(t, b) // builds what is missing, with the script's lock
	}
	l, err := lab.Start(context.Background(), lab.Options{BinDir: testbackend.BinDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	shared = l
	return l
}

func load(t *testing.T, l *lab.Lab, file string, now time.Time) *scenario.Scenario {
	t.Helper()
	p, err := scenario.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Resolve(now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func clientset(t *testing.T, l *lab.Lab) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestLoadAndReset(t *testing.T) {
	l := startLab(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	load(t, l, "testdata/owned.yaml", now)
	cs := clientset(t, l)

	// Owner references point at the objects the server created.
	dep, err := cs.AppsV1().Deployments("lab-shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cs.AppsV1().ReplicaSets("lab-shop").Get(ctx, "web-5d8f7c9b4", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := cs.CoreV1().Pods("lab-shop").Get(ctx, "web-5d8f7c9b4-abcde", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.OwnerReferences[0].UID; got != dep.UID {
		t.Errorf("ReplicaSet's owner UID %s, want the Deployment's %s", got, dep.UID)
	}
	if got := pod.OwnerReferences[0].UID; got != rs.UID {
		t.Errorf("Pod's owner UID %s, want the ReplicaSet's %s", got, rs.UID)
	}
	// Status went through the status subresource.
	cst := pod.Status.ContainerStatuses
	if len(cst) != 1 || cst[0].RestartCount != 7 || cst[0].State.Waiting == nil || cst[0].State.Waiting.Reason != "CrashLoopBackOff" {
		t.Errorf("pod status = %+v", pod.Status)
	}
	if dep.Status.UnavailableReplicas != 1 {
		t.Errorf("deployment status = %+v", dep.Status)
	}
	fin := cst[0].LastTerminationState.Terminated.FinishedAt.Time
	if !fin.Equal(now.Add(-2 * time.Minute)) {
		t.Errorf("finishedAt %v, want ${now-2m} = %v", fin, now.Add(-2*time.Minute))
	}
	// The event is about the pod the server created.
	evs, err := cs.CoreV1().Events("lab-shop").List(ctx, metav1.ListOptions{})
	if err != nil || len(evs.Items) != 1 {
		t.Fatalf("events: %v, %v", evs, err)
	}
	if evs.Items[0].InvolvedObject.UID != pod.UID {
		t.Errorf("event's involvedObject UID %s, want the pod's %s", evs.Items[0].InvolvedObject.UID, pod.UID)
	}
	// The Job got a selector generated from its new UID.
	job, err := cs.BatchV1().Jobs("lab-data").Get(ctx, "nightly-report-29000000", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != string(job.UID) {
		t.Errorf("job selector %v, uid %s", job.Spec.Selector, job.UID)
	}
	svc, err := cs.CoreV1().Services("lab-shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP == "10.96.45.12" || svc.Spec.ClusterIP == "" {
		t.Errorf("service clusterIP %q, want one of the lab's range", svc.Spec.ClusterIP)
	}

	// Metrics: 8 samples, the last at now.
	q := url.Values{"query": {`kube_pod_container_status_restarts_total{namespace="lab-shop"}`}, "time": {now.Format(time.RFC3339)}}
	var res struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, l.URLs.VictoriaMetrics+"/api/v1/query?"+q.Encode(), &res)
	if len(res.Data.Result) != 1 || res.Data.Result[0].Value[1] != "7" {
		t.Errorf("restarts at now = %+v, want 7", res.Data.Result)
	}
	// Logs, with vlagent's field names and the pod's labels and node.
	lines := logQuery(t, l, `{kubernetes.pod_namespace="lab-shop"}`)
	if len(lines) != 3 || lines[0]["kubernetes.pod_labels.app"] != "web" || lines[0]["kubernetes.pod_node_name"] != "node-a" || lines[0]["kubernetes.container_name"] != "app" {
		t.Errorf("log lines = %v", lines)
	}

	if err := l.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"lab-shop", "lab-data"} {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
			t.Errorf("namespace %s survived the reset", ns)
		}
	}
	if nodes, _ := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); len(nodes.Items) != 0 {
		t.Errorf("%d nodes survived the reset", len(nodes.Items))
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Errorf("kube-system: %v", err)
	}
	getJSON(t, l.URLs.VictoriaMetrics+"/api/v1/query?"+q.Encode(), &res)
	if len(res.Data.Result) != 0 {
		t.Errorf("series survived the reset: %+v", res.Data.Result)
	}
	if lines := logQuery(t, l, `*`); len(lines) != 0 {
		t.Errorf("%d log lines survived the reset", len(lines))
	}

	// The same scenario loads again into the emptied lab.
	load(t, l, "testdata/owned.yaml", now.Add(time.Minute))
	if _, err := cs.AppsV1().Deployments("lab-shop").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("reload: %v", err)
	}
	if err := l.Reset(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrorNamesTheObject(t *testing.T) {
	l := startLab(t)
	s, err := scenario.Parse("bad.yaml", []byte(`
name: bad-object
summary: a Deployment whose selector does not match its template
alerts: [{labels: {alertname: A}}]
kubernetes:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: broken, namespace: lab-bad}
    spec:
      selector: {matchLabels: {app: a}}
      template: {metadata: {labels: {app: b}}, spec: {containers: [{name: c, image: i}]}}
expect: {category: none}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Resolve(time.Now())
	_, err = l.Load(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml: kubernetes[0] Deployment lab-bad/broken") || !strings.Contains(err.Error(), "selector") {
		t.Errorf("error = %v", err)
	}
	if err := l.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAttachAndDown(t *testing.T) {
	l := startLab(t)
	a, err := lab.Attach(context.Background(), l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.URLs != l.URLs || a.Kubeconfig != l.Kubeconfig {
		t.Errorf("attached %+v, want %+v", a.URLs, l.URLs)
	}
	if _, err := lab.Attach(context.Background(), t.TempDir()); err == nil {
		t.Error("attached to an empty directory")
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func logQuery(t *testing.T, l *lab.Lab, q string) []map[string]string {
	t.Helper()
	resp, err := http.PostForm(l.URLs.VictoriaLogs+"/select/logsql/query", url.Values{"query": {q}, "start": {"0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]string
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var m map[string]string
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestFailedStartLeavesNothing breaks the fifth backend (a stand-in
// Alertmanager that exits at once, for fault injection) and checks that
// the four started before it are stopped again.
func TestFailedStartLeavesNothing(t *testing.T) {
	real := testbackend.BinDir(t)
	for _, b := range lab.Backends[:len(lab.Backends)-1] {
		testbackend.Binary(t, b)
	}
	bins := t.TempDir()
	for _, b := range []string{"etcd", "kube-apiserver", "victoria-metrics", "victoria-logs"} {
		if err := os.Symlink(real+"/"+b, bins+"/"+b); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(bins+"/alertmanager", []byte("#!/bin/sh\necho 'stand-in: refusing to start' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err := lab.Start(context.Background(), lab.Options{Dir: dir, BinDir: bins})
	if err == nil || !strings.Contains(err.Error(), "alertmanager exited") || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("start error = %v, want alertmanager's exit with its output", err)
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes left running after the failed start: %v", left)
	}
	if _, err := os.Stat(dir + "/lab.json"); err == nil {
		t.Error("a failed start left a state file")
	}
}

// processesMentioning lists the command lines that contain s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("list processes: %v", err)
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, s) {
			out = append(out, cmd)
		}
	}
	return out
}

// A lab started again in the same directory starts empty: what the
// earlier one held must not become part of what a reset keeps.
func TestRestartInSameDirStartsEmpty(t *testing.T) {
	for _, b := range lab.Backends[:len(lab.Backends)-1] {
		testbackend.Binary(t, b)
	}
	dir := t.TempDir()
	ctx := context.Background()
	first, err := lab.Start(ctx, lab.Options{Dir: dir, BinDir: testbackend.BinDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	load(t, first, "testdata/owned.yaml", time.Now())
	first.Stop()

	second, err := lab.Start(ctx, lab.Options{Dir: dir, BinDir: testbackend.BinDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	cs := clientset(t, second)
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "lab-shop", metav1.GetOptions{}); err == nil {
		t.Fatal("the earlier lab's namespace is still there")
	}
	// And the scenario loads again (it would clash with leftovers).
	load(t, second, "testdata/owned.yaml", time.Now())
}
