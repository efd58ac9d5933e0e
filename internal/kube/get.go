package kube

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// ListOptions narrow a list call.
type ListOptions struct {
	LabelSelector string
	FieldSelector string
	// Limit bounds the items returned (0 or more than 500: 500). A list
	// cut short has a non-empty ListMeta.Continue.
	Limit int
}

func (o ListOptions) max() int {
	if o.Limit <= 0 || o.Limit > maxListItems {
		return maxListItems
	}
	return o.Limit
}

func (o ListOptions) flags() string {
	var f []string
	if o.LabelSelector != "" {
		f = append(f, "-l "+o.LabelSelector)
	}
	if o.FieldSelector != "" {
		f = append(f, "--field-selector "+o.FieldSelector)
	}
	return strings.Join(f, " ")
}

// get is one recorded typed get.
func get[T runtime.Object](ctx context.Context, c *Client, kind, namespace, name string,
	fetch func(context.Context, string, metav1.GetOptions) (T, error)) (T, error) {
	cl := c.start(ctx, "kubernetes.get", args("kind", kind, "namespace", namespace, "name", name),
		kubectl("get", kind, namespace, name))
	obj, err := fetch(cl.ctx, name, metav1.GetOptions{})
	if err != nil {
		var zero T
		obj, err = zero, fmt.Errorf("get %s %s: %w", kind, nsName(namespace, name), err)
	}
	cl.done(err, false, false, func() string { return Describe(obj) })
	return obj, err
}

func nsName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// Pod returns a pod.
func (c *Client) Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	return get(ctx, c, "pod", namespace, name, c.cs.CoreV1().Pods(namespace).Get)
}

// Node returns a node.
func (c *Client) Node(ctx context.Context, name string) (*corev1.Node, error) {
	return get(ctx, c, "node", "", name, c.cs.CoreV1().Nodes().Get)
}

// Deployment returns a deployment.
func (c *Client) Deployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error) {
	return get(ctx, c, "deployment", namespace, name, c.cs.AppsV1().Deployments(namespace).Get)
}

// ReplicaSet returns a replica set.
func (c *Client) ReplicaSet(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error) {
	return get(ctx, c, "replicaset", namespace, name, c.cs.AppsV1().ReplicaSets(namespace).Get)
}

// StatefulSet returns a stateful set.
func (c *Client) StatefulSet(ctx context.Context, namespace, name string) (*appsv1.StatefulSet, error) {
	return get(ctx, c, "statefulset", namespace, name, c.cs.AppsV1().StatefulSets(namespace).Get)
}

// DaemonSet returns a daemon set.
func (c *Client) DaemonSet(ctx context.Context, namespace, name string) (*appsv1.DaemonSet, error) {
	return get(ctx, c, "daemonset", namespace, name, c.cs.AppsV1().DaemonSets(namespace).Get)
}

// Job returns a job.
func (c *Client) Job(ctx context.Context, namespace, name string) (*batchv1.Job, error) {
	return get(ctx, c, "job", namespace, name, c.cs.BatchV1().Jobs(namespace).Get)
}

// CronJob returns a cron job.
func (c *Client) CronJob(ctx context.Context, namespace, name string) (*batchv1.CronJob, error) {
	return get(ctx, c, "cronjob", namespace, name, c.cs.BatchV1().CronJobs(namespace).Get)
}

// PersistentVolumeClaim returns a PVC.
func (c *Client) PersistentVolumeClaim(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	return get(ctx, c, "persistentvolumeclaim", namespace, name, c.cs.CoreV1().PersistentVolumeClaims(namespace).Get)
}

// PersistentVolume returns a PV.
func (c *Client) PersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error) {
	return get(ctx, c, "persistentvolume", "", name, c.cs.CoreV1().PersistentVolumes().Get)
}

// StorageClass returns a storage class.
func (c *Client) StorageClass(ctx context.Context, name string) (*storagev1.StorageClass, error) {
	return get(ctx, c, "storageclass", "", name, c.cs.StorageV1().StorageClasses().Get)
}

