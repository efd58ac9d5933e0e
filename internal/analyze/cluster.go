package analyze

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

var (
	insufficient = regexp.MustCompile(`(?i)insufficient (\w[\w./-]*)`)
	// "exceeded quota: q, requested: ...", or "failed quota: q: must specify
	// limits.cpu" when a quota requires limits the pod does not set.
	quotaDenied = regexp.MustCompile(`(?i)(?:exceeded|failed) quota: ([\w.-]+)`)
	// The LimitRanger admission plugin's refusals.
	limitDenied = regexp.MustCompile(`(?i)(maximum|minimum) ([\w./-]+) usage per (Container|Pod|PersistentVolumeClaim) is (\S+), but (limit|request) is (\S+?)[.,;]?(\s|$)`)
	ratioDenied = regexp.MustCompile(`(?i)([\w./-]+) max limit to request ratio per (Container|Pod) is (\S+), but provided ratio is (\S+?)[.,;]?(\s|$)`)
	unboundPVC  = regexp.MustCompile(`(?i)(unbound immediate persistentvolumeclaims|persistentvolumeclaim "([^"]+)" not found|pod has unbound)`)
)

func analyzeScheduling(ev *Evidence, out *Output) {
	seen := map[string]bool{}
	for i := range ev.Pods {
		p := &ev.Pods[i]
		if p.Status.Phase != corev1.PodPending {
			continue
		}
		msg := ""
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				msg = c.Message
			}
		}
		for _, e := range events(ev, "Pod", p.Namespace, p.Name) {
			if e.Reason == "FailedScheduling" {
				msg = e.Message
			}
		}
		if msg == "" || unboundPVC.MatchString(msg) {
			continue // not a scheduling failure, or the volume analyzer's
		}
		obj := culprit(ev, p)
		if seen[obj.String()] {
			continue
		}
		seen[obj.String()] = true
		f := report.Finding{
			Category: report.Unschedulable, Object: obj, Score: 0.85,
			Title:    fmt.Sprintf("pod %s is Pending: %s", p.Name, firstLine(msg)),
			Evidence: cite(ev, podKey(p), "events/"+p.Namespace+"/"+p.Name),
		}
		var req []string
		for _, c := range p.Spec.Containers {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := c.Resources.Requests[r]; ok {
					req = append(req, fmt.Sprintf("%s requests %s %s", c.Name, r, q.String()))
				}
			}
		}
		if len(req) > 0 {
			f.Detail = strings.Join(req, "; ")
		}
		place := placement(p)
		if strings.Contains(strings.ToLower(msg), "volume node affinity") {
			if z := volumeZones(ev, p); z != "" {
				place = append(place, z)
			}
		}
		if len(place) > 0 {
			f.Detail = strings.TrimPrefix(f.Detail+"; "+strings.Join(place, "; "), "; ")
		}
		for _, e := range events(ev, "Pod", p.Namespace, p.Name) {
			// The cluster autoscaler says why no new node would help.
			if e.Reason == "NotTriggerScaleUp" || e.Reason == "FailedScaleUp" {
				f.Detail = strings.TrimPrefix(f.Detail+"; cluster-autoscaler: "+firstLine(e.Message), "; ")
				break
			}
		}
		switch {
		case insufficient.MatchString(msg):
			res := insufficient.FindStringSubmatch(msg)[1]
			f.Remediation = []string{fmt.Sprintf("No node has enough free %s for the pod's requests: lower the requests of %s (%s) or add capacity to the cluster.", res, obj, f.Detail)}
		case strings.Contains(strings.ToLower(msg), "taint"):
			f.Remediation = []string{fmt.Sprintf("The nodes carry taints the pod does not tolerate: add a toleration to %s or remove the taint from the intended nodes.", obj)}
		case strings.Contains(strings.ToLower(msg), "affinity") || strings.Contains(strings.ToLower(msg), "selector"):
			want := "the nodeSelector/affinity"
			if len(place) > 0 {
				want = strings.Join(place, "; ")
			}
			f.Remediation = []string{fmt.Sprintf("No node matches %s of %s: fix the selector, or bring back nodes with these labels (kubectl get nodes -L <label>; the node group's size and the cluster autoscaler's limits).", want, obj)}
		default:
			f.Remediation = []string{fmt.Sprintf("Make the pods of %s schedulable: %s", obj, firstLine(msg))}
		}
		out.Find(f)
	}
	if len(seen) == 0 {
		out.Check("no pod of %s is stuck in scheduling", targetName(ev))
	}
}

