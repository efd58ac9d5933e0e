package lab

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeContext is the context name in the lab's kubeconfig.
const KubeContext = "sleuth-lab"

// ControlPlane is etcd plus the real kube-apiserver, without controllers,
// scheduler or kubelets: objects exist exactly as they are written, their
// statuses included. The lab runs one; tests start their own.
type ControlPlane struct {
	// URL is the API server's https address; EtcdURL etcd's.
	URL, EtcdURL string
	// CAFile verifies the API server's self-signed certificate.
	CAFile string
	// AdminToken authenticates as a member of system:masters.
	AdminToken string
	// Kubeconfig is a kubeconfig for the admin whose current context is
	// KubeContext.
	Kubeconfig string
	procs      []*proc
}

// StartControlPlane starts etcd and kube-apiserver with their data under
// dir and waits until the API server is ready. On error nothing is left
// running.
func StartControlPlane(ctx context.Context, dir, etcdBin, apiBin string, progressTo io.Writer) (_ *ControlPlane, err error) {
	cp := &ControlPlane{}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	clientAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	peerAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	progress(progressTo, "lab: starting etcd")
	etcd, err := startProc(dir, "etcd", etcdBin,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", "http://"+clientAddr,
		"--advertise-client-urls", "http://"+clientAddr,
		"--listen-peer-urls", "http://"+peerAddr,
		"--initial-advertise-peer-urls", "http://"+peerAddr,
		"--initial-cluster", "default=http://"+peerAddr,
		// A lab is disposable; fsync would only slow every write.
		"--unsafe-no-fsync",
	)
	if err != nil {
		return nil, err
	}
	cp.procs = append(cp.procs, etcd)
	cp.EtcdURL = "http://" + clientAddr
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	if err := etcd.waitHTTP(wctx, client, cp.EtcdURL+"/health"); err != nil {
		return nil, err
	}

	certDir := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	saKey, saPub, err := writeServiceAccountKeys(certDir)
	if err != nil {
		return nil, err
	}
	if cp.AdminToken, err = randomHex(16); err != nil {
		return nil, err
	}
	tokens := filepath.Join(certDir, "tokens.csv")
	// token,user,uid,"groups": system:masters passes every RBAC check.
	if err := os.WriteFile(tokens, fmt.Appendf(nil, "%s,lab-admin,lab-admin,\"system:masters\"\n", cp.AdminToken), 0o600); err != nil {
		return nil, err
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	progress(progressTo, "lab: starting kube-apiserver")
	api, err := startProc(dir, "kube-apiserver", apiBin,
		"--etcd-servers", cp.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+port,
		// The default reconciler exits on a loopback advertise address.
		"--endpoint-reconciler-type=none",
		"--cert-dir", certDir,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range=10.0.0.0/16",
		"--authorization-mode=RBAC",
		"--token-auth-file", tokens,
		// No controller-manager creates namespaces' default
		// ServiceAccounts; without them this plugin rejects every pod.
		"--disable-admission-plugins=ServiceAccount",
	)
	if err != nil {
		return nil, err
	}
	cp.procs = append(cp.procs, api)
	cp.URL = "https://" + addr
	// apiserver.crt (the serving certificate and its self-signed CA)
	// appears before the server listens; it is the CA bundle clients use.
	cp.CAFile = filepath.Join(certDir, "apiserver.crt")
	for {
		if _, err := os.Stat(cp.CAFile); err == nil {
			break
		}
		if api.exited() {
			return nil, fmt.Errorf("kube-apiserver exited (log %s):\n%s", api.logPath, api.tail())
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("kube-apiserver wrote no certificate: %w", wctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	kc, err := newKubeClient(cp.URL, cp.AdminToken, cp.CAFile)
	if err != nil {
		return nil, err
	}
	for {
		rctx, rcancel := context.WithTimeout(wctx, 5*time.Second)
		_, err := kc.clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		rcancel()
		if err == nil {
			break
		}
		if api.exited() {
			return nil, fmt.Errorf("kube-apiserver exited (log %s):\n%s", api.logPath, api.tail())
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("kube-apiserver not ready: %v (log %s)", err, api.logPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
	ca, err := os.ReadFile(cp.CAFile)
	if err != nil {
		return nil, err
	}
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	err = clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{KubeContext: {Server: cp.URL, CertificateAuthorityData: ca}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"lab-admin": {Token: cp.AdminToken}},
		Contexts:       map[string]*clientcmdapi.Context{KubeContext: {Cluster: KubeContext, AuthInfo: "lab-admin"}},
		CurrentContext: KubeContext,
	}, cp.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// Stop stops the API server, then etcd (the other order makes the API
// server's shutdown wait ~25 s for etcd).
func (cp *ControlPlane) Stop() {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cp.procs[i].stop(10 * time.Second)
	}
	cp.procs = nil
}

// Exited returns the name of a process that has exited, or "".
func (cp *ControlPlane) Exited() string {
	for _, p := range cp.procs {
		if p.exited() {
			return p.name
		}
	}
	return ""
}

func (l *Lab) startKube(ctx context.Context, o Options, bins map[string]string) error {
	cp, err := StartControlPlane(ctx, l.Dir, bins["etcd"], bins["kube-apiserver"], o.Progress)
	if err != nil {
		return err
	}
	l.procs = append(l.procs, cp.procs...)
	l.URLs.Kubernetes, l.URLs.Etcd = cp.URL, cp.EtcdURL
	l.CAFile, l.AdminToken, l.Kubeconfig = cp.CAFile, cp.AdminToken, cp.Kubeconfig
	l.kube, err = newKubeClient(cp.URL, cp.AdminToken, cp.CAFile)
	return err
}

func writeServiceAccountKeys(dir string) (keyFile, pubFile string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	keyFile, pubFile = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return "", "", err
	}
	return keyFile, pubFile, os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

// kubeClient is the lab's admin client.
type kubeClient struct {
	clientset *kubernetes.Clientset
	dynamic   dynamic.Interface
	disco     discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
}

func newKubeClient(url, token, caFile string) (*kubeClient, error) {
	// The CA's bytes, not its path: client-go caches transports by TLS
	// config, and a lab started again in the same directory has a new CA
	// under the same path.
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	cfg := &rest.Config{
		Host:            url,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		QPS:             500,
		Burst:           1000,
		// Deprecation warnings (v1 Endpoints and the like) are noise here.
		WarningHandler: rest.NoWarnings{},
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disco := memory.NewMemCacheClient(cs.Discovery())
	return &kubeClient{clientset: cs, dynamic: dyn, disco: disco, mapper: restmapper.NewDeferredDiscoveryRESTMapper(disco)}, nil
}

// resources lists the API's resources that can be listed and deleted, in
// their preferred versions.
func (k *kubeClient) resources() ([]schema.GroupVersionResource, map[schema.GroupVersionResource]bool, error) {
	k.disco.Invalidate()
	lists, err := k.disco.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, nil, err
	}
	var out []schema.GroupVersionResource
	namespaced := map[schema.GroupVersionResource]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerbs(r.Verbs, "list", "delete") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			out = append(out, gvr)
			namespaced[gvr] = r.Namespaced
		}
	}
	return out, namespaced, nil
}

func hasVerbs(have metav1.Verbs, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// snapshot returns the UIDs of every object the API server holds, keyed by
// UID with a readable name: what a reset keeps.
func (k *kubeClient) snapshot(ctx context.Context) (map[string]string, error) {
	gvrs, _, err := k.resources()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, gvr := range gvrs {
		list, err := k.dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // some resources (e.g. aggregated) cannot be listed here
		}
		for _, it := range list.Items {
			out[string(it.GetUID())] = gvr.Resource + "/" + it.GetNamespace() + "/" + it.GetName()
		}
	}
	return out, nil
}

// systemNamespaces are never deleted by a reset.
var systemNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

// reset deletes every object that was not there when the lab started,
// namespaces included. Without a controller-manager nothing finishes a
// deletion that waits on finalizers, so the reset removes them itself:
// each object is deleted at once (grace period 0) and its finalizers are
// cleared; namespaces are then finalized through their finalize
// subresource.
func (k *kubeClient) reset(ctx context.Context, baseline map[string]string) error {
	gvrs, namespaced, err := k.resources()
	if err != nil {
		return err
	}
	zero := int64(0)
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{GracePeriodSeconds: &zero, PropagationPolicy: &bg}
	var nsToDelete []string
	for _, gvr := range gvrs {
		if gvr.Group == "" && gvr.Resource == "namespaces" {
			continue
		}
		list, err := k.dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, it := range list.Items {
			if _, keep := baseline[string(it.GetUID())]; keep {
				continue
			}
			var ri dynamic.ResourceInterface = k.dynamic.Resource(gvr)
			if namespaced[gvr] {
				ri = k.dynamic.Resource(gvr).Namespace(it.GetNamespace())
			}
			if len(it.GetFinalizers()) > 0 {
				patch := []byte(`{"metadata":{"finalizers":null}}`)
				if _, err := ri.Patch(ctx, it.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("clear finalizers of %s %s/%s: %w", gvr.Resource, it.GetNamespace(), it.GetName(), err)
				}
			}
			if err := ri.Delete(ctx, it.GetName(), del); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				return fmt.Errorf("delete %s %s/%s: %w", gvr.Resource, it.GetNamespace(), it.GetName(), err)
			}
		}
	}
	nss, err := k.clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ns := range nss.Items {
		if _, keep := baseline[string(ns.UID)]; keep || systemNamespaces[ns.Name] {
			continue
		}
		nsToDelete = append(nsToDelete, ns.Name)
	}
	for _, name := range nsToDelete {
		if err := k.clientset.CoreV1().Namespaces().Delete(ctx, name, del); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete namespace %s: %w", name, err)
		}
		ns, err := k.clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		ns.Spec.Finalizers = nil
		if _, err := k.clientset.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("finalize namespace %s: %w", name, err)
		}
	}
	// A namespace is gone once its finalizers are: wait, so that the next
	// scenario can create it again.
	for _, name := range nsToDelete {
		for {
			_, err := k.clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("namespace %s still exists: %w", name, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// mapping returns the REST mapping of an object's kind.
func (k *kubeClient) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		// A kind whose CRD was created after discovery was cached.
		k.mapper.Reset()
		m, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

func (k *kubeClient) hasStatus(gvr schema.GroupVersionResource) bool {
	list, err := k.disco.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource+"/status" {
			return true
		}
	}
	return false
}

func (k *kubeClient) waitEstablished(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		crd, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				k.mapper.Reset()
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
