package engine

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// collect gathers everything the analyzers read. Nothing here fails the
// investigation: a call that fails is recorded and listed as unchecked.
func (c *collector) collect(ctx context.Context) {
	if c.kube == nil {
		c.unchecked("Kubernetes objects, events and container logs", c.e.whyMissing("kubernetes", "no cluster access is configured"))
	} else {
		c.resolveTarget(ctx)
	}
	// Nodes come with the objects, and metric queries need them; the
	// dependencies come from the logs.
	c.parallel(ctx, c.collectKube, c.collectLogs)
	c.parallel(ctx, c.collectMetrics, c.collectDependencies, c.runRunbookSteps, c.collectCPUConsumers, c.collectCertExpiry, c.collectWebhooks, c.collectScrape)
}

func (e *Engine) whyMissing(backend, def string) string {
	if w := e.why[backend]; w != "" {
		return w
	}
	return def
}

// notFound reports whether err is the API server's 404.
func notFound(err error) bool { return apierrors.IsNotFound(err) }

// kubeErr records a failed Kubernetes read as unchecked, unless the object
// simply does not exist.
func (c *collector) kubeErr(what string, err error) {
	if err == nil || notFound(err) || errors.Is(err, context.Canceled) {
		return
	}
	why := err.Error()
	if apierrors.IsForbidden(err) {
		why = "forbidden by RBAC: " + why
	}
	c.unchecked(what, why)
}

