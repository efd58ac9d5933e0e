package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

var ctx = context.Background()

func TestNewFromKubeconfigContext(t *testing.T) {
	k := testbackend.SharedKube(t)
	// A kubeconfig whose current context points at nothing: only the
	// context the Config names reaches the server.
	cfg, err := clientcmd.LoadFromFile(k.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://" + testbackend.FreeAddr(t), InsecureSkipTLSVerify: true}
	cfg.Contexts["nowhere"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "sleuth-admin"}
	cfg.CurrentContext = "nowhere"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}

	c, err := New(Config{Kubeconfig: path, Context: testbackend.KubeContext})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Node(ctx, "no-such-node"); !apierrors.IsNotFound(err) {
		t.Fatalf("context %s: got %v, want NotFound from the real server", testbackend.KubeContext, err)
	}

	// No Context: the current one, which is unreachable. KUBECONFIG is
	// honoured when no file is given.
	t.Setenv("KUBECONFIG", path)
	t.Setenv("KUBERNETES_SERVICE_HOST", "") // not in a pod, whatever runs the test
	c, err = New(Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Node(ctx, "no-such-node"); err == nil || apierrors.IsNotFound(err) {
		t.Fatalf("current context nowhere: got %v, want a connection error", err)
	}

	if _, err := New(Config{Kubeconfig: path, Context: "missing"}); err == nil || !strings.Contains(err.Error(), `context "missing"`) {
		t.Fatalf("missing context: got %v", err)
	}
}

func TestRestConfigPrefersInCluster(t *testing.T) {
	inPod := func() (*rest.Config, error) { return &rest.Config{Host: "https://10.0.0.1:443"}, nil }
	notInPod := func() (*rest.Config, error) { return nil, rest.ErrNotInCluster }
	broken := func() (*rest.Config, error) { return nil, errors.New("token file unreadable") }
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"c": {Server: "https://from-kubeconfig:6443"}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"u": {Token: "t"}},
		Contexts:       map[string]*clientcmdapi.Context{"ctx": {Cluster: "c", AuthInfo: "u"}},
		CurrentContext: "ctx",
	}, kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", kubeconfig)

	f := func(cfg Config, inCluster func() (*rest.Config, error), wantHost, wantErr string) {
		t.Helper()
		rc, err := restConfig(cfg, inCluster)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%+v: got %v, want error %q", cfg, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
		if rc.Host != wantHost {
			t.Fatalf("%+v: host %s, want %s", cfg, rc.Host, wantHost)
		}
	}
	f(Config{}, inPod, "https://10.0.0.1:443", "")
	f(Config{}, notInPod, "https://from-kubeconfig:6443", "")
	f(Config{}, broken, "", "token file unreadable")
	// An explicit kubeconfig or context wins over the pod's own identity.
	f(Config{Kubeconfig: kubeconfig}, inPod, "https://from-kubeconfig:6443", "")
	f(Config{Context: "ctx"}, inPod, "https://from-kubeconfig:6443", "")
}

