package testbackend

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
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
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
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
const KubeContext = "sleuth-test"

// kubeReadyTimeout bounds the wait for /readyz: 3-5 s on a 2-core machine,
// much longer while parallel test packages compile or run.
const kubeReadyTimeout = 2 * time.Minute

// StartKube starts etcd and kube-apiserver for this test; both are stopped
// when it ends, the API server first (stopping etcd under a running API
// server makes the server's shutdown wait ~25 s for etcd).
func StartKube(t testing.TB) *Kube {
	t.Helper()
	started := time.Now()
	etcdBin := Binary(t, "etcd")
	apiBin := Binary(t, "kube-apiserver")
	dir := t.TempDir()

	clientAddr, peerAddr := FreeAddr(t), FreeAddr(t)
	etcd := Start(t, "etcd", etcdBin,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", "http://"+clientAddr,
		"--advertise-client-urls", "http://"+clientAddr,
		"--listen-peer-urls", "http://"+peerAddr,
		"--initial-advertise-peer-urls", "http://"+peerAddr,
		"--initial-cluster", "default=http://"+peerAddr,
		"--unsafe-no-fsync",
	)
	etcd.WaitHTTP(t, "http://"+clientAddr+"/health", kubeReadyTimeout)
	etcdReady := time.Since(started)

	certDir := filepath.Join(dir, "certs")
	saKey, saPub := writeServiceAccountKeys(t, dir)
	adminToken := randomToken(t)
	tokens := filepath.Join(dir, "tokens.csv")
	// token,user,uid,"groups": system:masters passes every RBAC check.
	writeFile(t, tokens, fmt.Sprintf("%s,sleuth-admin,sleuth-admin,\"system:masters\"\n", adminToken))

	addr := FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	// Started after etcd, so its kill-on-cleanup runs first (cleanups run
	// last-in first-out).
	api := Start(t, "kube-apiserver", apiBin,
		"--etcd-servers", "http://"+clientAddr,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+port,
		// The default reconciler exits on a loopback advertise address.
		"--endpoint-reconciler-type=none",
		"--cert-dir", certDir,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--token-auth-file", tokens,
		// No controller-manager creates namespaces' default ServiceAccounts;
		// without them this plugin rejects every pod.
		"--disable-admission-plugins=ServiceAccount",
	)

	k := &Kube{URL: "https://" + addr}
	certFile := filepath.Join(certDir, "apiserver.crt")
	// apiserver.crt (the server certificate followed by its self-signed CA)
	// appears before the server listens; it is the CA bundle of the config.
	Eventually(t, kubeReadyTimeout, func() error {
		if api.Exited() {
			t.Fatalf("kube-apiserver exited:\n%s", api.Output())
		}
		_, err := os.Stat(certFile)
		return err
	})
	ca, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	k.RESTConfig = &rest.Config{
		Host:            k.URL,
		BearerToken:     adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		QPS:             100,
		Burst:           200,
		// Deprecation warnings (v1 Endpoints and the like) are noise here.
		WarningHandler: rest.NoWarnings{},
	}
	k.Clientset, err = kubernetes.NewForConfig(k.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, kubeReadyTimeout, func() error {
		if api.Exited() {
			t.Fatalf("kube-apiserver exited before it was ready:\n%s", api.Output())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		body, err := k.Clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("/readyz: %w: %s", err, body)
		}
		return nil
	})
	k.Startup = time.Since(started)
	t.Logf("etcd ready after %v, kube-apiserver ready after %v more", etcdReady.Round(time.Millisecond), (k.Startup - etcdReady).Round(time.Millisecond))

	k.Dynamic, err = dynamic.NewForConfig(k.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	k.disco = memory.NewMemCacheClient(k.Clientset.Discovery())
	k.mapper = restmapper.NewDeferredDiscoveryRESTMapper(k.disco.(discovery.CachedDiscoveryInterface))
	k.KubeconfigPath = filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"sleuth-test": {Server: k.URL, CertificateAuthorityData: ca}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"sleuth-admin": {Token: adminToken}},
		Contexts:       map[string]*clientcmdapi.Context{KubeContext: {Cluster: "sleuth-test", AuthInfo: "sleuth-admin"}},
		CurrentContext: KubeContext,
	}, k.KubeconfigPath); err != nil {
		t.Fatal(err)
	}
	return k
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

func writeServiceAccountKeys(t testing.TB, dir string) (keyFile, pubFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	writeFile(t, pubFile, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})))
	return keyFile, pubFile
}

func randomToken(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
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
