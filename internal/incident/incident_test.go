package incident_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/incident"
)

// safeAlphabet is k8s.io/apimachinery/pkg/util/rand's alphabet, from which
// pod name suffixes and (SafeEncodeString of a decimal uint32)
// pod-template-hashes are drawn. Every suffix in the tests below is checked
// against it so that they are ones Kubernetes can generate.
const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func TestPodPrefix(t *testing.T) {
	f := func(pod, want string) {
		t.Helper()
		if got := incident.PodPrefix(pod); got != want {
			t.Errorf("PodPrefix(%q) = %q, want %q", pod, got, want)
		}
	}

	// Deployment: NAME-<pod-template-hash>-<5 random characters>.
	f("checkout-7d9f8b6c5d-x2k4p", "checkout")
	f("payment-api-5c6b7d8f9-bx4wz", "payment-api")
	f("coredns-5d78c9869d-7xk2p", "coredns")
	f("app-v2-7d9f8b6c5d-x2k4p", "app-v2")
	f("api-gateway-5896475648-zq7wx", "api-gateway") // a hash of safe digits only
	f("web-6d4cf56db6-2x9sk", "web")
	// The random suffix can be all digits too (7 of the 27 characters are),
	// about one pod in 800; it must not be taken for a StatefulSet ordinal.
	f("checkout-7d9f8b6c5d-24567", "checkout")
	f("payment-api-5c6b7d8f9-99999", "payment-api")

	// StatefulSet: NAME-<ordinal>.
	f("postgres-0", "postgres")
	f("redis-cluster-12", "redis-cluster")
	f("kafka-broker-2", "kafka-broker")
	f("es-data-hot-101", "es-data-hot")
	f("web-10000", "web") // 0, 1 and 3 are not in the alphabet: only an ordinal

	// DaemonSet and Job: NAME-<5 random characters>.
	f("node-exporter-x7k2p", "node-exporter")
	f("fluent-bit-9zk5q", "fluent-bit")
	f("kube-proxy-m8s4t", "kube-proxy")
	f("cilium-x7k2p", "cilium")
	f("db-migrate-6tq2v", "db-migrate")

	// CronJob: NAME-<scheduled time in minutes>-<5 random characters>.
	f("backup-28912345-qz5wm", "backup")
	f("report-gen-29512345-8bx4n", "report-gen")
	f("backup-28912345-45678", "backup")

	// Names without controller suffixes are left alone.
	f("my-worker", "my-worker")
	f("api", "api")
	f("web-server", "web-server")
	f("web-abcde", "web-abcde")   // five letters, but vowels
	f("web-x2k4", "web-x2k4")     // four characters
	f("web-x2k4pp", "web-x2k4pp") // six characters
	f("static-site-main", "static-site-main")
	f("ingress-nginx-controller", "ingress-nginx-controller")
	f("", "")
}

// TestPodPrefixSuffixesAreRealistic guards the test data above: a suffix
// outside the alphabet would test a name Kubernetes never generates.
func TestPodPrefixSuffixesAreRealistic(t *testing.T) {
	for _, s := range []string{
		"x2k4p", "bx4wz", "7xk2p", "zq7wx", "2x9sk", "24567", "99999", "x7k2p", "9zk5q", "m8s4t", "6tq2v", "qz5wm", "8bx4n", "45678",
		// pod-template-hashes: SafeEncodeString of a decimal string only
		// uses 4-9, b, c, d and f.
		"7d9f8b6c5d", "5c6b7d8f9", "5d78c9869d", "5896475648", "6d4cf56db6",
	} {
		if strings.Trim(s, safeAlphabet) != "" {
			t.Errorf("suffix %q has characters outside %q", s, safeAlphabet)
		}
	}
}

