package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// Ref names an object.
type Ref struct {
	// APIVersion may be empty; Kind ("Pod", "Deployment") is then looked
	// up like Get's kind argument.
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
	// Missing says an owner reference points at an object that is gone
	// (or was replaced by another of the same name).
	Missing bool `json:"missing,omitempty"`
}

// String renders "Kind namespace/name".
func (r Ref) String() string {
	s := r.Kind + " " + nsName(r.Namespace, r.Name)
	if r.Missing {
		s += " (missing)"
	}
	return s
}

// RefOf returns the Ref of a typed object (as the getters return them,
// without TypeMeta) or an unstructured one.
func RefOf(obj runtime.Object) Ref {
	m, err := meta.Accessor(obj)
	if err != nil {
		return Ref{}
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		if gvks, _, err := scheme.Scheme.ObjectKinds(obj); err == nil && len(gvks) > 0 {
			gvk = gvks[0]
		}
	}
	return Ref{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Namespace: m.GetNamespace(), Name: m.GetName(), UID: string(m.GetUID())}
}

// maxOwnerDepth bounds an owner chain; real ones are at most three deep
// (Pod, Job, CronJob), and a loop of owner references is not impossible.
const maxOwnerDepth = 8

// OwnerChain follows controller owner references from ref up to the top
// controller: Pod, ReplicaSet, Deployment; Pod, Job, CronJob; Pod,
// StatefulSet. The chain starts with ref itself (its UID filled in). An
// owner that no longer exists ends the chain, marked Missing.
func (c *Client) OwnerChain(ctx context.Context, ref Ref) ([]Ref, error) {
	cl := c.start(ctx, "kubernetes.owner_chain", args("kind", ref.Kind, "namespace", ref.Namespace, "name", ref.Name),
		kubectl("get", strings.ToLower(ref.Kind), ref.Namespace, ref.Name, "-o jsonpath='{.metadata.ownerReferences}'", "# and up each controller owner"))
	chain, err := c.ownerChain(cl.ctx, ref)
	if err != nil {
		err = fmt.Errorf("owner chain of %s: %w", ref, err)
	}
	cl.done(err, false, false, func() string { return describeChain(chain) })
	return chain, err
}

// TopOwner returns the last of OwnerChain: the object's top controller, or
// the object itself when nothing owns it.
func (c *Client) TopOwner(ctx context.Context, ref Ref) (Ref, error) {
	chain, err := c.OwnerChain(ctx, ref)
	if err != nil {
		return Ref{}, err
	}
	return chain[len(chain)-1], nil
}

func (c *Client) ownerChain(ctx context.Context, ref Ref) ([]Ref, error) {
	var chain []Ref
	cur := ref
	for depth := 0; depth < maxOwnerDepth; depth++ {
		m, err := c.mappingFor(ctx, cur.APIVersion, cur.Kind)
		if errors.Is(err, ErrSecretRefused) && depth > 0 {
			// Owned by a Secret: named, never read.
			return append(chain, cur), nil
		}
		if err != nil {
			return chain, err
		}
		if m.Scope.Name() == meta.RESTScopeNameRoot {
			cur.Namespace = ""
		}
		u, err := c.resourceFor(m, cur.Namespace).Get(ctx, cur.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && depth > 0 {
			cur.Missing = true
			return append(chain, cur), nil
		}
		if err != nil {
			return chain, err
		}
		if depth > 0 && cur.UID != "" && string(u.GetUID()) != cur.UID {
			// Same name, another object: the owner was deleted and recreated.
			cur.Missing = true
			return append(chain, cur), nil
		}
		chain = append(chain, Ref{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), UID: string(u.GetUID())})
		owner := controllerOf(u.GetOwnerReferences())
		if owner == nil {
			return chain, nil
		}
		cur = Ref{APIVersion: owner.APIVersion, Kind: owner.Kind, Namespace: u.GetNamespace(), Name: owner.Name, UID: string(owner.UID)}
	}
	return chain, fmt.Errorf("owner references deeper than %d", maxOwnerDepth)
}

// controllerOf returns the managing owner: the one marked controller, else
// the only one.
func controllerOf(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	if len(refs) == 1 {
		return &refs[0]
	}
	return nil
}

