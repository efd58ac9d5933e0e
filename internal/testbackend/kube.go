package testbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/lab"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Kube is a running Kubernetes control plane without controllers, kubelets
// or a scheduler: etcd plus the real kube-apiserver. Objects exist exactly
// as a test writes them, statuses included (see Apply).
type Kube struct {
	// URL is the API server's https address.
	URL string
	// RESTConfig authenticates as an admin (group system:masters) and
	// verifies the server's self-signed certificate.
	RESTConfig *rest.Config
	// Clientset and Dynamic are admin clients.
	Clientset *kubernetes.Clientset
	Dynamic   dynamic.Interface
	// KubeconfigPath is a kubeconfig file for the admin, with one context,
	// KubeContext, as its current context.
	KubeconfigPath string
	// Startup is how long etcd plus the API server took to become ready.
	Startup time.Duration

	mapper *restmapper.DeferredDiscoveryRESTMapper
	disco  discovery.DiscoveryInterface
	seq    atomic.Int64
}

// KubeContext is the name of the context in Kube.KubeconfigPath.
const KubeContext = lab.KubeContext

// kubeReadyTimeout bounds the wait for /readyz: 3-5 s on a 2-core machine,
// much longer while parallel test packages compile or run.
const kubeReadyTimeout = 2 * time.Minute

// StartKube starts etcd and kube-apiserver for this test (the lab's
// control plane, lab.StartControlPlane); both are stopped when it ends.
func StartKube(t testing.TB) *Kube {
	t.Helper()
	started := time.Now()
	etcdBin := Binary(t, "etcd")
	apiBin := Binary(t, "kube-apiserver")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), kubeReadyTimeout)
	defer cancel()
	cp, err := lab.StartControlPlane(ctx, dir, etcdBin, apiBin, nil)
	if err != nil {
		t.Fatalf("start the control plane: %v", err)
	}
	t.Cleanup(func() {
		cp.Stop()
		if t.Failed() {
			for _, name := range []string{"etcd", "kube-apiserver"} {
				if b, err := os.ReadFile(filepath.Join(dir, "logs", name+".log")); err == nil {
					t.Logf("--- %s output (last 4 KiB):\n%s", name, tail(b, 4096))
				}
			}
		}
	})
	ca, err := os.ReadFile(cp.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	k := &Kube{URL: cp.URL, KubeconfigPath: cp.Kubeconfig}
	k.RESTConfig = &rest.Config{
		Host:            k.URL,
		BearerToken:     cp.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		QPS:             100,
		Burst:           200,
		// Deprecation warnings (v1 Endpoints and the like) are noise here.
		WarningHandler: rest.NoWarnings{},
	}
	if k.Clientset, err = kubernetes.NewForConfig(k.RESTConfig); err != nil {
		t.Fatal(err)
	}
	if k.Dynamic, err = dynamic.NewForConfig(k.RESTConfig); err != nil {
		t.Fatal(err)
	}
	k.Startup = time.Since(started)
	t.Logf("etcd and kube-apiserver ready after %v", k.Startup.Round(time.Millisecond))
	k.disco = memory.NewMemCacheClient(k.Clientset.Discovery())
	k.mapper = restmapper.NewDeferredDiscoveryRESTMapper(k.disco.(discovery.CachedDiscoveryInterface))
	return k
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// ConfigForToken returns a rest.Config for the same server that
// authenticates with token instead of as the admin.
func (k *Kube) ConfigForToken(token string) *rest.Config {
	c := rest.CopyConfig(k.RESTConfig)
	c.BearerToken = token
	return c
}

// TokenFor creates the ServiceAccount namespace/name (and the namespace)
// when missing and returns a token for it from the TokenRequest API, valid
// for an hour.
func (k *Kube) TokenFor(t testing.TB, namespace, name string) string {
	t.Helper()
	ctx := context.Background()
	k.ensureNamespace(t, namespace)
	_, err := k.Clientset.CoreV1().ServiceAccounts(namespace).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create serviceaccount %s/%s: %v", namespace, name, err)
	}
	hour := int64(3600)
	tr, err := k.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for serviceaccount %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// Namespace returns a fresh namespace name starting with prefix, unique in
// this API server, and creates it: tests sharing a server keep apart this way.
func (k *Kube) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", prefix, k.seq.Add(1))
	k.ensureNamespace(t, ns)
	return ns
}

// Unique returns prefix with a suffix unique in this API server, for
// cluster-scoped objects (nodes, cluster roles) of tests sharing a server.
func (k *Kube) Unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, k.seq.Add(1))
}

func (k *Kube) ensureNamespace(t testing.TB, ns string) {
	t.Helper()
	_, err := k.Clientset.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
}

