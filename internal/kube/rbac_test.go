package kube

import (
	"errors"
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
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// loadClusterRole reads deploy/helm/sleuth/files/clusterrole.yaml, the one
// source of sleuth's RBAC: the Helm chart renders its rules (a chart can only
// read files inside its own directory, hence the place).
func loadClusterRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbackend.Root(t), "deploy", "helm", "sleuth", "files", "clusterrole.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatalf("clusterrole.yaml: %v", err)
	}
	if role.Kind != "ClusterRole" || role.APIVersion != "rbac.authorization.k8s.io/v1" {
		t.Fatalf("clusterrole.yaml holds a %s %s", role.APIVersion, role.Kind)
	}
	return &role
}

func TestClusterRoleIsReadOnlyAndSecretFree(t *testing.T) {
	role := loadClusterRole(t)
	for _, r := range role.Rules {
		for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames, r.NonResourceURLs} {
			if slices.Contains(field, "*") {
				t.Errorf("wildcard in rule %+v", r)
			}
		}
		for _, res := range r.Resources {
			if res == "secrets" || strings.HasPrefix(res, "secrets/") {
				t.Errorf("rule %+v grants Secrets", r)
			}
		}
		for _, v := range r.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("rule %+v grants %s", r, v)
			}
		}
	}
}