// PodsOf returns the pods a workload selects with its label selector
// (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, or any kind with a
// spec.selector; a Service's selector too), at most 500. A CronJob's pods
// are those of the Jobs it owns.
func (c *Client) PodsOf(ctx context.Context, workload Ref) (*corev1.PodList, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u, err := c.fetch(ctx, workload)
	var sels []string
	if err == nil {
		sels, err = c.podSelectors(ctx, u)
	}
	desc := kubectl("get", "pods", workload.Namespace, "-l <selector of "+strings.ToLower(workload.Kind)+"/"+workload.Name+">")
	if err == nil {
		desc = ""
		for i, s := range sels {
			if i > 0 {
				desc += " && "
			}
			desc += kubectl("get", "pods", workload.Namespace, "-l "+s)
		}
		if len(sels) == 0 {
			desc = kubectl("get", "jobs", workload.Namespace, "# none owned by "+strings.ToLower(workload.Kind)+"/"+workload.Name)
		}
	}
	cl := c.start(ctx, "kubernetes.list", args("kind", "pod", "namespace", workload.Namespace, "owner", workload.String()), desc)
	list := &corev1.PodList{}
	for _, s := range sels {
		if err != nil {
			break
		}
		var l *corev1.PodList
		l, err = c.listPods(cl.ctx, workload.Namespace, ListOptions{LabelSelector: s, Limit: maxListItems - len(list.Items)})
		if err == nil {
			list.Items = append(list.Items, l.Items...)
			if l.Continue != "" || len(list.Items) >= maxListItems {
				list.Continue = l.Continue
				break
			}
		}
	}
	if err != nil {
		list, err = nil, fmt.Errorf("pods of %s: %w", workload, err)
	}
	cl.done(err, err == nil && len(list.Items) == 0, err == nil && list.Continue != "", func() string { return Describe(list) })
	return list, err
}

// fetch gets the object a Ref names.
func (c *Client) fetch(ctx context.Context, ref Ref) (*unstructured.Unstructured, error) {
	m, err := c.mappingFor(ctx, ref.APIVersion, ref.Kind)
	if err != nil {
		return nil, err
	}
	return c.resourceFor(m, ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
}

// podSelectors returns the label selectors of a workload's pods: one, or
// one per Job of a CronJob.
func (c *Client) podSelectors(ctx context.Context, u *unstructured.Unstructured) ([]string, error) {
	if u.GroupVersionKind().GroupKind().String() == "CronJob.batch" {
		jobs, _, err := collect(ctx, maxListItems, metav1.ListOptions{}, func(ctx context.Context, lo metav1.ListOptions) ([]unstructured.Unstructured, string, error) {
			l, err := c.cs.BatchV1().Jobs(u.GetNamespace()).List(ctx, lo)
			if err != nil {
				return nil, "", err
			}
			var out []unstructured.Unstructured
			for i := range l.Items {
				if o := controllerOf(l.Items[i].OwnerReferences); o != nil && o.UID == u.GetUID() {
					m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&l.Items[i])
					if err != nil {
						return nil, "", err
					}
					out = append(out, unstructured.Unstructured{Object: m})
				}
			}
			return out, l.Continue, nil
		})
		if err != nil {
			return nil, fmt.Errorf("jobs of cronjob %s/%s: %w", u.GetNamespace(), u.GetName(), err)
		}
		var sels []string
		for i := range jobs {
			s, err := selectorOf(&jobs[i])
			if err != nil {
				return nil, err
			}
			sels = append(sels, s)
		}
		return sels, nil
	}
	s, err := selectorOf(u)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// selectorOf reads spec.selector: a LabelSelector (apps, batch, most CRDs)
// or a plain label map (Service, ReplicationController). An empty selector
// would select every pod of the namespace and is an error instead.
func selectorOf(u *unstructured.Unstructured) (string, error) {
	raw, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "selector")
	m, ok := raw.(map[string]any)
	if !found || !ok || len(m) == 0 {
		return "", fmt.Errorf("%s %s/%s has no pod selector", u.GetKind(), u.GetNamespace(), u.GetName())
	}
	_, hasLabels := m["matchLabels"]
	_, hasExprs := m["matchExpressions"]
	var sel labels.Selector
	if hasLabels || hasExprs {
		var ls metav1.LabelSelector
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
			return "", fmt.Errorf("selector of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		s, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			return "", fmt.Errorf("selector of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		sel = s
	} else {
		set := labels.Set{}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("selector of %s %s/%s: %s is not a string", u.GetKind(), u.GetNamespace(), u.GetName(), k)
			}
			set[k] = s
		}
		sel = labels.SelectorFromSet(set)
	}
	if sel.Empty() {
		return "", fmt.Errorf("%s %s/%s has an empty pod selector", u.GetKind(), u.GetNamespace(), u.GetName())
	}
	return sel.String(), nil
}