// Service returns a service.
func (c *Client) Service(ctx context.Context, namespace, name string) (*corev1.Service, error) {
	return get(ctx, c, "service", namespace, name, c.cs.CoreV1().Services(namespace).Get)
}

// ConfigMap returns a config map, values included; its rendering (and so
// the recorded excerpt) bounds each value.
func (c *Client) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return get(ctx, c, "configmap", namespace, name, c.cs.CoreV1().ConfigMaps(namespace).Get)
}

// HorizontalPodAutoscaler returns an HPA (autoscaling/v2).
func (c *Client) HorizontalPodAutoscaler(ctx context.Context, namespace, name string) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	return get(ctx, c, "horizontalpodautoscaler", namespace, name, c.cs.AutoscalingV2().HorizontalPodAutoscalers(namespace).Get)
}

// ResourceQuota returns a resource quota; Quotas returns all of a
// namespace's quotas and limit ranges at once.
func (c *Client) ResourceQuota(ctx context.Context, namespace, name string) (*corev1.ResourceQuota, error) {
	return get(ctx, c, "resourcequota", namespace, name, c.cs.CoreV1().ResourceQuotas(namespace).Get)
}

// LimitRange returns a limit range.
func (c *Client) LimitRange(ctx context.Context, namespace, name string) (*corev1.LimitRange, error) {
	return get(ctx, c, "limitrange", namespace, name, c.cs.CoreV1().LimitRanges(namespace).Get)
}

// NetworkPolicy returns a network policy.
func (c *Client) NetworkPolicy(ctx context.Context, namespace, name string) (*networkingv1.NetworkPolicy, error) {
	return get(ctx, c, "networkpolicy", namespace, name, c.cs.NetworkingV1().NetworkPolicies(namespace).Get)
}

// Ingress returns an ingress.
func (c *Client) Ingress(ctx context.Context, namespace, name string) (*networkingv1.Ingress, error) {
	return get(ctx, c, "ingress", namespace, name, c.cs.NetworkingV1().Ingresses(namespace).Get)
}

// collect pages through a list, at most pageSize items a request, until
// max items; cont is the continue token of the items left, if any.
func collect[T any](ctx context.Context, max int, lo metav1.ListOptions,
	page func(context.Context, metav1.ListOptions) ([]T, string, error)) (items []T, cont string, err error) {
	for {
		lo.Limit = int64(min(pageSize, max-len(items)))
		got, next, err := page(ctx, lo)
		if err != nil {
			return nil, "", err
		}
		items = append(items, got...)
		if next == "" || len(items) >= max {
			return items, next, nil
		}
		lo.Continue = next
	}
}

// Pods lists pods of a namespace ("": all namespaces).
func (c *Client) Pods(ctx context.Context, namespace string, opts ListOptions) (*corev1.PodList, error) {
	cl := c.start(ctx, "kubernetes.list", args("kind", "pod", "namespace", namespace, "selector", opts.LabelSelector, "field_selector", opts.FieldSelector),
		kubectl("get", "pods", "", namespaceFlag(namespace), opts.flags()))
	list, err := c.listPods(cl.ctx, namespace, opts)
	if err != nil {
		list, err = nil, fmt.Errorf("list pods in %s: %w", namespaceName(namespace), err)
	}
	cl.done(err, err == nil && len(list.Items) == 0, err == nil && list.Continue != "", func() string { return Describe(list) })
	return list, err
}

