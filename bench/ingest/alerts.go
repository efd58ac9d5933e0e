package main

import (
	"hash/fnv"
	"sort"
	"strconv"
	"time"
)

// safeAlphabet is the alphabet Kubernetes uses for generated name suffixes
// (k8s.io/apimachinery/pkg/util/rand): no vowels, so the suffixes of the
// pod names below look like the ones controllers make.
const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// safeEncode writes n in base 27 over safeAlphabet with exactly width digits.
func safeEncode(n uint64, width int) string {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = safeAlphabet[n%uint64(len(safeAlphabet))]
		n /= uint64(len(safeAlphabet))
	}
	return string(b)
}

// podSuffix turns a unique counter into a random-looking 5-character pod
// suffix that starts with a letter: distinct counters (below 20*27^4)
// give distinct suffixes, because 7919 is prime to 20*27^4 = 2^2*5*3^12.
// Kubernetes' own suffixes are all digits about once in 850 pods
// ((7/27)^5), which can pass for a StatefulSet ordinal; digitSuffix makes
// those, and the storm mixes a few in (-storm-digit-pods).
func podSuffix(n uint64) string {
	const letters = "bcdfghjklmnpqrstvwxz"
	const rest = 27 * 27 * 27 * 27
	v := (n*7919 + 104729) % (uint64(len(letters)) * rest)
	return string(letters[v/rest]) + safeEncode(v%rest, 4)
}

// digitSuffix is a 5-character suffix of digits only, which Kubernetes'
// generator produces about once in 850 pods.
func digitSuffix(n uint64) string {
	const digits = "2456789"
	b := make([]byte, 5)
	for i := 4; i >= 0; i-- {
		b[i] = digits[n%7]
		n /= 7
	}
	return string(b)
}

// workload is a Deployment that alerts are about.
type workload struct {
	Namespace  string
	Deployment string
	Hash       string // pod-template-hash
	Container  string
}

// podName is the controller-style name <deployment>-<hash>-<rand>.
func (w workload) podName(n uint64) string {
	return w.Deployment + "-" + w.Hash + "-" + podSuffix(n)
}

// digitPodName is a pod name whose random suffix is all digits.
func (w workload) digitPodName(n uint64) string {
	return w.Deployment + "-" + w.Hash + "-" + digitSuffix(n)
}

var (
	namespaces = []string{"payments", "checkout", "search", "catalog", "identity", "orders", "shipping",
		"billing", "notifications", "recommendations", "ads", "media", "analytics", "gateway", "platform",
		"observability", "auth", "inventory", "pricing", "reviews"}
	services = []string{"api", "worker", "frontend", "backend", "cache-warmer", "consumer", "scheduler", "web"}
)

// makeWorkloads returns n workloads spread over nsCount namespaces, with
// stable names: the same n and nsCount always give the same set.
func makeWorkloads(n, nsCount int) []workload {
	if nsCount > len(namespaces) {
		nsCount = len(namespaces)
	}
	out := make([]workload, n)
	for i := range out {
		ns := namespaces[i%nsCount]
		svc := services[(i/nsCount)%len(services)]
		name := ns + "-" + svc
		if round := i / (nsCount * len(services)); round > 0 {
			name += "-" + strconv.Itoa(round+1)
		}
		h := fnv.New64a()
		h.Write([]byte(ns + "/" + name))
		out[i] = workload{Namespace: ns, Deployment: name, Hash: safeEncode(h.Sum64()%205891132094649, 10), Container: svc}
	}
	return out
}

// alertKind is an alert rule from kube-prometheus / the seed's rules.
type alertKind struct {
	Name     string
	Severity string
	Summary  string
	Runbook  string
}

var podAlerts = []alertKind{
	{"KubePodCrashLooping", "critical", "Pod is crash looping.", "kubepodcrashlooping"},
	{"KubePodNotReady", "warning", "Pod has been in a non-ready state for more than 15 minutes.", "kubepodnotready"},
	{"KubeContainerWaiting", "warning", "Pod container waiting longer than 1 hour", "kubecontainerwaiting"},
	{"KubePodOOMKilled", "critical", "Container was OOMKilled.", "kubepodoomkilled"},
	{"CPUThrottlingHigh", "warning", "Processes experience elevated CPU throttling.", "cputhrottlinghigh"},
}