func TestTypedGetters(t *testing.T) {
	in := stageIncident(t)
	c, rec, _ := client(t, in.kube.RESTConfig)
	ns := in.ns
	f := func(kind, namespace, name string, get func() (runtime.Object, error), want string) {
		t.Helper()
		obj, err := get()
		if err != nil {
			t.Fatalf("%s %s: %v", kind, name, err)
		}
		if got := RefOf(obj); got.Name != name || got.Namespace != namespace {
			t.Fatalf("%s: got %s", kind, got)
		}
		call := lastCall(t, rec)
		wantDesc := kubectl("get", kind, namespace, name)
		if call.Tool != "kubernetes.get" || call.Backend != "kubernetes" || call.Status != toolcall.Success || call.Description != wantDesc {
			t.Fatalf("%s: recorded %+v, want kubernetes.get %q success", kind, call, wantDesc)
		}
		if !strings.Contains(call.Excerpt, want) {
			t.Fatalf("%s: excerpt lacks %q:\n%s", kind, want, call.Excerpt)
		}
	}
	o := func(obj runtime.Object, err error) (runtime.Object, error) { return obj, err }
	f("pod", ns, in.pods[0], func() (runtime.Object, error) { return o(c.Pod(ctx, ns, in.pods[0])) }, "Last state: Terminated (OOMKilled), exit code 137")
	f("node", "", in.node, func() (runtime.Object, error) { return o(c.Node(ctx, in.node)) }, "Ready=False KubeletNotReady: PLEG is not healthy")
	f("deployment", ns, "checkout", func() (runtime.Object, error) { return o(c.Deployment(ctx, ns, "checkout")) }, "3 desired | 3 updated | 3 total | 1 ready")
	f("replicaset", ns, in.newRS, func() (runtime.Object, error) { return o(c.ReplicaSet(ctx, ns, in.newRS)) }, "image: shop/checkout:1.4.2")
	f("statefulset", ns, "db", func() (runtime.Object, error) { return o(c.StatefulSet(ctx, ns, "db")) }, "image: postgres:17")
	f("daemonset", ns, "node-exporter", func() (runtime.Object, error) { return o(c.DaemonSet(ctx, ns, "node-exporter")) }, "prom/node-exporter:1.9")
	f("job", ns, in.job, func() (runtime.Object, error) { return o(c.Job(ctx, ns, in.job)) }, "Controlled by: CronJob "+in.cronJob)
	f("cronjob", ns, in.cronJob, func() (runtime.Object, error) { return o(c.CronJob(ctx, ns, in.cronJob)) }, "schedule: 45 * * * *")
	f("persistentvolumeclaim", ns, "data-db-0", func() (runtime.Object, error) { return o(c.PersistentVolumeClaim(ctx, ns, "data-db-0")) }, "Storage class: "+in.sc)
	f("storageclass", "", in.sc, func() (runtime.Object, error) { return o(c.StorageClass(ctx, in.sc)) }, "provisioner: ebs.csi.aws.com")
	f("service", ns, "checkout", func() (runtime.Object, error) { return o(c.Service(ctx, ns, "checkout")) }, "targetPort: 8080")
	f("configmap", ns, "checkout-config", func() (runtime.Object, error) { return o(c.ConfigMap(ctx, ns, "checkout-config")) }, `app.yaml (2000 bytes): "x: 1\nx: 1`)
	f("horizontalpodautoscaler", ns, "checkout", func() (runtime.Object, error) { return o(c.HorizontalPodAutoscaler(ctx, ns, "checkout")) }, "resource cpu: current 95% / target 70% utilization")
	f("resourcequota", ns, "compute", func() (runtime.Object, error) { return o(c.ResourceQuota(ctx, ns, "compute")) }, "pods: used 10 / hard 10 (at limit)")
	f("limitrange", ns, "defaults", func() (runtime.Object, error) { return o(c.LimitRange(ctx, ns, "defaults")) }, "Container: max memory=2Gi")
	f("networkpolicy", ns, "deny-all", func() (runtime.Object, error) { return o(c.NetworkPolicy(ctx, ns, "deny-all")) }, "- Ingress")
	f("ingress", ns, "shop", func() (runtime.Object, error) { return o(c.Ingress(ctx, ns, "shop")) }, "host: shop.example.com")

	pvs, err := c.List(ctx, "pv", "", ListOptions{})
	if err != nil || len(pvs.Items) == 0 {
		t.Fatalf("list pv: %v", err)
	}
	f("persistentvolume", "", pvs.Items[0].GetName(), func() (runtime.Object, error) { return o(c.PersistentVolume(ctx, pvs.Items[0].GetName())) }, "path: /data")

	// The ConfigMap itself is whole; only its rendering is bounded.
	cm, err := c.ConfigMap(ctx, ns, "checkout-config")
	if err != nil || len(cm.Data["app.yaml"]) != 2000 {
		t.Fatalf("configmap value cut: %d bytes, %v", len(cm.Data["app.yaml"]), err)
	}
	if d := Describe(cm); strings.Count(d, "x: 1") > 60 {
		t.Fatalf("configmap rendering not bounded:\n%s", d)
	}
}