func TestWorkload(t *testing.T) {
	f := func(name string, labels map[string]string, want string) {
		t.Helper()
		if got := incident.Workload(labels); got != want {
			t.Errorf("%s: Workload(%v) = %q, want %q", name, labels, got, want)
		}
	}
	f("nothing", nil, "")
	f("no workload labels", map[string]string{"alertname": "Watchdog", "severity": "none"}, "")

	f("pod", map[string]string{"namespace": "shop", "pod": "checkout-7d9f8b6c5d-x2k4p"}, "checkout")
	f("statefulset pod", map[string]string{"namespace": "db", "pod": "postgres-0"}, "postgres")
	f("deployment label wins over pod", map[string]string{"namespace": "shop", "deployment": "checkout", "pod": "checkout-canary-6d4cf56db6-2x9sk"}, "checkout")
	f("deployment", map[string]string{"namespace": "shop", "deployment": "checkout", "job": "kube-state-metrics"}, "checkout")
	f("statefulset", map[string]string{"namespace": "db", "statefulset": "postgres", "job": "kube-state-metrics"}, "postgres")
	f("daemonset", map[string]string{"namespace": "monitoring", "daemonset": "node-exporter", "job": "kube-state-metrics"}, "node-exporter")
	f("cronjob before its job", map[string]string{"namespace": "ops", "cronjob": "backup", "job_name": "backup-28912345"}, "backup")
	f("job_name", map[string]string{"namespace": "ops", "job_name": "db-migrate", "job": "kube-state-metrics"}, "db-migrate")

	// "job" is the Prometheus scrape job, never a workload.
	f("job with namespace", map[string]string{"namespace": "ops", "job": "kubelet"}, "")
	f("cronjob run", map[string]string{"namespace": "ops", "job_name": "backup-28912345"}, "backup")
	f("pvc", map[string]string{"namespace": "db", "persistentvolumeclaim": "data-postgres-0", "job": "kubelet"}, "pvc/data-postgres-0")
	f("job without namespace", map[string]string{"job": "node-exporter", "instance": "10.0.1.5:9100"}, "")
	f("job without namespace, with node", map[string]string{"job": "node-exporter", "node": "worker-1"}, "node/worker-1")
	f("job with pod", map[string]string{"namespace": "shop", "job": "kubernetes-pods", "pod": "checkout-7d9f8b6c5d-x2k4p"}, "checkout")

	f("replicaset", map[string]string{"namespace": "shop", "replicaset": "checkout-7d9f8b6c5d"}, "checkout")
	f("replicaset with dashes", map[string]string{"namespace": "shop", "replicaset": "payment-api-5c6b7d8f9"}, "payment-api")
	// kube-state-metrics puts its scrape job and the object's namespace on
	// every kube_replicaset_* series; the replicaset is still the workload.
	f("replicaset from kube-state-metrics", map[string]string{
		"alertname": "KubeReplicaSetUnavailable", "namespace": "shop", "replicaset": "checkout-7d9f8b6c5d",
		"job": "kube-state-metrics", "service": "kube-state-metrics", "instance": "10.244.0.9:8443",
	}, "checkout")

	f("node", map[string]string{"alertname": "KubeNodeNotReady", "node": "ip-10-0-1-5.ec2.internal"}, "node/ip-10-0-1-5.ec2.internal")
	f("pod wins over node", map[string]string{"namespace": "shop", "pod": "checkout-7d9f8b6c5d-x2k4p", "node": "worker-1"}, "checkout")
	f("empty values are absent", map[string]string{"deployment": "", "pod": "", "node": ""}, "")
}

var defaultGroupBy = []string{"alertname", "namespace", "workload"}

func TestKey(t *testing.T) {
	f := func(name string, groupBy []string, labels map[string]string, want string) {
		t.Helper()
		if got := incident.Key(groupBy, labels); got != want {
			t.Errorf("%s: Key(%q, %v) = %q, want %q", name, groupBy, labels, got, want)
		}
	}
	crashLoop := map[string]string{
		"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "checkout-7d9f8b6c5d-x2k4p",
		"container": "checkout", "job": "kube-state-metrics", "severity": "warning",
	}
	f("default group_by", defaultGroupBy, crashLoop, "alertname=KubePodCrashLooping,namespace=shop,workload=checkout")
	f("group_by order is kept", []string{"workload", "namespace", "alertname"}, crashLoop, "workload=checkout,namespace=shop,alertname=KubePodCrashLooping")
	f("missing labels are empty", defaultGroupBy, map[string]string{"alertname": "Watchdog"}, "alertname=Watchdog,namespace=,workload=")
	f("node", defaultGroupBy, map[string]string{"alertname": "KubeNodeNotReady", "node": "worker-1"}, "alertname=KubeNodeNotReady,namespace=,workload=node/worker-1")
	f("a workload label is used as is", defaultGroupBy, map[string]string{"alertname": "A", "namespace": "shop", "workload": "cart", "deployment": "checkout"}, "alertname=A,namespace=shop,workload=cart")
	f("without workload in group_by", []string{"alertname", "pod"}, crashLoop, "alertname=KubePodCrashLooping,pod=checkout-7d9f8b6c5d-x2k4p")
	f("empty group_by", nil, crashLoop, "")

	f("comma escaped", []string{"alertname"}, map[string]string{"alertname": "a,b"}, `alertname=a\,b`)
	f("equals escaped", []string{"alertname"}, map[string]string{"alertname": "x=y"}, `alertname=x\=y`)
	f("backslash escaped", []string{"alertname"}, map[string]string{"alertname": `C:\temp`}, `alertname=C:\\temp`)
	f("all escaped", []string{"alertname", "namespace"}, map[string]string{"alertname": `a\,=b`, "namespace": "n"}, `alertname=a\\\,\=b,namespace=n`)
}

