// Package incident provides how alerts are grouped into incidents: the
// incident key of an alert and the workload an alert is about, guessed from
// its labels before the investigator resolves the real owner.
package incident

import "strings"

// WorkloadLabel is the pseudo-label that group_by uses for the workload.
const WorkloadLabel = "workload"

// workloadLabels are the labels kube-state-metrics and common rules put on
// alerts about a controller, in order of preference. The "job" label is not
// one of them: on nearly every series it is the Prometheus scrape job
// (kube-state-metrics, kubelet), not a Kubernetes Job; those are "job_name".
var workloadLabels = []string{"deployment", "statefulset", "daemonset", "cronjob", "job_name", "replicaset"}

// Workload returns the workload an alert is about, as "name" for workloads,
// "pvc/NAME" for volume claims and "node/NAME" for nodes, or "" when the
// labels name none. A pod name is reduced to the prefix its controller gave
// it, a CronJob's Job name to the CronJob's.
func Workload(labels map[string]string) string {
	for _, l := range workloadLabels {
		v := labels[l]
		switch {
		case v == "":
			continue
		case l == "replicaset":
			return PodPrefix(v + "-xxxxx")
		case l == "job_name":
			return cronJobName(v)
		}
		return v
	}
	if p := labels["pod"]; p != "" {
		return PodPrefix(p)
	}
	if c := labels["persistentvolumeclaim"]; c != "" {
		return "pvc/" + c
	}
	if n := labels["node"]; n != "" {
		return "node/" + n
	}
	return ""
}

// cronJobName strips the scheduled-time suffix (minutes since the epoch)
// a CronJob gives its Jobs, so that every run of it is one workload.
func cronJobName(job string) string {
	i := strings.LastIndexByte(job, '-')
	if i > 0 && len(job)-i-1 >= 8 && isDigits(job[i+1:]) {
		return job[:i]
	}
	return job
}

// PodPrefix strips the suffixes Kubernetes controllers append to pod names:
// "-<hash>-<rand>" for Deployments, "-<rand>" for DaemonSets and Jobs,
// "-<schedule>-<rand>" for CronJobs and "-<ordinal>" for StatefulSets. A name
// without such suffixes is returned as is.
func PodPrefix(pod string) string {
	parts := strings.Split(pod, "-")
	if len(parts) < 2 {
		return pod
	}
	last := parts[len(parts)-1]
	// The random suffix is 5 characters of rand.String's alphabet, which has
	// no vowels, so that real words rarely look like one. It is all digits
	// for about one pod in 800, so it is tried before the StatefulSet
	// ordinal; a 5-digit ordinal of those digits is stripped alike.
	if len(last) != 5 || !isSafeEncoded(last) {
		if isDigits(last) {
			return strings.Join(parts[:len(parts)-1], "-") // StatefulSet ordinal
		}
		return pod
	}
	parts = parts[:len(parts)-1]
	if len(parts) >= 2 {
		hash := parts[len(parts)-1]
		// pod-template-hash: a SafeEncodeString of a 32-bit hash (up to 10
		// characters); a CronJob's job suffix is the scheduled time in minutes.
		if (len(hash) >= 6 && len(hash) <= 10 && isSafeEncoded(hash)) || (len(hash) >= 8 && isDigits(hash)) {
			parts = parts[:len(parts)-1]
		}
	}
	return strings.Join(parts, "-")
}

// safeAlphabet is k8s.io/apimachinery/pkg/util/rand's alphabet.
const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func isSafeEncoded(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune(safeAlphabet, c) {
			return false
		}
	}
	return s != ""
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Key returns the incident key of an alert: the group_by labels with their
// values, in the order given, as "name=value" pairs joined by commas. Labels
// an alert lacks contribute an empty value, so alerts that differ only in a
// label not in group_by share a key.
func Key(groupBy []string, labels map[string]string) string {
	var b strings.Builder
	for i, l := range groupBy {
		if i > 0 {
			b.WriteByte(',')
		}
		v := labels[l]
		if l == WorkloadLabel && labels[WorkloadLabel] == "" {
			v = Workload(labels)
		}
		b.WriteString(l)
		b.WriteByte('=')
		b.WriteString(escape(v))
	}
	return b.String()
}

func escape(v string) string {
	if !strings.ContainsAny(v, ",=\\") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `=`, `\=`)
	return r.Replace(v)
}

// Priority orders investigations: critical before warning before the rest.
func Priority(severity string) int {
	switch strings.ToLower(severity) {
	case "critical", "page", "emergency":
		return 0
	case "warning", "warn":
		return 1
	default:
		return 2
	}
}