// grantedResources are the "group/resource" pairs the role grants.
func grantedResources(role *rbacv1.ClusterRole) []string {
	var out []string
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				out = append(out, g+"/"+res)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// requestedResource maps a request path to "group/resource[/subresource]",
// or "" for discovery.
func requestedResource(req string) string {
	path, _, _ := strings.Cut(strings.TrimPrefix(req[strings.Index(req, " ")+1:], "/"), "?")
	seg := strings.Split(path, "/")
	var group string
	switch {
	case seg[0] == "api" && len(seg) > 2:
		seg = seg[2:]
	case seg[0] == "apis" && len(seg) > 3:
		group, seg = seg[1], seg[3:]
	default:
		return ""
	}
	if seg[0] == "namespaces" && len(seg) > 2 {
		seg = seg[2:]
	}
	res := seg[0]
	if len(seg) > 2 {
		res += "/" + seg[2]
	}
	return group + "/" + res
}

// TestToolsetWithClusterRole runs every toolset call as a ServiceAccount
// bound to the chart's files/clusterrole.yaml against the real API server: each
// works, the resources they request are exactly those the role grants, and
// Secrets are refused by the server and, before it, by the toolset.
func TestToolsetWithClusterRole(t *testing.T) {
	in := stageIncident(t)
	k := in.kube
	role := loadClusterRole(t)
	role.Name = k.Unique(role.Name) // cluster-wide, and tests share the server
	saNS := k.Namespace(t, "sleuth-system")
	k.Apply(t, role, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: saNS, Name: "sleuth"}},
	}, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "checkout-db", Namespace: in.ns}, StringData: map[string]string{"password": "hunter2"}})
	cfg := k.ConfigForToken(k.TokenFor(t, saNS, "sleuth"))
	c, rec, log := client(t, cfg)

	// The RBAC authorizer learns of new bindings through its informers.
	testbackend.Eventually(t, 30*time.Second, func() error { _, err := c.Pod(ctx, in.ns, in.pods[0]); return err })

	ns := in.ns
	pv, err := k.Clientset.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil || len(pv.Items) == 0 {
		t.Fatalf("list pv as admin: %v", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Pod", func() error { _, err := c.Pod(ctx, ns, in.pods[0]); return err }},
		{"Pods", func() error { _, err := c.Pods(ctx, ns, ListOptions{LabelSelector: "app=checkout"}); return err }},
		{"Node", func() error { _, err := c.Node(ctx, in.node); return err }},
		{"Deployment", func() error { _, err := c.Deployment(ctx, ns, "checkout"); return err }},
		{"ReplicaSet", func() error { _, err := c.ReplicaSet(ctx, ns, in.newRS); return err }},
		{"StatefulSet", func() error { _, err := c.StatefulSet(ctx, ns, "db"); return err }},
		{"DaemonSet", func() error { _, err := c.DaemonSet(ctx, ns, "node-exporter"); return err }},
		{"Job", func() error { _, err := c.Job(ctx, ns, in.job); return err }},
		{"CronJob", func() error { _, err := c.CronJob(ctx, ns, in.cronJob); return err }},
		{"PersistentVolumeClaim", func() error { _, err := c.PersistentVolumeClaim(ctx, ns, "data-db-0"); return err }},
		{"PersistentVolume", func() error { _, err := c.PersistentVolume(ctx, pv.Items[0].Name); return err }},
		{"StorageClass", func() error { _, err := c.StorageClass(ctx, in.sc); return err }},
		{"Service", func() error { _, err := c.Service(ctx, ns, "checkout"); return err }},
		{"EndpointSlices", func() error { _, err := c.EndpointSlices(ctx, ns, "checkout"); return err }},
		{"ConfigMap", func() error { _, err := c.ConfigMap(ctx, ns, "checkout-config"); return err }},
		{"HorizontalPodAutoscaler", func() error { _, err := c.HorizontalPodAutoscaler(ctx, ns, "checkout"); return err }},
		{"ResourceQuota", func() error { _, err := c.ResourceQuota(ctx, ns, "compute"); return err }},
		{"LimitRange", func() error { _, err := c.LimitRange(ctx, ns, "defaults"); return err }},
		{"NetworkPolicy", func() error { _, err := c.NetworkPolicy(ctx, ns, "deny-all"); return err }},
		{"Ingress", func() error { _, err := c.Ingress(ctx, ns, "shop"); return err }},
		{"Get", func() error { _, err := c.Get(ctx, "hpa", ns, "checkout"); return err }},
		{"List", func() error { _, err := c.List(ctx, "deployments.apps", ns, ListOptions{}); return err }},
		{"List mutating webhooks", func() error {
			_, err := c.List(ctx, "mutatingwebhookconfigurations", "", ListOptions{})
			return err
		}},
		{"List validating webhooks", func() error {
			_, err := c.List(ctx, "validatingwebhookconfigurations", "", ListOptions{})
			return err
		}},
		// A namespace's labels, which NetworkPolicies' namespaceSelectors match.
		{"Get namespace", func() error { _, err := c.Get(ctx, "namespaces", "", ns); return err }},
		{"Events", func() error { _, err := c.Events(ctx, ns, "Pod", in.pods[0]); return err }},
		{"NamespaceEvents", func() error { _, err := c.NamespaceEvents(ctx, ns, EventFilter{Type: "Warning"}); return err }},
		{"OwnerChain", func() error {
			_, err := c.OwnerChain(ctx, Ref{Kind: "Pod", Namespace: ns, Name: in.jobPod})
			return err
		}},
		{"TopOwner", func() error { _, err := c.TopOwner(ctx, Ref{Kind: "Pod", Namespace: ns, Name: in.pods[0]}); return err }},
		{"PodsOf", func() error {
			_, err := c.PodsOf(ctx, Ref{Kind: "CronJob", Namespace: ns, Name: in.cronJob})
			return err
		}},
		{"RolloutHistory", func() error { _, err := c.RolloutHistory(ctx, ns, "checkout"); return err }},
		{"NodeByAddress", func() error { _, err := c.NodeByAddress(ctx, in.nodeIP+":9100"); return err }},
		{"Quotas", func() error { _, err := c.Quotas(ctx, ns); return err }},
	}
	for _, tc := range calls {
		if err := tc.call(); err != nil {
			t.Errorf("%s as the sleuth ServiceAccount: %v", tc.name, err)
		}
	}
	// Logs reach the log subresource; there is no kubelet behind it, so
	// the answer is the kubelet error, not Forbidden.
	if _, err := c.Logs(ctx, ns, in.pods[0], "", LogOptions{}); err == nil || apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "kubelet on node "+in.node) {
		t.Errorf("Logs as the sleuth ServiceAccount: %v", err)
	}
	for _, call := range rec.Calls() {
		if call.Status == toolcall.Error && call.Tool != "kubernetes.logs" {
			t.Errorf("recorded error: %+v", call)
		}
	}

	var used []string
	for _, r := range log.all() {
		if res := requestedResource(r); res != "" {
			used = append(used, res)
		}
	}
	slices.Sort(used)
	used = slices.Compact(used)
	if diff := cmp.Diff(grantedResources(role), used); diff != "" {
		t.Errorf("clusterrole.yaml grants (-) other resources than the toolset requests (+):\n%s", diff)
	}

	// Outside the role: Forbidden, recorded as an error.
	if _, err := c.Get(ctx, "serviceaccounts", saNS, "sleuth"); !apierrors.IsForbidden(err) {
		t.Errorf("serviceaccounts as the sleuth ServiceAccount: %v, want Forbidden", err)
	}
	if call := lastCall(t, rec); call.Status != toolcall.Error || !strings.Contains(call.Error, "forbidden") {
		t.Errorf("Forbidden recorded as %+v", call)
	}

	// Secrets: the server refuses the same token...
	raw, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.CoreV1().Secrets(ns).Get(ctx, "checkout-db", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("raw get secret: %v, want 403 Forbidden", err)
	}
	if _, err := raw.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("raw list secrets: %v, want 403 Forbidden", err)
	}
	// ...and the toolset refuses before asking.
	before := len(log.all())
	if _, err := c.Get(ctx, "Secret", ns, "checkout-db"); !errors.Is(err, ErrSecretRefused) {
		t.Errorf("toolset get secret: %v, want ErrSecretRefused", err)
	}
	if _, err := c.List(ctx, "secrets", ns, ListOptions{}); !errors.Is(err, ErrSecretRefused) {
		t.Errorf("toolset list secrets: %v, want ErrSecretRefused", err)
	}
	if reqs := log.all()[before:]; len(reqs) != 0 {
		t.Errorf("the refusals made requests: %v", reqs)
	}
}

func TestRequestedResource(t *testing.T) {
	f := func(req, want string) {
		t.Helper()
		if got := requestedResource(req); got != want {
			t.Errorf("%s: %q, want %q", req, got, want)
		}
	}
	f("GET /api", "")
	f("GET /apis", "")
	f("GET /api/v1/nodes?limit=250", "/nodes")
	f("GET /api/v1/nodes/worker-1", "/nodes")
	f("GET /api/v1/namespaces/shop/pods/x/log?tailLines=200", "/pods/log")
	f("GET /apis/apps/v1/namespaces/shop/deployments/checkout", "apps/deployments")
	f("GET /apis/storage.k8s.io/v1/storageclasses/fast", "storage.k8s.io/storageclasses")
	f("GET /api/v1/namespaces/shop", "/namespaces")
}

// TestNoSecretsClient guards the rule at its source: no code of the
// package may even hold a Secrets client.
func TestNoSecretsClient(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), ".Secrets(") {
			t.Errorf("%s uses a Secrets client", f)
		}
	}
}
