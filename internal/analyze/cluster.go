package analyze

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

var (
	insufficient = regexp.MustCompile(`(?i)insufficient (\w[\w./-]*)`)
	quotaDenied  = regexp.MustCompile(`(?i)exceeded quota: ([\w.-]+)`)
	unboundPVC   = regexp.MustCompile(`(?i)(unbound immediate persistentvolumeclaims|persistentvolumeclaim "([^"]+)" not found|pod has unbound)`)
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
		switch {
		case insufficient.MatchString(msg):
			res := insufficient.FindStringSubmatch(msg)[1]
			f.Remediation = []string{fmt.Sprintf("No node has enough free %s for the pod's requests: lower the requests of %s (%s) or add capacity to the cluster.", res, obj, f.Detail)}
		case strings.Contains(strings.ToLower(msg), "taint"):
			f.Remediation = []string{fmt.Sprintf("The nodes carry taints the pod does not tolerate: add a toleration to %s or remove the taint from the intended nodes.", obj)}
		case strings.Contains(strings.ToLower(msg), "affinity") || strings.Contains(strings.ToLower(msg), "selector"):
			f.Remediation = []string{fmt.Sprintf("No node matches the nodeSelector/affinity of %s: fix the selector or label the intended nodes.", obj)}
		default:
			f.Remediation = []string{fmt.Sprintf("Make the pods of %s schedulable: %s", obj, firstLine(msg))}
		}
		out.Find(f)
	}
	if len(seen) == 0 {
		out.Check("no pod of %s is stuck in scheduling", targetName(ev))
	}
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

func analyzeQuota(ev *Evidence, out *Output) {
	for _, e := range ev.Events {
		m := quotaDenied.FindStringSubmatch(e.Message)
		if m == nil {
			continue
		}
		ref := report.Ref{Kind: "ResourceQuota", Namespace: e.InvolvedObject.Namespace, Name: m[1]}
		f := report.Finding{
			Category: report.QuotaExceeded, Object: ref, Score: 0.9,
			Title:    fmt.Sprintf("%s %s cannot create pods: %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, firstLine(e.Message)),
			Evidence: cite(ev, "events/"+e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name, "quotas/"+e.InvolvedObject.Namespace),
		}
		for _, q := range ev.Quotas {
			if q.Name != m[1] {
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
		f.Remediation = []string{fmt.Sprintf("Raise the limits of ResourceQuota %s in namespace %s, or lower the requests/replicas of the workloads there (kubectl describe resourcequota -n %s %s).", m[1], ref.Namespace, ref.Namespace, m[1])}
		out.Find(f)
		return
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
	out.Check("no quota denials (%s)", plural(len(ev.Quotas), "quota", "quotas"))
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