// resolveTarget finds the object the alert is about, its top controller
// and its pods, from the alert's labels.
func (c *collector) resolveTarget(ctx context.Context) {
	l := c.ev.Alert.Labels
	ns := l["namespace"]
	if ns == "" {
		ns = l["exported_namespace"]
	}
	mark := len(c.rec.Calls())
	defer func() { c.cite("target", mark) }()

	switch {
	case isAppEdge(l):
		// The ingress controller's series: its pod and namespace are not
		// what the alert is about.
		ens, svc, ing, _ := appEdge(l)
		c.resolveAppEdge(ctx, ens, svc, ing)
	case l["pod"] != "" && ns != "":
		c.ev.Target = report.Ref{Kind: "Pod", Namespace: ns, Name: l["pod"]}
		p, err := c.kube.Pod(ctx, ns, l["pod"])
		c.kubeErr("pod "+ns+"/"+l["pod"], err)
		if err == nil {
			c.cite("pod/"+ns+"/"+p.Name, mark)
			if w := c.workloadOf(ctx, p); w.Kind != "Pod" {
				c.ev.Workload = w
				c.podsOf(ctx, kube.Ref{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}, p)
			} else {
				c.ev.Workload = c.ev.Target
				c.ev.Pods = []corev1.Pod{*p}
			}
			break
		}
		// The pod is gone (replaced, evicted): its controller is what to look at.
		c.guessWorkload(ctx, ns, incident.PodPrefix(l["pod"]))
	case firstOf(l, "deployment", "statefulset", "daemonset") != "" && ns != "":
		kind, name := workloadLabel(l)
		c.ev.Target = report.Ref{Kind: kind, Namespace: ns, Name: name}
		c.ev.Workload = c.ev.Target
		c.podsOf(ctx, kube.Ref{Kind: kind, Namespace: ns, Name: name}, nil)
	case l["job_name"] != "" && ns != "":
		c.ev.Target = report.Ref{Kind: "Job", Namespace: ns, Name: l["job_name"]}
		c.ev.Workload = c.ev.Target
		top, err := c.kube.TopOwner(ctx, kube.Ref{Kind: "Job", Namespace: ns, Name: l["job_name"]})
		c.kubeErr("owners of job "+l["job_name"], err)
		if err == nil && !top.Missing {
			c.ev.Workload = report.Ref{Kind: top.Kind, Namespace: top.Namespace, Name: top.Name}
		}
		c.podsOf(ctx, kube.Ref{Kind: "Job", Namespace: ns, Name: l["job_name"]}, nil)
		if len(c.ev.Pods) == 0 {
			c.setPods(c.jobPodsByName(ctx, ns, l["job_name"]))
		}
	case l["cronjob"] != "" && ns != "":
		c.ev.Target = report.Ref{Kind: "CronJob", Namespace: ns, Name: l["cronjob"]}
		c.ev.Workload = c.ev.Target
	case l["horizontalpodautoscaler"] != "" && ns != "":
		c.autoscalerTarget(ctx, ns, l["horizontalpodautoscaler"])
	case l["persistentvolumeclaim"] != "" && ns != "":
		c.ev.Target = report.Ref{Kind: "PersistentVolumeClaim", Namespace: ns, Name: l["persistentvolumeclaim"]}
		c.podsUsingClaim(ctx, ns, l["persistentvolumeclaim"])
	case l["node"] != "":
		c.ev.Target = report.Ref{Kind: "Node", Name: l["node"]}
		c.ev.Workload = c.ev.Target
	case l["service"] != "" && ns != "" && !isScrapeService(l["service"]) && validName(l["service"]):
		c.ev.Target = report.Ref{Kind: "Service", Namespace: ns, Name: l["service"]}
		c.podsOfEdge(ctx, ns, l["service"], l["ingress"])
	case l["ingress"] != "" && ns != "":
		c.ev.Target = report.Ref{Kind: "Ingress", Namespace: ns, Name: l["ingress"]}
		c.podsOfEdge(ctx, ns, "", l["ingress"])
	case probeHost(l) != "":
		c.resolveProbe(ctx, probeHost(l))
	case l["instance"] != "" && ns == "":
		n, err := c.kube.NodeByAddress(ctx, l["instance"])
		c.kubeErr("node of instance "+l["instance"], err)
		if err == nil && n != nil {
			c.ev.Target = report.Ref{Kind: "Node", Name: n.Name}
			c.ev.Workload = c.ev.Target
		}
	case c.resolveByLabels(ctx, l, ns):
		// A label value named a workload, Service or Ingress.
	case ns != "":
		c.unhealthyPodsIn(ctx, ns)
		if c.ev.Target.Kind == "Namespace" && c.ev.Workload.IsZero() {
			c.targetBrokenNow(ctx, ns)
		}
	default:
		c.targetBrokenNow(ctx, "")
	}
	if c.ev.Target.IsZero() {
		c.unchecked("the alert's object", "its labels name no pod, workload, node, volume claim, service or namespace")
	}
}

