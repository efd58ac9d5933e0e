// Package deploy holds the CI checks of sleuth's deployment manifests: the
// Helm charts under helm/, the ArgoCD app-of-apps under argocd/ and the
// dashboard. They run the real Helm (built by scripts/build-backends.sh) and
// judge every manifest with a real kube-apiserver holding the real CRDs of
// the VictoriaMetrics operator, the Prometheus operator and ArgoCD, taken
// from their Go modules.
package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

func TestMain(m *testing.M) { os.Exit(testbackend.KubeMain(m)) }

var ctx = context.Background()

// Paths of the charts, relative to this package's directory.
const (
	sleuthChart = "helm/sleuth"
	rulesChart  = "helm/sleuth-rules"
	stackChart  = "argocd/stack"
)

// helmEnv isolates Helm from the user's configuration, cache and
// repositories: the charts here need none of them.
func helmEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	return append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
}

// helm runs the pinned Helm and returns its stdout; err carries stderr.
func helm(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testbackend.Binary(t, "helm"), args...)
	if env == nil {
		env = helmEnv(t)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// render runs `helm template` and returns the rendered objects.
func render(t *testing.T, chart, release, namespace string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(t, nil, append([]string{"template", release, chart, "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(out)
	if err != nil {
		t.Fatalf("helm template %s: %v", chart, err)
	}
	if len(objs) == 0 {
		t.Fatalf("helm template %s rendered nothing", chart)
	}
	return objs
}

// decodeObjects splits a multi-document YAML stream into objects, skipping
// empty documents.
func decodeObjects(s string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(s), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// find returns the rendered objects of a kind.
func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the only rendered object of a kind (and name, if given).
func one(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var got []*unstructured.Unstructured
	for _, o := range find(objs, kind) {
		if name == "" || o.GetName() == name {
			got = append(got, o)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d objects of kind %s named %q, want 1", len(got), kind, name)
	}
	return got[0]
}

// into converts an object (or a part of it) into a typed value through JSON.
func into(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatalf("decode %T: %v", to, err)
	}
}

// writeYAML writes v as a YAML file in a temp dir and returns its path.
func writeYAML(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cluster is the package's API server with the CRDs installed and a
// REST mapper that knows them.
type cluster struct {
	*testbackend.Kube
	mapper meta.RESTMapper
}

var (
	clusterOnce sync.Once
	clusterVal  *cluster
	clusterErr  string
)

// apiServer returns the shared API server after installing the CRDs the
// manifests use (once per package run).
func apiServer(t *testing.T) *cluster {
	t.Helper()
	k := testbackend.SharedKube(t)
	clusterOnce.Do(func() {
		for _, crd := range pinnedCRDs {
			path := filepath.Join(moduleDir(t, crd), crd.file)
			b, err := os.ReadFile(path)
			if err != nil {
				clusterErr = err.Error()
				return
			}
			objs, err := decodeObjects(string(b))
			if err != nil {
				clusterErr = fmt.Sprintf("%s: %v", path, err)
				return
			}
			for _, o := range objs {
				if o.GetKind() != "CustomResourceDefinition" {
					continue
				}
				k.Apply(t, o)
			}
		}
		disco := memory.NewMemCacheClient(k.Clientset.Discovery())
		clusterVal = &cluster{Kube: k, mapper: restmapper.NewDeferredDiscoveryRESTMapper(disco)}
	})
	if clusterVal == nil {
		t.Fatalf("install CRDs: %s", clusterErr)
	}
	return clusterVal
}

// ensureNamespace creates a namespace (for real) when missing: a dry run of
// a namespaced object needs its namespace to exist.
func (c *cluster) ensureNamespace(t *testing.T, ns string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	_, err := c.Dynamic.Resource(nsGVR).Create(ctx, u, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
}

// dryRun applies obj with a server-side apply dry run (dryRun: All) and
// strict field validation: the API server runs its own validation, the
// CRD's structural schema and the admission chain, and rejects unknown or
// duplicate fields instead of dropping them, then stores nothing.
func (c *cluster) dryRun(obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s: %w", gvk, err)
	}
	var ri dynamic.ResourceInterface = c.Dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		ri = c.Dynamic.Resource(mapping.Resource).Namespace(ns)
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	force := true
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = ri.Patch(cctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		DryRun:          []string{metav1.DryRunAll},
		FieldManager:    "sleuth-ci",
		Force:           &force,
		FieldValidation: "Strict",
	})
	return err
}

// dryRunAll dry-runs every object, creating the namespaces they name first.
func (c *cluster) dryRunAll(t *testing.T, what string, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" {
			c.ensureNamespace(t, ns)
		}
		if err := c.dryRun(o); err != nil {
			t.Errorf("%s: %s %s/%s rejected by the API server: %v", what, o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

// unknownField reports whether the API server refused an object for a field
// its schema does not have (server-side apply says so while building the
// typed patch, before strict validation would).
func unknownField(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "field not declared in schema") || strings.Contains(err.Error(), "unknown field"))
}
