package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// The broken-now scan: when the alert names nothing Kubernetes knows, the
// target is what is most visibly broken in the alert's namespace (or, with
// no namespace, the cluster): pods OOMKilled, crash-looping, failing to
// start or pull, Pending, not Ready, and workloads short of replicas.

const maxScanned = 500

// podSeverity ranks how broken a pod is now, with the reason; 0 is
// healthy. warned says the pod has warning events in the window.
func podSeverity(p *corev1.Pod, warned bool) (int, string) {
	score, why := 0, ""
	set := func(s int, w string) {
		if s > score {
			score, why = s, w
		}
	}
	if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodFailed {
		set(40, "failed")
	}
	if p.Status.Phase == corev1.PodPending {
		set(50, "Pending")
	}
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if t := s.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
			set(80, "OOMKilled (container "+s.Name+")")
		}
		if t := s.State.Terminated; t != nil && t.Reason == "OOMKilled" {
			set(80, "OOMKilled (container "+s.Name+")")
		}
		if w := s.State.Waiting; w != nil {
			switch w.Reason {
			case "CrashLoopBackOff":
				set(70, "CrashLoopBackOff (container "+s.Name+")")
			case "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "RunContainerError":
				set(70, w.Reason+" (container "+s.Name+")")
			case "ContainerCreating", "PodInitializing":
			default:
				if w.Reason != "" {
					set(45, w.Reason+" (container "+s.Name+")")
				}
			}
		}
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 && p.Status.Phase == corev1.PodRunning {
			set(60, fmt.Sprintf("container %s exited with code %d", s.Name, t.ExitCode))
		}
		if s.RestartCount > 3 {
			set(35, fmt.Sprintf("container %s restarted %d times", s.Name, s.RestartCount))
		}
		if !s.Ready && p.Status.Phase == corev1.PodRunning {
			set(30, "not Ready (container "+s.Name+")")
		}
	}
	if score == 0 && warned {
		set(10, "warning events")
	} else if score > 0 && warned {
		score += 5
	}
	return score, why
}

// systemNamespace tells the cluster's own namespaces, ranked after the
// applications' in a cluster-wide scan.
func systemNamespace(ns string) bool {
	return ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease" || strings.HasSuffix(ns, "-system")
}

type brokenThing struct {
	pod      *corev1.Pod
	workload report.Ref
	score    int
	why      string
}

// scanBroken lists what is broken now in ns ("" for the cluster), most
// severe first.
func (c *collector) scanBroken(ctx context.Context, ns string) []brokenThing {
	var pods *corev1.PodList
	var evs []corev1.Event
	var deps []appsv1.Deployment
	var sts []appsv1.StatefulSet
	var dss []appsv1.DaemonSet
	c.parallel(ctx,
		func(ctx context.Context) {
			l, err := c.kube.Pods(ctx, ns, kube.ListOptions{Limit: maxScanned})
			c.kubeErr("pods in "+scopeName(ns), err)
			pods = l
		},
		func(ctx context.Context) {
			e, err := c.kube.NamespaceEvents(ctx, ns, kube.EventFilter{Since: c.start, Type: "Warning"})
			c.kubeErr("warning events in "+scopeName(ns), err)
			evs = e
		},
		func(ctx context.Context) {
			deps = listTypedOpts[appsv1.Deployment](ctx, c, "deployments", ns, kube.ListOptions{Limit: maxScanned})
		},
		func(ctx context.Context) {
			sts = listTypedOpts[appsv1.StatefulSet](ctx, c, "statefulsets", ns, kube.ListOptions{Limit: maxScanned})
		},
		func(ctx context.Context) {
			dss = listTypedOpts[appsv1.DaemonSet](ctx, c, "daemonsets", ns, kube.ListOptions{Limit: maxScanned})
		},
	)
	warned := map[string]bool{}
	for _, e := range evs {
		if e.InvolvedObject.Kind == "Pod" {
			warned[e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name] = true
		}
	}
	var out []brokenThing
	if pods != nil {
		for i := range pods.Items {
			p := &pods.Items[i]
			if s, why := podSeverity(p, warned[p.Namespace+"/"+p.Name]); s > 0 {
				out = append(out, brokenThing{pod: p, score: s, why: why})
			}
		}
	}
	short := func(kind, ns, name string, want, ready int32) {
		if want > 0 && ready < want {
			out = append(out, brokenThing{
				workload: report.Ref{Kind: kind, Namespace: ns, Name: name},
				score:    20 + int(20*(want-ready)/want),
				why:      fmt.Sprintf("%d of %d replicas ready", ready, want),
			})
		}
	}
	for _, d := range deps {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		short("Deployment", d.Namespace, d.Name, want, d.Status.ReadyReplicas)
	}
	for _, s := range sts {
		want := int32(1)
		if s.Spec.Replicas != nil {
			want = *s.Spec.Replicas
		}
		short("StatefulSet", s.Namespace, s.Name, want, s.Status.ReadyReplicas)
	}
	for _, d := range dss {
		short("DaemonSet", d.Namespace, d.Name, d.Status.DesiredNumberScheduled, d.Status.NumberReady)
	}
	for i := range out {
		nsOf := out[i].workload.Namespace
		if out[i].pod != nil {
			nsOf = out[i].pod.Namespace
		}
		if ns == "" && systemNamespace(nsOf) {
			out[i].score -= 25
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		// Pods before workloads at the same severity: the pod says why.
		return out[i].pod != nil && out[j].pod == nil
	})
	return out
}

func scopeName(ns string) string {
	if ns == "" {
		return "all namespaces"
	}
	return ns
}

// targetBrokenNow takes the most severe broken thing as the target and
// reports whether there was one.
func (c *collector) targetBrokenNow(ctx context.Context, ns string) bool {
	found := c.scanBroken(ctx, ns)
	if len(found) == 0 || found[0].score <= 0 {
		return false
	}
	top := found[0]
	scope := "namespace " + ns
	if ns == "" {
		scope = "the cluster (the alert has no namespace)"
	}
	if top.pod != nil {
		p := top.pod
		// The same workload's other broken pods come along.
		var pods []corev1.Pod
		pods = append(pods, *p)
		c.ev.Target = report.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
		c.ev.Workload = c.workloadOf(ctx, p)
		if w := c.ev.Workload; w.Kind != "Pod" {
			list, err := c.kube.PodsOf(ctx, kube.Ref{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name})
			c.kubeErr("pods of "+w.Kind+" "+w.Name, err)
			if err == nil {
				pods = append(pods, list.Items...)
			}
		}
		c.setPods(pods)
		c.targetNote = fmt.Sprintf("The alert names no Kubernetes object; scanning %s for what is broken now, the most severe is pod %s/%s: %s (%d broken in all), taken as the target.",
			scope, p.Namespace, p.Name, top.why, len(found))
		return true
	}
	w := top.workload
	c.ev.Target, c.ev.Workload = w, w
	c.podsOf(ctx, kube.Ref{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}, nil)
	c.targetNote = fmt.Sprintf("The alert names no Kubernetes object; scanning %s for what is broken now, the most severe is %s %s/%s: %s (%d broken in all), taken as the target.",
		scope, w.Kind, w.Namespace, w.Name, top.why, len(found))
	return true
}

// rankBySeverity orders pods the most broken first, keeping the list's
// order among equals.
func rankBySeverity(pods []corev1.Pod) {
	score := make(map[string]int, len(pods))
	for i := range pods {
		score[pods[i].Name], _ = podSeverity(&pods[i], false)
	}
	sort.SliceStable(pods, func(i, j int) bool { return score[pods[i].Name] > score[pods[j].Name] })
}