// placement renders a pod's constraints on nodes: its nodeSelector and the
// required terms of its node affinity.
func placement(p *corev1.Pod) []string {
	var out []string
	if len(p.Spec.NodeSelector) > 0 {
		var kv []string
		for k, v := range p.Spec.NodeSelector {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		out = append(out, "nodeSelector "+strings.Join(kv, ", "))
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		var terms []string
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			var exprs []string
			for _, e := range append(append([]corev1.NodeSelectorRequirement{}, t.MatchExpressions...), t.MatchFields...) {
				x := e.Key + " " + string(e.Operator)
				if len(e.Values) > 0 {
					x += " (" + strings.Join(e.Values, ", ") + ")"
				}
				exprs = append(exprs, x)
			}
			if len(exprs) > 0 {
				terms = append(terms, strings.Join(exprs, " and "))
			}
		}
		if len(terms) > 0 {
			out = append(out, "required node affinity "+strings.Join(terms, " or "))
		}
	}
	return out
}

func analyzeVolumes(ev *Evidence, out *Output) {
	n := 0
	for _, pvc := range ev.PVCs {
		if pvc.Status.Phase == corev1.ClaimBound {
			continue
		}
		ref := report.Ref{Kind: "PersistentVolumeClaim", Namespace: pvc.Namespace, Name: pvc.Name}
		msg := ""
		for _, e := range events(ev, "PersistentVolumeClaim", pvc.Namespace, pvc.Name) {
			msg = e.Message
		}
		sc := ""
		if pvc.Spec.StorageClassName != nil {
			sc = *pvc.Spec.StorageClassName
		}
		f := report.Finding{
			Category: report.Volume, Object: ref, Score: 0.88,
			Title:    fmt.Sprintf("PersistentVolumeClaim %s is %s (storage class %q)", pvc.Name, pvc.Status.Phase, sc),
			Detail:   msg,
			Evidence: cite(ev, "pvc/"+pvc.Namespace+"/"+pvc.Name, "events/"+pvc.Namespace+"/"+pvc.Name),
		}
		if strings.Contains(strings.ToLower(msg), "storageclass") && strings.Contains(strings.ToLower(msg), "not found") {
			f.Remediation = []string{fmt.Sprintf("StorageClass %q does not exist: set spec.storageClassName of %s to an existing class (kubectl get storageclass).", sc, ref)}
		} else {
			f.Remediation = []string{fmt.Sprintf("Find why %s cannot bind: kubectl describe pvc -n %s %s; check the StorageClass %q and its provisioner.", ref, pvc.Namespace, pvc.Name, sc)}
		}
		out.Find(f)
		n++
	}
	for _, e := range eventsWithReason(ev, "FailedMount", "FailedAttachVolume", "FailedScheduling") {
		if e.Reason == "FailedScheduling" && !unboundPVC.MatchString(e.Message) {
			continue
		}
		var p *corev1.Pod
		for i := range ev.Pods {
			if ev.Pods[i].Name == e.InvolvedObject.Name {
				p = &ev.Pods[i]
			}
		}
		obj := ev.Workload
		if p != nil {
			obj = culprit(ev, p)
		}
		if n > 0 || obj.IsZero() {
			break // an unbound claim above already explains it
		}
		out.Find(report.Finding{
			Category: report.Volume, Object: obj, Score: 0.85,
			Title:    fmt.Sprintf("%s of pod %s: %s", e.Reason, e.InvolvedObject.Name, firstLine(e.Message)),
			Evidence: cite(ev, "events/"+e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name),
			Remediation: []string{fmt.Sprintf("Fix the volume of %s named in the event (claim, secret or configMap volume, node attach limits): kubectl describe pod -n %s %s",
				obj, e.InvolvedObject.Namespace, e.InvolvedObject.Name)},
		})
		n++
		break
	}
	if n == 0 {
		out.Check("%s bound, no mount failures", plural(len(ev.PVCs), "volume claim", "volume claims"))
	}
}