func TestKeyGrouping(t *testing.T) {
	key := func(labels map[string]string) string { return incident.Key(defaultGroupBy, labels) }
	pod := func(ns, name string, extra ...string) map[string]string {
		l := map[string]string{"alertname": "KubePodCrashLooping", "namespace": ns, "pod": name, "severity": "warning"}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	same := func(name string, a, b map[string]string) {
		t.Helper()
		if ka, kb := key(a), key(b); ka != kb {
			t.Errorf("%s: keys differ: %q and %q", name, ka, kb)
		}
	}
	differ := func(name string, a, b map[string]string) {
		t.Helper()
		if ka, kb := key(a), key(b); ka == kb {
			t.Errorf("%s: both keys are %q", name, ka)
		}
	}

	same("labels not in group_by", pod("shop", "checkout-7d9f8b6c5d-x2k4p", "container", "app", "instance", "10.244.1.17:8080"),
		pod("shop", "checkout-7d9f8b6c5d-x2k4p", "container", "istio-proxy", "severity", "critical"))
	same("two pods of one deployment", pod("shop", "checkout-7d9f8b6c5d-x2k4p"), pod("shop", "checkout-7d9f8b6c5d-q8zmw"))
	same("pods of two ReplicaSets of one deployment (rollout)", pod("shop", "checkout-7d9f8b6c5d-x2k4p"), pod("shop", "checkout-5c6b7d8f9-bx4wz"))
	same("pod with an all-digit suffix", pod("shop", "checkout-7d9f8b6c5d-x2k4p"), pod("shop", "checkout-7d9f8b6c5d-24567"))
	same("two replicas of a StatefulSet", pod("db", "postgres-0"), pod("db", "postgres-1"))
	same("pod and deployment label", pod("shop", "checkout-7d9f8b6c5d-x2k4p"),
		map[string]string{"alertname": "KubePodCrashLooping", "namespace": "shop", "deployment": "checkout"})

	differ("two deployments", pod("shop", "checkout-7d9f8b6c5d-x2k4p"), pod("shop", "payment-api-5c6b7d8f9-bx4wz"))
	differ("one deployment in two namespaces", pod("shop", "checkout-7d9f8b6c5d-x2k4p"), pod("shop-staging", "checkout-7d9f8b6c5d-x2k4p"))
	differ("two alertnames", pod("shop", "checkout-7d9f8b6c5d-x2k4p"), pod("shop", "checkout-7d9f8b6c5d-x2k4p", "alertname", "KubePodNotReady"))
	// Without escaping both would be "alertname=A,namespace=B,namespace=,workload=".
	differ("separators in values", map[string]string{"alertname": "A,namespace=B"}, map[string]string{"alertname": "A", "namespace": "B,namespace="})
}

func TestPriority(t *testing.T) {
	f := func(severity string, want int) {
		t.Helper()
		if got := incident.Priority(severity); got != want {
			t.Errorf("Priority(%q) = %d, want %d", severity, got, want)
		}
	}
	f("critical", 0)
	f("CRITICAL", 0)
	f("Critical", 0)
	f("page", 0)
	f("emergency", 0)
	f("warning", 1)
	f("Warning", 1)
	f("warn", 1)
	f("info", 2)
	f("none", 2)
	f("", 2)
	f("high", 2)

	// The order the queue runs investigations in.
	sevs := []string{"info", "warning", "", "critical", "warn", "page", "none"}
	slices.SortStableFunc(sevs, func(a, b string) int { return incident.Priority(a) - incident.Priority(b) })
	want := []string{"critical", "page", "warning", "warn", "info", "", "none"}
	if diff := cmp.Diff(want, sevs); diff != "" {
		t.Errorf("severities by priority (-want +got):\n%s", diff)
	}
}