// Revision is one ReplicaSet of a Deployment's rollout history.
type Revision struct {
	Revision   int64  `json:"revision"`
	ReplicaSet string `json:"replicaSet"`
	// Current marks the revision the Deployment is at.
	Current bool `json:"current,omitempty"`
	// Images are "container=image" of the pod template, containers in order.
	Images []string `json:"images"`
	// Desired is spec.replicas; Replicas, Ready and Available come from
	// the status.
	Desired     int32     `json:"desired"`
	Replicas    int32     `json:"replicas"`
	Ready       int32     `json:"ready"`
	Available   int32     `json:"available"`
	Created     time.Time `json:"created"`
	ChangeCause string    `json:"changeCause,omitempty"`
}

// Annotations the deployment controller writes.
const (
	revisionAnnotation    = "deployment.kubernetes.io/revision"
	changeCauseAnnotation = "kubernetes.io/change-cause"
)

// RolloutHistory returns the revisions of a Deployment, oldest first: the
// ReplicaSets it controls, ordered by their revision annotation.
func (c *Client) RolloutHistory(ctx context.Context, namespace, deployment string) ([]Revision, error) {
	cl := c.start(ctx, "kubernetes.rollout_history", args("namespace", namespace, "name", deployment),
		kubectl("rollout", "history", namespace, "deployment/"+deployment))
	revs, truncated, err := c.rolloutHistory(cl.ctx, namespace, deployment)
	if err != nil {
		err = fmt.Errorf("rollout history of deployment %s/%s: %w", namespace, deployment, err)
	}
	cl.done(err, len(revs) == 0, truncated, func() string { return describeRevisions(revs) })
	return revs, err
}

func (c *Client) rolloutHistory(ctx context.Context, namespace, name string) ([]Revision, bool, error) {
	d, err := c.cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, false, fmt.Errorf("selector: %w", err)
	}
	rss, cont, err := collect(ctx, maxListItems, metav1.ListOptions{LabelSelector: sel.String()},
		func(ctx context.Context, lo metav1.ListOptions) ([]appsv1.ReplicaSet, string, error) {
			l, err := c.cs.AppsV1().ReplicaSets(namespace).List(ctx, lo)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	if err != nil {
		return nil, false, err
	}
	current := d.Annotations[revisionAnnotation]
	var revs []Revision
	for _, rs := range rss {
		if o := controllerOf(rs.OwnerReferences); o == nil || o.UID != d.UID {
			continue // selected by the labels, but adopted by nothing or another owner
		}
		rev, _ := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
		r := Revision{
			Revision:    rev,
			ReplicaSet:  rs.Name,
			Current:     current != "" && rs.Annotations[revisionAnnotation] == current,
			Images:      images(rs.Spec.Template.Spec.Containers),
			Replicas:    rs.Status.Replicas,
			Ready:       rs.Status.ReadyReplicas,
			Available:   rs.Status.AvailableReplicas,
			Created:     rs.CreationTimestamp.Time,
			ChangeCause: rs.Annotations[changeCauseAnnotation],
		}
		if rs.Spec.Replicas != nil {
			r.Desired = *rs.Spec.Replicas
		}
		revs = append(revs, r)
	}
	sort.SliceStable(revs, func(i, j int) bool {
		if revs[i].Revision != revs[j].Revision {
			return revs[i].Revision < revs[j].Revision
		}
		return revs[i].Created.Before(revs[j].Created)
	})
	return revs, cont != "", nil
}

func images(cs []corev1.Container) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Name+"="+c.Image)
	}
	return out
}