func TestEndpointSlicesAndPods(t *testing.T) {
	in := stageIncident(t)
	c, rec, log := client(t, in.kube.RESTConfig)
	slices, err := c.EndpointSlices(ctx, in.ns, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if len(slices.Items) != 1 || lastCall(t, rec).Excerpt != "EndpointSlice "+in.ns+"/checkout-h7d2k (IPv4) ports http=8080:\n  10.244.1.7 not ready Pod "+in.pods[0]+" on "+in.node+"\n" {
		t.Fatalf("endpoint slices: %d, excerpt:\n%s", len(slices.Items), lastCall(t, rec).Excerpt)
	}

	// A bounded list is cut with a continue token, and says so.
	pods, err := c.Pods(ctx, in.ns, ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	call := lastCall(t, rec)
	if len(pods.Items) != 2 || pods.Continue == "" || !call.Truncated || call.Description != "kubectl get pods -n "+in.ns {
		t.Fatalf("bounded list: %d pods, continue %q, call %+v", len(pods.Items), pods.Continue, call)
	}
	if !slices2Contains(log.all(), "limit=2") {
		t.Fatalf("the limit was not sent to the server: %v", log.all())
	}
	pods, err = c.Pods(ctx, in.ns, ListOptions{LabelSelector: "app=checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if got := podNames(pods.Items); !cmp.Equal(got, sorted(in.pods)) {
		t.Fatalf("pods app=checkout: %v, want %v", got, in.pods)
	}
	if call := lastCall(t, rec); !strings.Contains(call.Excerpt, "CrashLoopBackOff  7  "+in.node+"  checkout OOMKilled exit 137 at 2025-03-14T09:24:53Z") {
		t.Fatalf("pod listing:\n%s", call.Excerpt)
	}
	if _, err := c.Pods(ctx, in.ns, ListOptions{LabelSelector: "app=nothing"}); err != nil {
		t.Fatal(err)
	}
	if s := lastCall(t, rec).Status; s != toolcall.NoData {
		t.Fatalf("empty list recorded as %s, want no_data", s)
	}
}

func slices2Contains(reqs []string, sub string) bool {
	return slices.ContainsFunc(reqs, func(r string) bool { return strings.Contains(r, sub) })
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestNotFoundIsNoData(t *testing.T) {
	k := testbackend.SharedKube(t)
	c, rec, _ := client(t, k.RESTConfig)
	ns := k.Namespace(t, "empty")
	_, err := c.Pod(ctx, ns, "gone-7d9f8b6c5d-x2k4p")
	if !apierrors.IsNotFound(err) {
		t.Fatalf("got %v, want NotFound", err)
	}
	call := lastCall(t, rec)
	if call.Status != toolcall.NoData || !strings.Contains(call.Excerpt, `"gone-7d9f8b6c5d-x2k4p" not found`) || call.Error != "" {
		t.Fatalf("recorded %+v", call)
	}
	if _, err := c.Quotas(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if call := lastCall(t, rec); call.Status != toolcall.NoData || call.Excerpt != "No ResourceQuota or LimitRange in namespace "+ns+".\n" {
		t.Fatalf("empty quotas recorded %+v", call)
	}
}

// hungAPIServer accepts requests and never answers: it stands in for an
// API server that hangs, which the real one cannot be made to do.
func hungAPIServer(t *testing.T) *httptest.Server {
	stop := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop); s.Close() })
	return s
}

func TestCallsAreBounded(t *testing.T) {
	s := hungAPIServer(t)
	// No HTTP client timeout: only the per-call context bounds the calls.
	c, err := NewForConfig(&rest.Config{Host: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithTimeout(100 * time.Millisecond)
	calls := map[string]func() error{
		"pod":       func() error { _, err := c.Pod(ctx, "shop", "checkout"); return err },
		"discovery": func() error { _, err := c.Get(ctx, "Certificate", "shop", "checkout"); return err },
		"events":    func() error { _, err := c.Events(ctx, "shop", "Pod", "checkout"); return err },
	}
	for name, call := range calls {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s against a hung API server: %v, want the call's deadline", name, err)
			}
		// Not a timing assertion: a generous net so that a missing
		// deadline fails here instead of hanging the package.
		case <-time.After(time.Minute):
			t.Fatalf("%s against a hung API server did not return", name)
		}
	}
}

func TestGenericGetAndListOfCRD(t *testing.T) {
	in := stageIncident(t)
	c, rec, _ := client(t, in.kube.RESTConfig)
	// Discovery is cached before the CRD exists: Get must notice the new
	// kind and refresh, as sleuth does in a cluster where CRDs come later.
	if _, err := c.Get(ctx, "deploy", in.ns, "checkout"); err != nil {
		t.Fatal(err)
	}
	if call := lastCall(t, rec); call.Description != "kubectl get deployments.apps -n "+in.ns+" checkout" || !strings.HasPrefix(call.Excerpt, "Deployment "+in.ns+"/checkout\n") {
		t.Fatalf("short name deploy: %+v", call)
	}
	group := in.kube.Unique("cert-manager") + ".io" // the CRD is cluster-wide; tests share the server
	in.kube.Apply(t, fmt.Sprintf(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: certificates.%[1]s
spec:
  group: %[1]s
  names: {kind: Certificate, plural: certificates, singular: certificate, shortNames: [cert, certs], listKind: CertificateList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: %[1]s/v1
kind: Certificate
metadata: {name: checkout-tls, namespace: %[2]s}
spec: {secretName: checkout-tls, dnsNames: [shop.example.com], issuerRef: {name: letsencrypt, kind: ClusterIssuer}}
status:
  conditions:
  - {type: Ready, status: "False", reason: DoesNotExist, message: Issuing certificate as Secret does not exist}
`, group, in.ns))

	for _, kind := range []string{"Certificate", "certificates", "cert", "certificates." + group, "Certificate.v1." + group} {
		u, err := c.Get(ctx, kind, in.ns, "checkout-tls")
		if err != nil {
			t.Fatalf("get %s: %v", kind, err)
		}
		reason, _, _ := unstructuredString(u.Object, "status", "conditions", "0", "reason")
		if u.GetKind() != "Certificate" || reason != "DoesNotExist" {
			t.Fatalf("get %s: kind %s, status reason %q (the status subresource was not written?)", kind, u.GetKind(), reason)
		}
		if call := lastCall(t, rec); call.Description != "kubectl get certificates."+group+" -n "+in.ns+" checkout-tls" || call.Status != toolcall.Success {
			t.Fatalf("get %s recorded %+v", kind, call)
		}
	}
	list, err := c.List(ctx, "certs", in.ns, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || lastCall(t, rec).Excerpt != "Certificate "+in.ns+"/checkout-tls created "+ts(list.Items[0].GetCreationTimestamp())+" Ready=False DoesNotExist\n" {
		t.Fatalf("list certs: %d items, excerpt %q", len(list.Items), lastCall(t, rec).Excerpt)
	}
	if _, err := c.Get(ctx, "Widget", in.ns, "x"); err == nil || !strings.Contains(err.Error(), `resolve kind "Widget"`) {
		t.Fatalf("unknown kind: %v", err)
	}
	if s := lastCall(t, rec).Status; s != toolcall.Error {
		t.Fatalf("unknown kind recorded as %s", s)
	}

	// A Pod through the generic path renders like a typed one.
	u, err := c.Get(ctx, "po", in.ns, in.pods[0])
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Pod(ctx, in.ns, in.pods[0])
	if diff := cmp.Diff(Describe(p), Describe(u)); diff != "" {
		t.Fatalf("generic and typed pod renderings differ:\n%s", diff)
	}
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	var cur any = obj
	for _, f := range fields {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[f]
		case []any:
			var i int
			fmt.Sscan(f, &i)
			if i >= len(c) {
				return "", false, nil
			}
			cur = c[i]
		default:
			return "", false, nil
		}
	}
	s, ok := cur.(string)
	return s, ok, nil
}

func TestSecretsAreNeverRead(t *testing.T) {
	k := testbackend.SharedKube(t)
	ns := k.Namespace(t, "refusal")
	k.Apply(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "checkout-db", Namespace: ns}, StringData: map[string]string{"password": "hunter2"}})
	c, rec, log := client(t, k.RESTConfig)
	for _, kind := range []string{"Secret", "secret", "secrets", "SECRETS", "secrets.v1.", "Secret.v1", " secrets "} {
		if _, err := c.Get(ctx, kind, ns, "checkout-db"); !errors.Is(err, ErrSecretRefused) {
			t.Fatalf("get %q: %v, want ErrSecretRefused", kind, err)
		}
		if call := lastCall(t, rec); call.Status != toolcall.Error || !strings.Contains(call.Error, "refused") {
			t.Fatalf("refusal recorded as %+v", call)
		}
		if _, err := c.List(ctx, kind, ns, ListOptions{}); !errors.Is(err, ErrSecretRefused) {
			t.Fatalf("list %q: %v, want ErrSecretRefused", kind, err)
		}
		if _, err := c.PodsOf(ctx, Ref{Kind: kind, Namespace: ns, Name: "checkout-db"}); !errors.Is(err, ErrSecretRefused) {
			t.Fatalf("pods of %q: %v, want ErrSecretRefused", kind, err)
		}
	}
	if reqs := log.all(); len(reqs) != 0 {
		t.Fatalf("refusals made requests: %v", reqs)
	}
	// Any spelling that reaches the mapper ends at the same refusal.
	if _, err := c.Get(ctx, "v1/secrets", ns, "checkout-db"); err == nil {
		t.Fatal("v1/secrets answered")
	}

	// An object owned by a Secret: the chain names the Secret, never gets it.
	secret, err := k.Clientset.CoreV1().Secrets(ns).Get(ctx, "checkout-db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k.Apply(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owned", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Secret", Name: "checkout-db", UID: secret.UID, Controller: ptr(true)}}}})
	chain, err := c.OwnerChain(ctx, Ref{Kind: "ConfigMap", Namespace: ns, Name: "owned"})
	if err != nil {
		t.Fatal(err)
	}
	if got := describeChain(chain); got != "ConfigMap "+ns+"/owned -> Secret "+ns+"/checkout-db\n" {
		t.Fatalf("chain %q", got)
	}
	for _, r := range log.all() {
		if strings.Contains(r, "/secrets/") || strings.Contains(r, "/secrets?") || strings.HasSuffix(r, "/secrets") {
			t.Fatalf("a Secret was requested: %s", r)
		}
	}
	for _, call := range rec.Calls() {
		if strings.Contains(call.Excerpt, "hunter2") {
			t.Fatalf("secret data in a recorded call: %+v", call)
		}
	}
}

func TestEvents(t *testing.T) {
	in := stageIncident(t)
	ns, pod := in.ns, in.pods[0]
	ev := func(name, kind, obj, reason, msg string, last time.Duration, count int32) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: ns, Name: obj},
			Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Count: count,
			FirstTimestamp: at(last - time.Minute), LastTimestamp: at(last),
			Source: corev1.EventSource{Component: "kubelet"},
		}
	}
	// Created newest first: Events must sort oldest first.
	in.kube.Apply(t,
		ev("e1", "Pod", pod, "BackOff", "Back-off restarting failed container checkout", 0, 12),
		ev("e2", "Pod", pod, "Killing", "Container checkout exceeded its memory limit", -3*time.Minute, 1),
		// Same name, another kind; another pod of the same ReplicaSet: both
		// must be left out by the field selector.
		ev("e3", "ReplicaSet", pod, "SuccessfulCreate", "not about the pod", -time.Minute, 1),
		ev("e4", "Pod", in.pods[1], "BackOff", "the other pod", -time.Minute, 1),
		ev("e5", "ReplicaSet", in.newRS, "FailedCreate", `pods "checkout-7d9f8b6c5d-zzzzz" is forbidden: exceeded quota: compute`, -2*time.Minute, 3),
		ev("e6", "ReplicaSet", in.newRS, "FailedCreate", "an old denial", -2*time.Hour, 1),
	)
	c, rec, log := client(t, in.kube.RESTConfig)

	events, err := c.Events(ctx, ns, "pod", pod) // "pod" is looked up as Kind Pod
	if err != nil {
		t.Fatal(err)
	}
	if got := eventNames(events); !cmp.Equal(got, []string{"e2", "e1"}) {
		t.Fatalf("events of pod %s: %v, want [e2 e1]", pod, got)
	}
	call := lastCall(t, rec)
	want := "2025-03-14T09:23:53Z Warning Killing pod/" + pod + ": Container checkout exceeded its memory limit\n" +
		"2025-03-14T09:26:53Z Warning BackOff pod/" + pod + " (x12): Back-off restarting failed container checkout\n"
	if call.Tool != "kubernetes.events" || call.Description != "kubectl events -n "+ns+" --for pod/"+pod || call.Excerpt != want {
		t.Fatalf("recorded %+v\nwant excerpt:\n%s", call, want)
	}
	if !slices2Contains(log.all(), "involvedObject.kind%3DPod") || !slices2Contains(log.all(), "involvedObject.name%3D"+pod) ||
		!slices2Contains(log.all(), "involvedObject.namespace%3D"+ns) {
		t.Fatalf("no field selector sent: %v", log.all())
	}

	// Namespace events in a window, by reason: the quota denial of a pod
	// that was never created.
	events, err = c.NamespaceEvents(ctx, ns, EventFilter{Since: base.Add(-time.Hour), Reason: "FailedCreate", Type: "Warning"})
	if err != nil {
		t.Fatal(err)
	}
	if got := eventNames(events); !cmp.Equal(got, []string{"e5"}) {
		t.Fatalf("FailedCreate in the last hour: %v, want [e5]", got)
	}
	events, err = c.NamespaceEvents(ctx, ns, EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := eventNames(events); !cmp.Equal(got, []string{"e6", "e2", "e5", "e3", "e4", "e1"}) {
		t.Fatalf("all events: %v", got)
	}
	// A node's events live in "default" with no involvedObject namespace;
	// namespace "" finds them wherever they are.
	in.kube.Apply(t, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: in.kube.Unique("node-event"), Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: in.node},
		Reason:         "NodeNotReady", Type: corev1.EventTypeNormal, Count: 1, LastTimestamp: at(-5 * time.Minute),
		Message: "Node " + in.node + " status is now: NodeNotReady",
	})
	events, err = c.Events(ctx, "", "Node", in.node)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Reason != "NodeNotReady" || lastCall(t, rec).Description != "kubectl events --for node/"+in.node {
		t.Fatalf("node events: %+v, recorded %+v", events, lastCall(t, rec))
	}

	if _, err := c.Events(ctx, ns, "Pod", "no-such-pod"); err != nil {
		t.Fatal(err)
	}
	if call := lastCall(t, rec); call.Status != toolcall.NoData || call.Excerpt != "No events.\n" {
		t.Fatalf("no events recorded %+v", call)
	}
}

func TestEventsKeepTheNewestHundred(t *testing.T) {
	k := testbackend.SharedKube(t)
	ns := k.Namespace(t, "noisy")
	var objs []any
	for i := range 130 {
		objs = append(objs, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("e%03d", i), Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "flappy"},
			Reason:         "Unhealthy", Type: corev1.EventTypeWarning, Count: 1,
			// Names and times in opposite orders: the server lists by name.
			LastTimestamp: at(-time.Duration(i) * time.Second),
		})
	}
	k.Apply(t, objs...)
	c, rec, _ := client(t, k.RESTConfig)
	events, err := c.Events(ctx, ns, "Pod", "flappy")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != maxEvents || events[0].Name != "e099" || events[len(events)-1].Name != "e000" {
		t.Fatalf("%d events from %s to %s, want the newest 100, e099..e000", len(events), events[0].Name, events[len(events)-1].Name)
	}
	if !lastCall(t, rec).Truncated {
		t.Fatal("cut events not marked truncated")
	}
}

func eventNames(events []corev1.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Name)
	}
	return out
}

func TestOwnerChain(t *testing.T) {
	in := stageIncident(t)
	c, rec, _ := client(t, in.kube.RESTConfig)
	f := func(start Ref, want string) {
		t.Helper()
		chain, err := c.OwnerChain(ctx, start)
		if err != nil {
			t.Fatalf("%s: %v", start, err)
		}
		if got := describeChain(chain); got != want {
			t.Fatalf("%s: chain %q, want %q", start, got, want)
		}
		for _, r := range chain {
			if r.UID == "" {
				t.Fatalf("%s: no UID in %+v", start, r)
			}
		}
		if call := lastCall(t, rec); call.Tool != "kubernetes.owner_chain" || call.Excerpt != want {
			t.Fatalf("recorded %+v", call)
		}
	}
	ns := in.ns
	f(Ref{Kind: "Pod", Namespace: ns, Name: in.pods[0]}, "Pod "+ns+"/"+in.pods[0]+" -> ReplicaSet "+ns+"/"+in.newRS+" -> Deployment "+ns+"/checkout\n")
	f(Ref{Kind: "pod", Namespace: ns, Name: in.jobPod}, "Pod "+ns+"/"+in.jobPod+" -> Job "+ns+"/"+in.job+" -> CronJob "+ns+"/"+in.cronJob+"\n")
	f(Ref{APIVersion: "apps/v1", Kind: "ReplicaSet", Namespace: ns, Name: "checkout-orphan"}, "ReplicaSet "+ns+"/checkout-orphan\n")

	top, err := c.TopOwner(ctx, Ref{Kind: "Pod", Namespace: ns, Name: in.pods[1]})
	if err != nil {
		t.Fatal(err)
	}
	if top.Kind != "Deployment" || top.Name != "checkout" || top.APIVersion != "apps/v1" {
		t.Fatalf("top owner %+v", top)
	}

	// An owner that is gone (or replaced by a namesake) ends the chain,
	// marked missing. (ConfigMaps: the namespace's pod quota is used up.)
	in.kube.Apply(t,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: ns, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "deleted-rs", UID: "0b1c7f0e-0000-4000-8000-000000000001", Controller: ptr(true)}}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stray2", Namespace: ns, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: in.newRS, UID: "0b1c7f0e-0000-4000-8000-000000000002", Controller: ptr(true)}}}},
	)
	for cm, rs := range map[string]string{"stray": "deleted-rs", "stray2": in.newRS} {
		chain, err := c.OwnerChain(ctx, Ref{Kind: "ConfigMap", Namespace: ns, Name: cm})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := describeChain(chain), "ConfigMap "+ns+"/"+cm+" -> ReplicaSet "+ns+"/"+rs+" (missing)\n"; got != want {
			t.Fatalf("chain %q, want %q", got, want)
		}
	}

	if _, err := c.OwnerChain(ctx, Ref{Kind: "Pod", Namespace: ns, Name: "nope"}); !apierrors.IsNotFound(err) {
		t.Fatalf("owner chain of a missing pod: %v", err)
	}
	if s := lastCall(t, rec).Status; s != toolcall.NoData {
		t.Fatalf("recorded %s", s)
	}
}

func TestPodsOf(t *testing.T) {
	in := stageIncident(t)
	c, rec, _ := client(t, in.kube.RESTConfig)
	ns := in.ns
	f := func(ref Ref, want []string, wantDesc string) {
		t.Helper()
		pods, err := c.PodsOf(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if got := podNames(pods.Items); !cmp.Equal(got, sorted(want)) {
			t.Fatalf("pods of %s: %v, want %v", ref, got, want)
		}
		if call := lastCall(t, rec); call.Description != wantDesc {
			t.Fatalf("pods of %s: description %q, want %q", ref, call.Description, wantDesc)
		}
	}
	f(Ref{Kind: "Deployment", Namespace: ns, Name: "checkout"}, in.pods, "kubectl get pods -n "+ns+" -l app=checkout")
	f(Ref{Kind: "ReplicaSet", Namespace: ns, Name: in.newRS}, in.pods, "kubectl get pods -n "+ns+" -l app=checkout,pod-template-hash=7d9f8b6c5d")
	f(Ref{Kind: "ReplicaSet", Namespace: ns, Name: in.oldRS}, nil, "kubectl get pods -n "+ns+" -l app=checkout,pod-template-hash=6c5b8d7f9")
	f(Ref{Kind: "Service", Namespace: ns, Name: "checkout"}, in.pods, "kubectl get pods -n "+ns+" -l app=checkout")
	job, err := c.Job(ctx, ns, in.job)
	if err != nil {
		t.Fatal(err)
	}
	jobSel := "batch.kubernetes.io/controller-uid=" + string(job.UID)
	f(Ref{Kind: "Job", Namespace: ns, Name: in.job}, []string{in.jobPod}, "kubectl get pods -n "+ns+" -l "+jobSel)
	f(Ref{APIVersion: "batch/v1", Kind: "CronJob", Namespace: ns, Name: in.cronJob}, []string{in.jobPod}, "kubectl get pods -n "+ns+" -l "+jobSel)

	// A NetworkPolicy's podSelector is not spec.selector, and an empty one
	// would mean every pod: refused rather than guessed.
	if _, err := c.PodsOf(ctx, Ref{Kind: "NetworkPolicy", Namespace: ns, Name: "deny-all"}); err == nil || !strings.Contains(err.Error(), "no pod selector") {
		t.Fatalf("pods of a network policy: %v", err)
	}
}

func TestRolloutHistory(t *testing.T) {
	in := stageIncident(t)
	c, rec, _ := client(t, in.kube.RESTConfig)
	revs, err := c.RolloutHistory(ctx, in.ns, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	for i := range revs {
		if revs[i].Created.IsZero() {
			t.Fatalf("revision %d has no creation time", revs[i].Revision)
		}
		revs[i].Created = time.Time{}
	}
	want := []Revision{
		{Revision: 1, ReplicaSet: in.oldRS, Images: []string{"checkout=shop/checkout:1.4.1"}, ChangeCause: "image shop/checkout:1.4.1"},
		{Revision: 2, ReplicaSet: in.newRS, Current: true, Images: []string{"checkout=shop/checkout:1.4.2"}, Desired: 3, Replicas: 3, Ready: 1, Available: 1, ChangeCause: "image shop/checkout:1.4.2"},
	}
	if diff := cmp.Diff(want, revs); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	call := lastCall(t, rec)
	if call.Tool != "kubernetes.rollout_history" || call.Description != "kubectl rollout history -n "+in.ns+" deployment/checkout" ||
		!strings.Contains(call.Excerpt, "2 (current)  "+in.newRS+"  3  1/3  ") {
		t.Fatalf("recorded %+v", call)
	}
}

func TestNodeByAddress(t *testing.T) {
	in := stageIncident(t)
	c, rec, _ := client(t, in.kube.RESTConfig)
	for _, addr := range []string{in.nodeIP + ":9100", in.nodeIP, in.node + ":10250", in.node} {
		n, err := c.NodeByAddress(ctx, addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if n.Name != in.node {
			t.Fatalf("%s: node %s, want %s", addr, n.Name, in.node)
		}
	}
	if call := lastCall(t, rec); call.Tool != "kubernetes.node_by_address" || !strings.Contains(call.Excerpt, "Addresses: InternalIP="+in.nodeIP) {
		t.Fatalf("recorded %+v", call)
	}
	// A fully qualified instance name finds the node by its first label.
	if n, err := c.NodeByAddress(ctx, in.node+".eu-west-1.compute.internal:9100"); err != nil || n.Name != in.node {
		t.Fatalf("qualified name: %v", err)
	}
	if _, err := c.NodeByAddress(ctx, "192.0.2.77:9100"); !apierrors.IsNotFound(err) {
		t.Fatalf("unknown address: %v", err)
	}
	if s := lastCall(t, rec).Status; s != toolcall.NoData {
		t.Fatalf("unknown address recorded as %s", s)
	}
}

func TestQuotas(t *testing.T) {
	in := stageIncident(t)
	c, rec, _ := client(t, in.kube.RESTConfig)
	q, err := c.Quotas(ctx, in.ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.ResourceQuotas) != 1 || len(q.LimitRanges) != 1 {
		t.Fatalf("quotas %+v", q)
	}
	want := "ResourceQuota " + in.ns + "/compute\n  limits.memory: used 3Gi / hard 4Gi\n  pods: used 10 / hard 10 (at limit)\n" +
		"LimitRange " + in.ns + "/defaults\n  Container: max memory=2Gi; default limit memory=512Mi; default request memory=256Mi\n"
	if call := lastCall(t, rec); call.Excerpt != want || call.Description != "kubectl describe resourcequota,limitrange -n "+in.ns {
		t.Fatalf("recorded %+v\nwant:\n%s", call, want)
	}
}

func TestLogs(t *testing.T) {
	k := testbackend.SharedKube(t)
	ns := k.Namespace(t, "logs")
	// A node whose kubelet port is closed: the API server's proxy to it is
	// refused at once.
	node := k.Unique("kubeletless")
	closed := testbackend.FreeAddr(t)
	var port int32
	fmt.Sscanf(closed[strings.LastIndex(closed, ":")+1:], "%d", &port)
	k.Apply(t,
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}},
		}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-node", Namespace: ns},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "x"}, {Name: "sidecar", Image: "y"}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x"}}}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-gone-node", Namespace: ns},
			Spec: corev1.PodSpec{NodeName: "gone-node", Containers: []corev1.Container{{Name: "app", Image: "x"}}}},
	)
	c, rec, log := client(t, k.RESTConfig)

	_, err := c.Logs(ctx, ns, "on-node", "", LogOptions{})
	if err == nil || !strings.Contains(err.Error(), "could not get them from the kubelet on node "+node) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("no kubelet: %v", err)
	}
	call := lastCall(t, rec)
	if call.Status != toolcall.Error || call.Description != "kubectl logs -n "+ns+" on-node -c app --tail=200 --limit-bytes=262144 --timestamps" {
		t.Fatalf("recorded %+v", call)
	}
	// The bounds travel with the request, to the kubelet.
	if !slices2Contains(log.all(), "/pods/on-node/log?container=app&limitBytes=262144&tailLines=200&timestamps=true") {
		t.Fatalf("log request without bounds: %v", log.all())
	}
	_, _ = c.Logs(ctx, ns, "on-node", "sidecar", LogOptions{SinceSeconds: 600, TailLines: 50, LimitBytes: 1 << 30, Previous: true})
	if !slices2Contains(log.all(), "/pods/on-node/log?container=sidecar&limitBytes=4194304&previous=true&sinceSeconds=600&tailLines=50&timestamps=true") {
		t.Fatalf("log request options not passed (or limit not capped): %v", log.all())
	}

	// Cases the server answers misleadingly: an empty 200 for a pod not
	// yet scheduled, and a 404 that names the pod for a missing node.
	if _, err := c.Logs(ctx, ns, "pending", "", LogOptions{}); err == nil || !strings.Contains(err.Error(), "not scheduled to a node (phase Pending)") {
		t.Fatalf("pending pod: %v", err)
	}
	_, err = c.Logs(ctx, ns, "on-gone-node", "", LogOptions{})
	if err == nil || apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "node gone-node of the pod is not found") {
		t.Fatalf("missing node: %v", err)
	}
	if s := lastCall(t, rec).Status; s != toolcall.Error {
		t.Fatalf("missing node recorded as %s, want error (the pod exists)", s)
	}
	if _, err := c.Logs(ctx, ns, "on-node", "web", LogOptions{}); err == nil || !strings.Contains(err.Error(), `no container "web" in the pod; it has app, sidecar`) {
		t.Fatalf("wrong container: %v", err)
	}
	// Without the pods/log permission the answer is the server's Forbidden,
	// not a guess about the kubelet.
	k.Apply(t,
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pods-only", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pods-only", Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pods-only"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "no-logs"}}})
	noLogs, _, _ := client(t, k.ConfigForToken(k.TokenFor(t, ns, "no-logs")))
	testbackend.Eventually(t, 30*time.Second, func() error { _, err := noLogs.Pod(ctx, ns, "on-node"); return err })
	if _, err := noLogs.Logs(ctx, ns, "on-node", "", LogOptions{}); !apierrors.IsForbidden(err) || strings.Contains(err.Error(), "kubelet") {
		t.Fatalf("logs without pods/log: %v, want a plain Forbidden", err)
	}

	if _, err := c.Logs(ctx, ns, "nope", "", LogOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("missing pod: %v", err)
	}
	if s := lastCall(t, rec).Status; s != toolcall.NoData {
		t.Fatalf("missing pod recorded as %s", s)
	}
}

func TestKubeconfigCarriesCA(t *testing.T) {
	// The kubeconfig testbackend writes is what a developer would point
	// sleuth at; it must carry the CA (no insecure skip).
	k := testbackend.SharedKube(t)
	b, err := os.ReadFile(k.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "insecure-skip-tls-verify") || !strings.Contains(string(b), "certificate-authority-data") {
		t.Fatalf("kubeconfig:\n%s", b)
	}
}