// admissionDenial is a pod creation the API server refused, as the
// controller reported it (a FailedCreate event, a ReplicaFailure
// condition).
type admissionDenial struct {
	Kind, Namespace, Name string // the controller that tried
	Message               string
	Key                   string // the evidence key to cite
}

// admissionDenials returns the refusals to create pods: from warning
// events and from the ReplicaSets' ReplicaFailure conditions, which
// outlive the events.
func admissionDenials(ev *Evidence) []admissionDenial {
	var out []admissionDenial
	for _, e := range ev.Events {
		if e.Reason == "FailedCreate" || quotaDenied.MatchString(e.Message) || limitDenied.MatchString(e.Message) || ratioDenied.MatchString(e.Message) {
			o := e.InvolvedObject
			out = append(out, admissionDenial{o.Kind, o.Namespace, o.Name, e.Message, "events/" + o.Namespace + "/" + o.Name})
		}
	}
	for _, rs := range ev.ReplicaSets {
		for _, c := range rs.Status.Conditions {
			if c.Type == "ReplicaFailure" && c.Status == corev1.ConditionTrue {
				out = append(out, admissionDenial{"ReplicaSet", rs.Namespace, rs.Name, c.Message, "rollout/" + rs.Namespace + "/" + ownerName(rs.OwnerReferences, rs.Name)})
			}
		}
	}
	return out
}

func ownerName(refs []metav1.OwnerReference, def string) string {
	for _, o := range refs {
		if o.Controller != nil && *o.Controller {
			return o.Name
		}
	}
	return def
}

// deniedWorkload names the workload whose controller was refused: a
// ReplicaSet's Deployment, else the controller itself.
func deniedWorkload(ev *Evidence, d admissionDenial) report.Ref {
	if d.Kind == "ReplicaSet" {
		for _, rs := range ev.ReplicaSets {
			if rs.Name == d.Name {
				if o := ownerName(rs.OwnerReferences, ""); o != "" {
					return report.Ref{Kind: "Deployment", Namespace: d.Namespace, Name: o}
				}
			}
		}
		if !ev.Workload.IsZero() && ev.Workload.Kind == "Deployment" && strings.HasPrefix(d.Name, ev.Workload.Name+"-") {
			return ev.Workload
		}
		if i := strings.LastIndex(d.Name, "-"); i > 0 {
			return report.Ref{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name[:i]}
		}
	}
	if d.Kind != "" {
		return report.Ref{Kind: d.Kind, Namespace: d.Namespace, Name: d.Name}
	}
	return ev.Workload
}

func analyzeQuota(ev *Evidence, out *Output) {
	for _, d := range admissionDenials(ev) {
		if m := quotaDenied.FindStringSubmatch(d.Message); m != nil {
			out.Find(quotaFinding(ev, d, m[1]))
			return
		}
		if f, ok := limitRangeFinding(ev, d); ok {
			out.Find(f)
			return
		}
	}
	for _, q := range ev.Quotas {
		for r, hard := range q.Status.Hard {
			used, ok := q.Status.Used[r]
			if ok && hard.Cmp(used) <= 0 && !hard.IsZero() && strings.Contains(strings.ToLower(ev.Alert.Name), "quota") {
				out.Find(report.Finding{
					Category: report.QuotaExceeded, Object: report.Ref{Kind: "ResourceQuota", Namespace: q.Namespace, Name: q.Name}, Score: 0.8,
					Title:       fmt.Sprintf("ResourceQuota %s is full: %s %s of %s", q.Name, r, used.String(), hard.String()),
					Evidence:    cite(ev, "quotas/"+q.Namespace),
					Remediation: []string{fmt.Sprintf("Raise %s in ResourceQuota %s/%s or free capacity in the namespace.", r, q.Namespace, q.Name)},
				})
				return
			}
		}
	}
	out.Check("no quota or limit range denials (%s, %s)", plural(len(ev.Quotas), "quota", "quotas"), plural(len(ev.LimitRanges), "limit range", "limit ranges"))
}

