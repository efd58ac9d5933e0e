package lab

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
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

func (l *Lab) startKube(ctx context.Context, o Options, bins map[string]string) error {
	clientAddr, err := freeAddr()
	if err != nil {
		return err
	}
	peerAddr, err := freeAddr()
	if err != nil {
		return err
	}
	progress(o.Progress, "lab: starting etcd")
	etcd, err := startProc(l.Dir, "etcd", bins["etcd"],
		"--data-dir", filepath.Join(l.Dir, "etcd"),
		"--listen-client-urls", "http://"+clientAddr,
		"--advertise-client-urls", "http://"+clientAddr,
		"--listen-peer-urls", "http://"+peerAddr,
		"--initial-advertise-peer-urls", "http://"+peerAddr,
		"--initial-cluster", "default=http://"+peerAddr,
		// A lab is disposable; fsync would only slow every write.
		"--unsafe-no-fsync",
	)
	if err != nil {
		return err
	}
	l.procs = append(l.procs, etcd)
	l.URLs.Etcd = "http://" + clientAddr
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := etcd.waitHTTP(wctx, l.client, l.URLs.Etcd+"/health"); err != nil {
		return err
	}

	certDir := filepath.Join(l.Dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	saKey, saPub, err := writeServiceAccountKeys(certDir)
	if err != nil {
		return err
	}
	if l.AdminToken, err = randomHex(16); err != nil {
		return err
	}
	tokens := filepath.Join(certDir, "tokens.csv")
	// token,user,uid,"groups": system:masters passes every RBAC check.
	if err := os.WriteFile(tokens, fmt.Appendf(nil, "%s,lab-admin,lab-admin,\"system:masters\"\n", l.AdminToken), 0o600); err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	_, port, _ := strings.Cut(addr, ":")
	progress(o.Progress, "lab: starting kube-apiserver")
	api, err := startProc(l.Dir, "kube-apiserver", bins["kube-apiserver"],
		"--etcd-servers", l.URLs.Etcd,
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
		return err
	}
	l.procs = append(l.procs, api)
	l.URLs.Kubernetes = "https://" + addr
	// apiserver.crt (the serving certificate and its self-signed CA)
	// appears before the server listens; it is the CA bundle clients use.
	l.CAFile = filepath.Join(certDir, "apiserver.crt")
	for {
		if _, err := os.Stat(l.CAFile); err == nil {
			break
		}
		if api.exited() {
			return fmt.Errorf("kube-apiserver exited (log %s):\n%s", api.logPath, api.tail())
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("kube-apiserver wrote no certificate: %w", wctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if l.kube, err = newKubeClient(l.URLs.Kubernetes, l.AdminToken, l.CAFile); err != nil {
		return err
	}
	for {
		rctx, rcancel := context.WithTimeout(wctx, 5*time.Second)
		_, err := l.kube.clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		rcancel()
		if err == nil {
			break
		}
		if api.exited() {
			return fmt.Errorf("kube-apiserver exited (log %s):\n%s", api.logPath, api.tail())
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("kube-apiserver not ready: %v (log %s)", err, api.logPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
	ca, err := os.ReadFile(l.CAFile)
	if err != nil {
		return err
	}
	l.Kubeconfig = filepath.Join(l.Dir, "kubeconfig")
	return clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{KubeContext: {Server: l.URLs.Kubernetes, CertificateAuthorityData: ca}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"lab-admin": {Token: l.AdminToken}},
		Contexts:       map[string]*clientcmdapi.Context{KubeContext: {Cluster: KubeContext, AuthInfo: "lab-admin"}},
		CurrentContext: KubeContext,
	}, l.Kubeconfig)
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
	cfg := &rest.Config{
		Host:            url,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: caFile},
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