func (c *Client) listPods(ctx context.Context, namespace string, opts ListOptions) (*corev1.PodList, error) {
	items, cont, err := collect(ctx, opts.max(), metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector},
		func(ctx context.Context, lo metav1.ListOptions) ([]corev1.Pod, string, error) {
			l, err := c.cs.CoreV1().Pods(namespace).List(ctx, lo)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	if err != nil {
		return nil, err
	}
	return &corev1.PodList{Items: items, ListMeta: metav1.ListMeta{Continue: cont}}, nil
}

// EndpointSlices lists the endpoint slices of a service (by the
// kubernetes.io/service-name label): which pod addresses back it, and
// which of them are ready.
func (c *Client) EndpointSlices(ctx context.Context, namespace, service string) (*discoveryv1.EndpointSliceList, error) {
	sel := discoveryv1.LabelServiceName + "=" + service
	cl := c.start(ctx, "kubernetes.list", args("kind", "endpointslice", "namespace", namespace, "selector", sel),
		kubectl("get", "endpointslices", namespace, "-l "+sel))
	items, cont, err := collect(cl.ctx, maxListItems, metav1.ListOptions{LabelSelector: sel},
		func(ctx context.Context, lo metav1.ListOptions) ([]discoveryv1.EndpointSlice, string, error) {
			l, err := c.cs.DiscoveryV1().EndpointSlices(namespace).List(ctx, lo)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	list := &discoveryv1.EndpointSliceList{Items: items, ListMeta: metav1.ListMeta{Continue: cont}}
	if err != nil {
		list, err = nil, fmt.Errorf("list endpoint slices of service %s/%s: %w", namespace, service, err)
	}
	cl.done(err, err == nil && len(items) == 0, cont != "", func() string { return Describe(list) })
	return list, err
}

func namespaceFlag(namespace string) string {
	if namespace == "" {
		return "-A"
	}
	return "-n " + namespace
}

func namespaceName(namespace string) string {
	if namespace == "" {
		return "all namespaces"
	}
	return "namespace " + namespace
}

var secretsResource = schema.GroupResource{Resource: "secrets"}

// isSecretArg says whether a kind or resource as a user writes it
// ("Secret", "secrets", "secrets.v1.") names core Secrets. It is checked
// before any request; resolve checks the mapped resource again.
func isSecretArg(arg string) bool {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(arg)), ".")
	if parts[0] != "secret" && parts[0] != "secrets" {
		return false
	}
	for _, p := range parts[1:] {
		if p != "" && p != "v1" && p != "core" {
			return false
		}
	}
	return true
}

// resolve maps a kind, resource or short name, optionally qualified by
// version and group as kubectl accepts them ("Certificate", "certs",
// "certificates.cert-manager.io", "deployments.v1.apps"), to its REST
// mapping. Secrets are refused.
func (c *Client) resolve(ctx context.Context, arg string) (*meta.RESTMapping, error) {
	if isSecretArg(arg) {
		return nil, ErrSecretRefused
	}
	m, err := c.mapping(ctx, arg)
	if meta.IsNoMatchError(err) {
		// A CRD installed after discovery was cached.
		c.reset(ctx)
		m, err = c.mapping(ctx, arg)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve kind %q: %w", arg, err)
	}
	if m.Resource.GroupResource() == secretsResource {
		return nil, ErrSecretRefused
	}
	return m, nil
}

func (c *Client) mapping(ctx context.Context, arg string) (*meta.RESTMapping, error) {
	// Kinds are written in CamelCase, resources in lower case; the mapper
	// knows a kind's lower-cased form as its singular resource name.
	gvr, gr := schema.ParseResourceArg(strings.ToLower(strings.TrimSpace(arg)))
	var gvk schema.GroupVersionKind
	if gvr != nil {
		gvk, _ = c.mapper.KindForWithContext(ctx, *gvr)
	}
	if gvk.Empty() {
		var err error
		if gvk, err = c.mapper.KindForWithContext(ctx, gr.WithVersion("")); err != nil {
			return nil, err
		}
	}
	return c.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
}

// mappingFor maps an apiVersion and kind, as in an owner reference.
func (c *Client) mappingFor(ctx context.Context, apiVersion, kind string) (*meta.RESTMapping, error) {
	if apiVersion == "" {
		return c.resolve(ctx, kind)
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, err
	}
	m, err := c.mapper.RESTMappingWithContext(ctx, gv.WithKind(kind).GroupKind(), gv.Version)
	if meta.IsNoMatchError(err) {
		c.reset(ctx)
		m, err = c.mapper.RESTMappingWithContext(ctx, gv.WithKind(kind).GroupKind(), gv.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve %s %s: %w", apiVersion, kind, err)
	}
	if m.Resource.GroupResource() == secretsResource {
		return nil, ErrSecretRefused
	}
	return m, nil
}

func (c *Client) resourceFor(m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameRoot {
		return c.dyn.Resource(m.Resource)
	}
	return c.dyn.Resource(m.Resource).Namespace(namespace)
}

// resourceArg renders a mapped resource the way kubectl takes it.
func resourceArg(m *meta.RESTMapping) string {
	if m.Resource.Group == "" {
		return m.Resource.Resource
	}
	return m.Resource.Resource + "." + m.Resource.Group
}

// Get returns any object by kind, resource or short name ("Certificate",
// "certificates.cert-manager.io", "deploy"); namespace is ignored for
// cluster-scoped kinds. Secrets are refused with ErrSecretRefused before
// any request.
func (c *Client) Get(ctx context.Context, resource, namespace, name string) (*unstructured.Unstructured, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	m, err := c.resolve(ctx, resource)
	desc := kubectl("get", strings.ToLower(resource), namespace, name)
	if err == nil {
		if m.Scope.Name() == meta.RESTScopeNameRoot {
			namespace = ""
		}
		desc = kubectl("get", resourceArg(m), namespace, name)
	}
	cl := c.start(ctx, "kubernetes.get", args("kind", resource, "namespace", namespace, "name", name), desc)
	var u *unstructured.Unstructured
	if err == nil {
		u, err = c.resourceFor(m, namespace).Get(cl.ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		u, err = nil, fmt.Errorf("get %s %s: %w", resource, nsName(namespace, name), err)
	}
	cl.done(err, false, false, func() string { return Describe(u) })
	return u, err
}

// List lists any kind (see Get) in a namespace ("": all namespaces; ignored
// for cluster-scoped kinds). Secrets are refused before any request.
func (c *Client) List(ctx context.Context, resource, namespace string, opts ListOptions) (*unstructured.UnstructuredList, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	m, err := c.resolve(ctx, resource)
	desc := kubectl("get", strings.ToLower(resource), "", namespaceFlag(namespace), opts.flags())
	if err == nil {
		ns := namespaceFlag(namespace)
		if m.Scope.Name() == meta.RESTScopeNameRoot {
			namespace, ns = "", ""
		}
		desc = kubectl("get", resourceArg(m), "", ns, opts.flags())
	}
	cl := c.start(ctx, "kubernetes.list", args("kind", resource, "namespace", namespace, "selector", opts.LabelSelector, "field_selector", opts.FieldSelector), desc)
	var list *unstructured.UnstructuredList
	if err == nil {
		list, err = c.list(cl.ctx, m, namespace, opts)
	}
	if err != nil {
		list, err = nil, fmt.Errorf("list %s in %s: %w", resource, namespaceName(namespace), err)
	}
	cl.done(err, err == nil && len(list.Items) == 0, err == nil && list.GetContinue() != "", func() string { return Describe(list) })
	return list, err
}

func (c *Client) list(ctx context.Context, m *meta.RESTMapping, namespace string, opts ListOptions) (*unstructured.UnstructuredList, error) {
	ri := c.resourceFor(m, namespace)
	var apiVersion, kind string
	items, cont, err := collect(ctx, opts.max(), metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector},
		func(ctx context.Context, lo metav1.ListOptions) ([]unstructured.Unstructured, string, error) {
			l, err := ri.List(ctx, lo)
			if err != nil {
				return nil, "", err
			}
			apiVersion, kind = l.GetAPIVersion(), l.GetKind()
			return l.Items, l.GetContinue(), nil
		})
	if err != nil {
		return nil, err
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}, Items: items}
	list.SetContinue(cont)
	return list, nil
}