// isScrapeService tells the Service of the exporter that produced a series
// (kube-state-metrics, node-exporter) from a Service the alert is about.
func isScrapeService(s string) bool {
	for _, w := range []string{"kube-state-metrics", "node-exporter", "kubelet", "prometheus", "victoria", "vmagent", "blackbox"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func firstOf(l map[string]string, keys ...string) string {
	for _, k := range keys {
		if l[k] != "" {
			return l[k]
		}
	}
	return ""
}

func workloadLabel(l map[string]string) (kind, name string) {
	switch {
	case l["deployment"] != "":
		return "Deployment", l["deployment"]
	case l["statefulset"] != "":
		return "StatefulSet", l["statefulset"]
	default:
		return "DaemonSet", l["daemonset"]
	}
}

// guessWorkload looks for a controller named like the pod's prefix and
// takes its pods.
func (c *collector) guessWorkload(ctx context.Context, ns, name string) {
	if w, ok := c.controllerNamed(ctx, ns, name, nil); ok {
		c.ev.Workload = w
		c.podsOf(ctx, kube.Ref{Kind: w.Kind, Namespace: ns, Name: name}, nil)
	}
}

// controllerNamed finds a Deployment, StatefulSet or DaemonSet with the
// name; with podLabels, only one whose selector selects them.
func (c *collector) controllerNamed(ctx context.Context, ns, name string, podLabels map[string]string) (report.Ref, bool) {
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet"} {
		var sel *metav1.LabelSelector
		var err error
		switch kind {
		case "Deployment":
			var d *appsv1.Deployment
			if d, err = c.kube.Deployment(ctx, ns, name); err == nil {
				sel = d.Spec.Selector
			}
		case "StatefulSet":
			var s *appsv1.StatefulSet
			if s, err = c.kube.StatefulSet(ctx, ns, name); err == nil {
				sel = s.Spec.Selector
			}
		default:
			var d *appsv1.DaemonSet
			if d, err = c.kube.DaemonSet(ctx, ns, name); err == nil {
				sel = d.Spec.Selector
			}
		}
		if err != nil {
			if !notFound(err) {
				c.kubeErr(strings.ToLower(kind)+" "+ns+"/"+name, err)
				return report.Ref{}, false
			}
			continue
		}
		if podLabels != nil {
			s, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil || !s.Matches(labels.Set(podLabels)) {
				continue
			}
		}
		return report.Ref{Kind: kind, Namespace: ns, Name: name}, true
	}
	return report.Ref{}, false
}

// workloadOf returns the pod's top controller: by its owner references,
// else (owner gone, or a pod created without them) the controller named
// like the pod's prefix whose selector selects it, else the pod itself.
func (c *collector) workloadOf(ctx context.Context, p *corev1.Pod) report.Ref {
	top, err := c.kube.TopOwner(ctx, kube.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name})
	c.kubeErr("owners of pod "+p.Name, err)
	if err == nil && top.Kind != "Pod" && !top.Missing {
		return report.Ref{Kind: top.Kind, Namespace: top.Namespace, Name: top.Name}
	}
	if w, ok := c.controllerNamed(ctx, p.Namespace, incident.PodPrefix(p.Name), p.Labels); ok {
		return w
	}
	return report.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
}

// podsOf lists the workload's pods, unhealthy first, keeping first (the
// alert's own pod) whatever happens.
func (c *collector) podsOf(ctx context.Context, w kube.Ref, first *corev1.Pod) {
	list, err := c.kube.PodsOf(ctx, w)
	c.kubeErr("pods of "+w.String(), err)
	var pods []corev1.Pod
	if first != nil {
		pods = append(pods, *first)
	}
	if err == nil {
		pods = append(pods, list.Items...)
	}
	c.setPods(pods)
}

// setPods keeps up to MaxPods distinct pods, unhealthy ones first.
func (c *collector) setPods(pods []corev1.Pod) {
	seen := map[string]bool{}
	var uniq []corev1.Pod
	for _, p := range pods {
		if !seen[p.Namespace+"/"+p.Name] {
			seen[p.Namespace+"/"+p.Name] = true
			uniq = append(uniq, p)
		}
	}
	first := ""
	if len(pods) > 0 {
		first = pods[0].Name
	}
	sort.SliceStable(uniq, func(i, j int) bool {
		if uniq[i].Name == first || uniq[j].Name == first {
			return uniq[i].Name == first
		}
		return !healthy(&uniq[i]) && healthy(&uniq[j])
	})
	if len(uniq) > c.e.cfg.MaxPods {
		uniq = uniq[:c.e.cfg.MaxPods]
	}
	c.ev.Pods = uniq
}

func healthy(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodSucceeded {
		return false
	}
	for _, s := range p.Status.ContainerStatuses {
		if !s.Ready || s.RestartCount > 3 {
			return false
		}
	}
	return true
}

func (c *collector) topOwnerOf(ctx context.Context, p *corev1.Pod) {
	c.ev.Workload = c.workloadOf(ctx, p)
}