// genAlert is one alert of a payload.
type genAlert struct {
	Kind     alertKind
	W        workload
	Pod      string
	Instance int
	StartsAt time.Time
}

func (a genAlert) labels() map[string]string {
	return map[string]string{
		"alertname":  a.Kind.Name,
		"severity":   a.Kind.Severity,
		"namespace":  a.W.Namespace,
		"pod":        a.Pod,
		"container":  a.W.Container,
		"job":        "kube-state-metrics",
		"instance":   "10.42." + strconv.Itoa(a.Instance%250) + "." + strconv.Itoa(a.Instance%200+10) + ":8080",
		"prometheus": "monitoring/vmagent-k8s",
	}
}

func (a genAlert) annotations() map[string]string {
	var d string
	switch a.Kind.Name {
	case "KubePodCrashLooping":
		d = "Pod " + a.W.Namespace + "/" + a.Pod + " (" + a.W.Container + ") is in waiting state (reason: \"CrashLoopBackOff\")."
	case "KubePodOOMKilled":
		d = "Container " + a.W.Container + " in pod " + a.W.Namespace + "/" + a.Pod + " has been OOMKilled 3 times in the last 10 minutes."
	default:
		d = a.Kind.Summary + " Pod " + a.W.Namespace + "/" + a.Pod + ", container " + a.W.Container + "."
	}
	return map[string]string{
		"summary":     a.Kind.Summary,
		"description": d,
		"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/" + a.Kind.Runbook,
	}
}

// fingerprint is the FNV-1a 64 of the sorted label set with 0xff separators:
// what Prometheus' LabelSet.Fingerprint and so Alertmanager compute.
func fingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	h := fnv.New64a()
	buf := make([]byte, 0, 256)
	for _, k := range names {
		buf = append(buf, k...)
		buf = append(buf, 0xff)
		buf = append(buf, labels[k]...)
		buf = append(buf, 0xff)
	}
	h.Write(buf)
	s := strconv.FormatUint(h.Sum64(), 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendObject appends a JSON object of string values with sorted keys.
func appendObject(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// payload renders an Alertmanager webhook payload (version 4) the way
// Alertmanager does for a group of firing alerts grouped by alertname and
// namespace. All alerts must share alertname and namespace.
func payload(receiver string, alerts []genAlert) []byte {
	b := make([]byte, 0, 1024+len(alerts)*900)
	first := alerts[0]
	groupLabels := map[string]string{"alertname": first.Kind.Name, "namespace": first.W.Namespace}
	// commonLabels: the labels all alerts share.
	common := first.labels()
	for _, a := range alerts[1:] {
		l := a.labels()
		for k, v := range common {
			if l[k] != v {
				delete(common, k)
			}
		}
	}
	b = append(b, `{"version":"4","groupKey":`...)
	b = appendJSONString(b, `{}/{severity=~"critical|warning"}:{alertname="`+first.Kind.Name+`", namespace="`+first.W.Namespace+`"}`)
	b = append(b, `,"truncatedAlerts":0,"status":"firing","receiver":`...)
	b = appendJSONString(b, receiver)
	b = append(b, `,"groupLabels":`...)
	b = appendObject(b, groupLabels)
	b = append(b, `,"commonLabels":`...)
	b = appendObject(b, common)
	b = append(b, `,"commonAnnotations":{"summary":`...)
	b = appendJSONString(b, first.Kind.Summary)
	b = append(b, `},"externalURL":"http://vmalertmanager-k8s.monitoring.svc:9093","alerts":[`...)
	for i, a := range alerts {
		if i > 0 {
			b = append(b, ',')
		}
		labels := a.labels()
		b = append(b, `{"status":"firing","labels":`...)
		b = appendObject(b, labels)
		b = append(b, `,"annotations":`...)
		b = appendObject(b, a.annotations())
		b = append(b, `,"startsAt":"`...)
		b = a.StartsAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","endsAt":"0001-01-01T00:00:00Z","generatorURL":`...)
		b = appendJSONString(b, "http://vmalert-k8s.monitoring.svc:8080/vmalert/alert?group_id=4806712461298727423&alert_id="+strconv.FormatUint(uint64(a.Instance)*2654435761, 10))
		b = append(b, `,"fingerprint":"`...)
		b = append(b, fingerprint(labels)...)
		b = append(b, `"}`...)
	}
	return append(b, `]}`...)
}