func quotaFinding(ev *Evidence, d admissionDenial, name string) report.Finding {
	ref := report.Ref{Kind: "ResourceQuota", Namespace: d.Namespace, Name: name}
	f := report.Finding{
		Category: report.QuotaExceeded, Object: ref, Score: 0.9,
		Title:    fmt.Sprintf("%s %s cannot create pods: %s", d.Kind, d.Name, firstLine(d.Message)),
		Evidence: cite(ev, d.Key, "quotas/"+d.Namespace),
	}
	for _, q := range ev.Quotas {
		if q.Name != name {
			continue
		}
		var parts []string
		for r, hard := range q.Status.Hard {
			used := q.Status.Used[r]
			parts = append(parts, fmt.Sprintf("%s %s/%s", r, used.String(), hard.String()))
		}
		sort.Strings(parts)
		f.Detail = "used/hard: " + strings.Join(parts, ", ")
	}
	f.Remediation = []string{fmt.Sprintf("Raise the limits of ResourceQuota %s in namespace %s, or lower the requests/replicas of the workloads there (kubectl describe resourcequota -n %s %s).", name, ref.Namespace, ref.Namespace, name)}
	return f
}

// limitRangeFinding explains a pod refused by a LimitRange: which bound of
// which LimitRange the pod template crosses. The LimitRange is named as
// the object to fix when it is known, else the workload whose template
// asks too much.
func limitRangeFinding(ev *Evidence, d admissionDenial) (report.Finding, bool) {
	var resource, scope, bound, allowed, asked string
	if m := limitDenied.FindStringSubmatch(d.Message); m != nil {
		bound, resource, scope, allowed, asked = strings.ToLower(m[1]), m[2], m[3], m[4], m[6]
	} else if m := ratioDenied.FindStringSubmatch(d.Message); m != nil {
		bound, resource, scope, allowed, asked = "maxLimitRequestRatio", m[1], m[2], m[3], m[4]
	} else {
		return report.Finding{}, false
	}
	workload := deniedWorkload(ev, d)
	obj := workload
	lr := matchLimitRange(ev, d.Namespace, scope, bound, resource, allowed)
	if lr != "" {
		obj = report.Ref{Kind: "LimitRange", Namespace: d.Namespace, Name: lr}
	}
	what := map[string]string{"maximum": "at most", "minimum": "at least", "maxLimitRequestRatio": "a limit/request ratio of at most"}[bound]
	f := report.Finding{
		Category: report.QuotaExceeded, Object: obj, Score: 0.9,
		Title: fmt.Sprintf("%s %s cannot create pods: the LimitRange%s allows %s %s %s per %s, the pod template asks %s",
			d.Kind, d.Name, strings.TrimSuffix(" "+lr, " "), what, allowed, resource, scope, asked),
		Detail:   "denied: " + firstLine(d.Message),
		Evidence: cite(ev, d.Key, "quotas/"+d.Namespace),
	}
	if lr == "" {
		f.Detail += fmt.Sprintf(" (%s in namespace %s)", plural(len(ev.LimitRanges), "limit range", "limit ranges"), d.Namespace)
	}
	f.Remediation = []string{
		fmt.Sprintf("Bring the %s %s of the containers of %s within %s (now %s), or, if the workload really needs it, raise the %s of LimitRange %s (kubectl describe limitrange -n %s).",
			resource, map[bool]string{true: "request", false: "limit"}[bound == "minimum"], workload, allowed, asked, bound, or(lr, "of the namespace"), d.Namespace),
	}
	if d.Kind == "ReplicaSet" {
		f.Remediation = append(f.Remediation, "The previous ReplicaSet keeps serving meanwhile; the rollout stays stuck until the new pods are admitted.")
	}
	return f, true
}