func (c *collector) podsUsingClaim(ctx context.Context, ns, claim string) {
	list, err := c.kube.Pods(ctx, ns, kube.ListOptions{})
	c.kubeErr("pods in "+ns, err)
	if err != nil {
		return
	}
	var using []corev1.Pod
	for _, p := range list.Items {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
				using = append(using, p)
			}
		}
	}
	c.setPods(using)
	if len(c.ev.Pods) > 0 {
		c.topOwnerOf(ctx, &c.ev.Pods[0])
	}
}

// unhealthyPodsIn takes the namespace's unhealthy pods as the target when
// the alert names nothing more precise.
func (c *collector) unhealthyPodsIn(ctx context.Context, ns string) {
	list, err := c.kube.Pods(ctx, ns, kube.ListOptions{Limit: 200})
	c.kubeErr("pods in "+ns, err)
	if err != nil {
		return
	}
	var bad []corev1.Pod
	for _, p := range list.Items {
		if !healthy(&p) {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		c.ev.Target = report.Ref{Kind: "Namespace", Name: ns}
		return
	}
	rankBySeverity(bad) // the most broken first: OOMKilled, crash loops, Pending, not Ready
	c.setPods(bad)
	c.ev.Target = report.Ref{Kind: "Pod", Namespace: ns, Name: c.ev.Pods[0].Name}
	c.topOwnerOf(ctx, &c.ev.Pods[0])
}

// collectKube reads what surrounds the target: events, rollout history,
// nodes, volume claims, quotas, autoscalers, network policies, services.
func (c *collector) collectKube(ctx context.Context) {
	if c.kube == nil {
		return
	}
	ns := c.ev.Target.Namespace
	if ns == "" {
		ns = c.ev.Workload.Namespace
	}
	if ns == "" && c.ev.Target.Kind == "Namespace" {
		ns = c.ev.Target.Name
	}
	var fns []func(context.Context)
	for i := range c.ev.Pods {
		p := c.ev.Pods[i]
		fns = append(fns, func(ctx context.Context) {
			mark := len(c.rec.Calls())
			evs, err := c.kube.Events(ctx, p.Namespace, "Pod", p.Name)
			c.kubeErr("events of pod "+p.Name, err)
			c.addEvents(evs)
			c.cite("events/"+p.Namespace+"/"+p.Name, mark)
		})
	}
	if ns != "" {
		fns = append(fns, func(ctx context.Context) {
			// Warnings about objects that may not exist: FailedCreate of a
			// ReplicaSet held back by a quota, FailedScheduling, volume errors.
			mark := len(c.rec.Calls())
			evs, err := c.kube.NamespaceEvents(ctx, ns, kube.EventFilter{Since: c.start, Type: "Warning"})
			c.kubeErr("warning events in "+ns, err)
			c.addEvents(evs)
			for _, e := range evs {
				c.cite("events/"+e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name, mark)
			}
		}, func(ctx context.Context) {
			mark := len(c.rec.Calls())
			q, err := c.kube.Quotas(ctx, ns)
			c.kubeErr("resource quotas of "+ns, err)
			if err == nil {
				c.mu.Lock()
				c.ev.Quotas, c.ev.LimitRanges = q.ResourceQuotas, q.LimitRanges
				c.mu.Unlock()
			}
			c.cite("quotas/"+ns, mark)
		}, func(ctx context.Context) {
			mark := len(c.rec.Calls())
			hpas := listTyped[autoscalingv2.HorizontalPodAutoscaler](ctx, c, "horizontalpodautoscalers", ns)
			var mine []autoscalingv2.HorizontalPodAutoscaler
			for _, h := range hpas {
				if c.ev.Workload.IsZero() || (h.Spec.ScaleTargetRef.Kind == c.ev.Workload.Kind && h.Spec.ScaleTargetRef.Name == c.ev.Workload.Name) {
					mine = append(mine, h)
				}
			}
			c.mu.Lock()
			c.ev.HPAs = mine
			c.mu.Unlock()
			for _, h := range mine {
				c.cite("hpa/"+h.Namespace+"/"+h.Name, mark)
			}
		}, func(ctx context.Context) {
			mark := len(c.rec.Calls())
			nps := listTyped[networkingv1.NetworkPolicy](ctx, c, "networkpolicies", ns)
			c.mu.Lock()
			c.ev.NetPolicies = nps
			c.mu.Unlock()
			c.cite("netpol/"+ns, mark)
		})
	}
	if w := c.ev.Workload; w.Kind == "Deployment" {
		fns = append(fns, func(ctx context.Context) { c.rollout(ctx, w) })
	}
	if w := c.ev.Workload; w.Kind == "StatefulSet" || w.Kind == "DaemonSet" {
		fns = append(fns, func(ctx context.Context) { c.controller(ctx, w) })
	}
	if w := c.ev.Workload; w.Kind == "Job" || w.Kind == "CronJob" {
		fns = append(fns, func(ctx context.Context) { c.jobs(ctx, w) })
	}
	for _, name := range c.nodeNames() {
		fns = append(fns, func(ctx context.Context) {
			mark := len(c.rec.Calls())
			n, err := c.kube.Node(ctx, name)
			c.kubeErr("node "+name, err)
			if err == nil {
				c.mu.Lock()
				c.ev.Nodes = append(c.ev.Nodes, *n)
				c.mu.Unlock()
			}
			c.cite("node/"+name, mark)
		})
	}
	for _, claim := range c.claimNames() {
		fns = append(fns, func(ctx context.Context) {
			mark := len(c.rec.Calls())
			pvc, err := c.kube.PersistentVolumeClaim(ctx, claim.Namespace, claim.Name)
			c.kubeErr("volume claim "+claim.Name, err)
			if err == nil {
				c.mu.Lock()
				c.ev.PVCs = append(c.ev.PVCs, *pvc)
				c.mu.Unlock()
				c.volumeOf(ctx, pvc)
			}
			evs, err := c.kube.Events(ctx, claim.Namespace, "PersistentVolumeClaim", claim.Name)
			c.kubeErr("events of volume claim "+claim.Name, err)
			c.addEvents(evs)
			c.cite("pvc/"+claim.Namespace+"/"+claim.Name, mark)
			c.cite("events/"+claim.Namespace+"/"+claim.Name, mark)
		})
	}
	if certAlert(c.ev.Alert.Name) && ns != "" {
		fns = append(fns, func(ctx context.Context) { c.certificates(ctx, ns) })
	}
	for _, cm := range c.configMapNames() {
		fns = append(fns, func(ctx context.Context) { c.configMap(ctx, cm) })
	}
	c.parallel(ctx, fns...)
}

// addEvents merges events, dropping repeats of the same event object.
func (c *collector) addEvents(evs []corev1.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range c.ev.Events {
		seen[e.Namespace+"/"+e.Name] = true
	}
	for _, e := range evs {
		if !seen[e.Namespace+"/"+e.Name] {
			seen[e.Namespace+"/"+e.Name] = true
			c.ev.Events = append(c.ev.Events, e)
		}
	}
}

func (c *collector) nodeNames() []string {
	seen := map[string]bool{}
	var out []string
	if c.ev.Target.Kind == "Node" {
		seen[c.ev.Target.Name] = true
		out = append(out, c.ev.Target.Name)
	}
	for _, p := range c.ev.Pods {
		if n := p.Spec.NodeName; n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func (c *collector) claimNames() []report.Ref {
	seen := map[string]bool{}
	var out []report.Ref
	add := func(ns, name string) {
		if !seen[ns+"/"+name] {
			seen[ns+"/"+name] = true
			out = append(out, report.Ref{Kind: "PersistentVolumeClaim", Namespace: ns, Name: name})
		}
	}
	if c.ev.Target.Kind == "PersistentVolumeClaim" {
		add(c.ev.Target.Namespace, c.ev.Target.Name)
	}
	for _, p := range c.ev.Pods {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				add(p.Namespace, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	return out
}

// rollout reads the Deployment and its ReplicaSets, oldest revision first.
func (c *collector) rollout(ctx context.Context, w report.Ref) {
	mark := len(c.rec.Calls())
	defer c.cite("rollout/"+w.Namespace+"/"+w.Name, mark)
	d, err := c.kube.Deployment(ctx, w.Namespace, w.Name)
	c.kubeErr("deployment "+w.Name, err)
	if err != nil {
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return
	}
	all := listTypedOpts[appsv1.ReplicaSet](ctx, c, "replicasets", w.Namespace, kube.ListOptions{LabelSelector: sel.String()})
	var mine []appsv1.ReplicaSet
	for _, rs := range all {
		for _, o := range rs.OwnerReferences {
			if o.Kind == "Deployment" && o.Name == d.Name {
				mine = append(mine, rs)
			}
		}
	}
	sort.Slice(mine, func(i, j int) bool { return revisionOf(&mine[i]) < revisionOf(&mine[j]) })
	c.mu.Lock()
	c.ev.Deployment, c.ev.ReplicaSets = d, mine
	c.mu.Unlock()
	// The deployment controller's ScalingReplicaSet events (Normal, so not
	// among the namespace's warnings) date the rollout.
	evs, err := c.kube.Events(ctx, w.Namespace, "Deployment", w.Name)
	c.kubeErr("events of deployment "+w.Name, err)
	c.addEvents(evs)
}

func revisionOf(rs *appsv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.Annotations["deployment.kubernetes.io/revision"], 10, 64)
	return n
}

// jobs reads the Job, or the CronJob's Jobs, with their pods.
func (c *collector) jobs(ctx context.Context, w report.Ref) {
	var jobs []batchv1.Job
	switch w.Kind {
	case "Job":
		j, err := c.kube.Job(ctx, w.Namespace, w.Name)
		c.kubeErr("job "+w.Name, err)
		if err == nil {
			jobs = append(jobs, *j)
		}
	case "CronJob":
		for _, j := range listTyped[batchv1.Job](ctx, c, "jobs", w.Namespace) {
			for _, o := range j.OwnerReferences {
				if o.Kind == "CronJob" && o.Name == w.Name {
					jobs = append(jobs, j)
				}
			}
		}
		jobs = c.cronJobRuns(ctx, w, jobs)
	}
	var pods []corev1.Pod
	for _, j := range jobs {
		mark := len(c.rec.Calls())
		list, err := c.kube.PodsOf(ctx, kube.Ref{Kind: "Job", Namespace: j.Namespace, Name: j.Name})
		c.kubeErr("pods of job "+j.Name, err)
		if err == nil {
			pods = append(pods, list.Items...)
		}
		if err == nil && len(list.Items) == 0 {
			pods = append(pods, c.jobPodsByName(ctx, j.Namespace, j.Name)...)
		}
		c.cite("job/"+j.Namespace+"/"+j.Name, mark)
	}
	c.mu.Lock()
	c.ev.Jobs = jobs
	if len(c.ev.Pods) == 0 {
		c.ev.Pods = pods
	}
	c.mu.Unlock()
}

// listTyped lists a resource through the generic (recorded) List and
// converts the items.
func listTyped[T any](ctx context.Context, c *collector, resource, ns string) []T {
	return listTypedOpts[T](ctx, c, resource, ns, kube.ListOptions{Limit: 200})
}

func listTypedOpts[T any](ctx context.Context, c *collector, resource, ns string, opts kube.ListOptions) []T {
	list, err := c.kube.List(ctx, resource, ns, opts)
	c.kubeErr(resource+" in "+ns, err)
	if err != nil {
		return nil
	}
	out := make([]T, 0, len(list.Items))
	for _, u := range list.Items {
		var v T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &v); err == nil {
			out = append(out, v)
		}
	}
	return out
}