// Apply creates objects in order and returns them as the server stored
// them (with UIDs, for owner references of later objects). Each of objs is
// a typed object (a *corev1.Pod, ...), an *unstructured.Unstructured or a
// YAML (or JSON) string of one or more documents. Namespaces are created
// when missing; a namespaced object without one goes to "default".
//
// When an object carries a status and its resource has a status
// subresource, the status is then written through it, since the server
// ignores status on create: this is how a Pod becomes CrashLoopBackOff or a
// Node NotReady without a kubelet. A CustomResourceDefinition is waited for
// until Established, so objects of its kind may follow in the same call.
func (k *Kube) Apply(t testing.TB, objs ...any) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range objs {
		us, err := toUnstructured(o)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		for _, u := range us {
			created, err := k.create(t, u)
			if err != nil {
				t.Fatalf("apply %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
			out = append(out, created)
		}
	}
	return out
}

func (k *Kube) create(t testing.TB, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gvk := u.GroupVersionKind()
	mapping, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A kind whose CRD was created after discovery was cached.
		k.mapper.Reset()
		mapping, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, err
	}
	var ri dynamic.ResourceInterface = k.Dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		k.ensureNamespace(t, u.GetNamespace())
		ri = k.Dynamic.Resource(mapping.Resource).Namespace(u.GetNamespace())
	}
	status, hasStatus := u.Object["status"]
	created, err := ri.Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	if hasStatus && status != nil {
		sub, err := k.hasStatusSubresource(mapping.Resource)
		if err != nil {
			return nil, err
		}
		if sub {
			created.Object["status"] = status
			if created, err = ri.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				return nil, fmt.Errorf("update status: %w", err)
			}
		}
	}
	if mapping.Resource.GroupResource() == (schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}) {
		if err := k.waitEstablished(ctx, ri, created.GetName()); err != nil {
			return nil, err
		}
		k.mapper.Reset()
	}
	return created, nil
}

func (k *Kube) hasStatusSubresource(gvr schema.GroupVersionResource) (bool, error) {
	list, err := k.disco.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if err != nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource+"/status" {
			return true, nil
		}
	}
	return false, nil
}

func (k *Kube) waitEstablished(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	for {
		crd, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not Established: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func toUnstructured(o any) ([]*unstructured.Unstructured, error) {
	switch o := o.(type) {
	case string:
		var out []*unstructured.Unstructured
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(o), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					return out, nil
				}
				return nil, fmt.Errorf("decode YAML: %w", err)
			}
			if len(m) == 0 {
				continue // an empty document between two "---"
			}
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	case *unstructured.Unstructured:
		return []*unstructured.Unstructured{o.DeepCopy()}, nil
	case runtime.Object:
		gvks, _, err := scheme.Scheme.ObjectKinds(o)
		if err != nil {
			return nil, fmt.Errorf("kind of %T: %w", o, err)
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvks[0])
		return []*unstructured.Unstructured{u}, nil
	default:
		return nil, fmt.Errorf("cannot apply a %T: want a runtime.Object or a YAML string", o)
	}
}

// One API server per test package: starting one costs seconds and ~280 MB,
// and tests keep apart by namespace (Kube.Namespace) and unique names.
var shared struct {
	mu     sync.Mutex
	inMain bool
	once   sync.Once
	kube   *Kube
	err    error
	tb     *packageTB
}

// KubeMain runs a package's tests and then stops the API server that
// SharedKube started, if any. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testbackend.KubeMain(m)) }
func KubeMain(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.tb != nil {
		shared.tb.cleanup()
	}
	return code
}

// SharedKube returns the package's API server, starting it on the first
// call; the package's TestMain must be KubeMain, which stops it after the
// last test.
func SharedKube(t testing.TB) *Kube {
	t.Helper()
	shared.mu.Lock()
	inMain := shared.inMain
	shared.mu.Unlock()
	if !inMain {
		t.Fatal("testbackend.SharedKube needs the package's TestMain to return testbackend.KubeMain(m), which stops the server")
	}
	shared.once.Do(func() {
		tb := &packageTB{}
		shared.mu.Lock()
		shared.tb = tb
		shared.mu.Unlock()
		shared.kube, shared.err = tb.run(func() *Kube { return StartKube(tb) })
		if shared.err != nil {
			tb.cleanup()
		} else {
			t.Logf("shared kube-apiserver at %s ready after %v", shared.kube.URL, shared.kube.Startup.Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		t.Fatalf("start the shared kube-apiserver: %v", shared.err)
	}
	return shared.kube
}

// packageTB lets the helpers above, written for a test's testing.TB, start
// processes that outlive any one test: Fatal panics (recovered by run) and
// cleanups run when KubeMain calls cleanup. The embedded nil TB makes the
// type a testing.TB; methods not overridden here are never called by this
// package's helpers, and would panic (recovered by run) if they were.
type packageTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	failed   bool
	log      bytes.Buffer
}

type packageTBFatal struct{ msg string }

func (p *packageTB) run(f func() *Kube) (k *Kube, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.mu.Lock()
			p.failed = true
			p.mu.Unlock()
			if f, ok := r.(packageTBFatal); ok {
				err = errors.New(f.msg)
			} else {
				err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}
	}()
	return f(), nil
}

func (p *packageTB) cleanup() {
	p.mu.Lock()
	cs := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	if p.Failed() {
		p.mu.Lock()
		fmt.Fprint(os.Stderr, p.log.String())
		p.log.Reset()
		p.mu.Unlock()
	}
}

func (p *packageTB) Helper() {}
func (p *packageTB) Name() string {
	return "shared-kube"
}
func (p *packageTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}
func (p *packageTB) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}
func (p *packageTB) Logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(&p.log, format+"\n", args...)
}
func (p *packageTB) Log(args ...any) { p.Logf("%s", fmt.Sprint(args...)) }
func (p *packageTB) Fatalf(format string, args ...any) {
	panic(packageTBFatal{fmt.Sprintf(format, args...)})
}
func (p *packageTB) Fatal(args ...any) { panic(packageTBFatal{fmt.Sprint(args...)}) }
func (p *packageTB) TempDir() string {
	dir, err := os.MkdirTemp("", "sleuth-kube-")
	if err != nil {
		p.Fatal(err)
	}
	p.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