// matchLimitRange returns the LimitRange whose bound the message quotes:
// the one with that value for the resource and scope, else the only one of
// the namespace.
func matchLimitRange(ev *Evidence, ns, scope, bound, resource, allowed string) string {
	var names []string
	for _, lr := range ev.LimitRanges {
		if lr.Namespace != ns && lr.Namespace != "" {
			continue
		}
		names = append(names, lr.Name)
		for _, item := range lr.Spec.Limits {
			if !strings.EqualFold(string(item.Type), scope) {
				continue
			}
			var list corev1.ResourceList
			switch bound {
			case "maximum":
				list = item.Max
			case "minimum":
				list = item.Min
			default:
				list = item.MaxLimitRequestRatio
			}
			if q, ok := list[corev1.ResourceName(resource)]; ok {
				if want, err := apiresource.ParseQuantity(allowed); err == nil && q.Cmp(want) == 0 {
					return lr.Name
				}
			}
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return ""
}

func analyzeNodes(ev *Evidence, out *Output) {
	n := 0
	for _, node := range ev.Nodes {
		ref := report.Ref{Kind: "Node", Name: node.Name}
		for _, c := range node.Status.Conditions {
			bad := (c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue) ||
				(c.Type != corev1.NodeReady && c.Status == corev1.ConditionTrue && strings.HasSuffix(string(c.Type), "Pressure")) ||
				(c.Type == corev1.NodeNetworkUnavailable && c.Status == corev1.ConditionTrue)
			if !bad {
				continue
			}
			cat, score := report.NodeFailure, 0.85
			if c.Type == corev1.NodeDiskPressure {
				cat = report.DiskPressure
			}
			state := string(c.Status)
			if c.Type == corev1.NodeReady {
				state = "NotReady (" + state + ")"
			}
			f := report.Finding{
				Category: cat, Object: ref, Score: score,
				Title:    fmt.Sprintf("node %s: %s %s since %s: %s", node.Name, c.Type, state, c.LastTransitionTime.UTC().Format(time.RFC3339), c.Reason),
				Detail:   c.Message,
				Evidence: cite(ev, "node/"+node.Name),
			}
			affected := 0
			for i := range ev.Pods {
				if ev.Pods[i].Spec.NodeName == node.Name {
					affected++
				}
			}
			if affected > 0 {
				f.Detail = strings.TrimSpace(f.Detail + fmt.Sprintf(" %s of the target run on it.", plural(affected, "pod", "pods")))
			}
			switch c.Type {
			case corev1.NodeDiskPressure:
				f.Remediation = []string{fmt.Sprintf("Free disk space on node %s (images, logs, emptyDir volumes) or grow its disk; the kubelet evicts pods until the pressure ends.", node.Name)}
			case corev1.NodeMemoryPressure:
				f.Remediation = []string{fmt.Sprintf("Node %s is out of memory: find the largest consumers (kubectl top pods -A --sort-by=memory) and set limits, or add capacity.", node.Name)}
			default:
				f.Remediation = []string{
					fmt.Sprintf("Check the kubelet and the machine behind node %s (kubectl describe node %s; the kubelet's logs; the cloud console).", node.Name, node.Name),
					fmt.Sprintf("If it does not come back, drain it: kubectl drain %s --ignore-daemonsets --delete-emptydir-data", node.Name),
				}
			}
			out.Find(f)
			n++
			break
		}
	}
	// Evictions name the resource the node ran out of.
	for i := range ev.Pods {
		p := &ev.Pods[i]
		if p.Status.Reason != "Evicted" || n > 0 {
			continue
		}
		cat := report.NodeFailure
		if strings.Contains(p.Status.Message, "ephemeral-storage") || strings.Contains(strings.ToLower(p.Status.Message), "disk") {
			cat = report.DiskPressure
		}
		obj := report.Ref{Kind: "Node", Name: p.Spec.NodeName}
		if p.Spec.NodeName == "" {
			obj = culprit(ev, p)
		}
		out.Find(report.Finding{
			Category: cat, Object: obj, Score: 0.8,
			Title:       fmt.Sprintf("pod %s was evicted: %s", p.Name, firstLine(p.Status.Message)),
			Evidence:    cite(ev, podKey(p)),
			Remediation: []string{fmt.Sprintf("Relieve the pressure on node %s (free disk, set ephemeral-storage limits on the pods writing to it).", p.Spec.NodeName)},
		})
		n++
	}
	if n == 0 && len(ev.Nodes) > 0 {
		names := make([]string, 0, len(ev.Nodes))
		for _, nd := range ev.Nodes {
			names = append(names, nd.Name)
		}
		out.Check("%s Ready without pressure: %s", plural(len(ev.Nodes), "node", "nodes"), strings.Join(names, ", "))
	}
}

// jobLogLines returns the error lines of the logs of a Job's pods, found
// by name.
func jobLogLines(ev *Evidence, ns, job string, n int) []string {
	seen := map[string]bool{}
	var lines []string
	for _, l := range ev.Logs {
		if l.Namespace == ns && strings.HasPrefix(l.Pod, job+"-") && !seen[l.Pod] {
			seen[l.Pod] = true
			lines = append(lines, errorLines(ev, ns, l.Pod, "", n)...)
		}
	}
	return lines
}

func analyzeJobs(ev *Evidence, out *Output) {
	for _, j := range ev.Jobs {
		for _, c := range j.Status.Conditions {
			if c.Type != "Failed" || c.Status != corev1.ConditionTrue {
				continue
			}
			obj := report.Ref{Kind: "Job", Namespace: j.Namespace, Name: j.Name}
			for _, o := range j.OwnerReferences {
				if o.Kind == "CronJob" {
					obj = report.Ref{Kind: "CronJob", Namespace: j.Namespace, Name: o.Name}
				}
			}
			f := report.Finding{
				Category: report.JobFailure, Object: obj, Score: 0.88,
				Title:    fmt.Sprintf("Job %s failed: %s: %s", j.Name, c.Reason, c.Message),
				Evidence: cite(ev, "job/"+j.Namespace+"/"+j.Name),
			}
			var lines []string
			for i := range ev.Pods {
				for _, o := range ev.Pods[i].OwnerReferences {
					if o.Kind == "Job" && o.Name == j.Name {
						lines = append(lines, errorLines(ev, ev.Pods[i].Namespace, ev.Pods[i].Name, "", 3)...)
						f.Evidence = append(f.Evidence, cite(ev, podKey(&ev.Pods[i]), logsKey(&ev.Pods[i]))...)
					}
				}
			}
			if len(lines) == 0 {
				// The pods may be gone (ttlSecondsAfterFinished, history
				// limits) while their logs remain: a Job's pods are named
				// after it.
				lines = jobLogLines(ev, j.Namespace, j.Name, 3)
			}
			if len(lines) > 0 {
				f.Detail = "last error lines: " + strings.Join(dedupe(lines), " | ")
			}
			backoff := int32(6)
			if j.Spec.BackoffLimit != nil {
				backoff = *j.Spec.BackoffLimit
			}
			switch c.Reason {
			case "DeadlineExceeded":
				f.Remediation = []string{fmt.Sprintf("The run exceeded activeDeadlineSeconds: make it faster or raise spec.activeDeadlineSeconds of %s.", obj)}
			default:
				f.Remediation = []string{fmt.Sprintf("The pods failed %d times (backoffLimit %d): read their logs (kubectl logs -n %s job/%s) and fix the failing command or its inputs in %s.", j.Status.Failed, backoff, j.Namespace, j.Name, obj)}
			}
			out.Find(f)
			return
		}
	}
	if len(ev.Jobs) > 0 {
		out.Check("%s without a Failed condition", plural(len(ev.Jobs), "job", "jobs"))
	}
}
