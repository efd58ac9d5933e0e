package analyze

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sleuth-sre/sleuth/internal/report"
)

func TestListenPorts(t *testing.T) {
	f := func(line string, want int) {
		t.Helper()
		ev := &Evidence{Logs: []LogLine{{Namespace: "shop", Pod: "p", Container: "app", Msg: line}}}
		got := listenPorts(ev, "shop", "p", "app")
		switch {
		case want == 0 && len(got) != 0:
			t.Errorf("%q: ports %+v, want none", line, got)
		case want != 0 && (len(got) != 1 || got[0].Port != want):
			t.Errorf("%q: ports %+v, want %d", line, got, want)
		}
	}
	f("      Now listening on: http://[::]:8080", 8080)
	f("listening on :8080", 8080)
	f(`{"level":"info","msg":"listening","addr":":9000"}`, 9000)
	f("INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)", 8000)
	f("Tomcat started on port(s): 8081 (http) with context path ''", 8081)
	f("Tomcat initialized with port 8080 (http)", 8080)
	f("Server started on port 3000", 3000)
	f("[2026-11-25 11:02:09] Listening at: http://0.0.0.0:5000 (1)", 5000)
	f("INFO  [main] io.quarkus - started in 3.214s. Listening on: http://0.0.0.0:8081", 8081)
	f("2026/11/25 11:02:09 connected to postgres:5432", 0)
	f("GET /healthz 200 12:03:04", 0)
	f("listening for events", 0)
	f("listening since 11:42:19", 0)
	f("server started at 2026-11-25T11:42:19Z", 0)
	f("listening on 10.0.0.5:8443", 8443)
}

func TestProbePortQuoted(t *testing.T) {
	withProbe := func(p *corev1.Pod) {
		notReady(p)
		c := &p.Spec.Containers[0]
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz/ready", Port: intstr.FromString("http")}}, PeriodSeconds: 5, FailureThreshold: 3}
	}
	const refused = `Readiness probe failed: Get "http://10.0.0.7:80/healthz/ready": dial tcp 10.0.0.7:80: connect: connection refused`
	evidence := func(lines map[string]string) *Evidence {
		ev := base("KubeDeploymentRolloutStuck")
		ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", withProbe), pod("shop", "checkout-6c5d8f7b9d-7dhkx", "checkout-6c5d8f7b9d")}
		e := event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "Unhealthy", refused)
		ev.Events = []corev1.Event{e}
		for pod, msg := range lines {
			ev.Logs = append(ev.Logs, LogLine{Namespace: "shop", Pod: pod, Container: "app", Msg: msg})
		}
		return ev
	}
	text := func(ev *Evidence) string {
		out := Run(ev)
		rc := Decide(ev, out)
		if rc.Category != report.ProbeFailure || rc.Object != checkout() {
			t.Fatalf("root cause = %s %v, want probe-failure %v\nfindings: %+v", rc.Category, rc.Object, checkout(), out.Findings)
		}
		return reportText(ev, rc, out)
	}

	got := text(evidence(map[string]string{"checkout-7d9f8b6c5d-x2k4p": "      Now listening on: http://[::]:8080"}))
	for _, m := range []string{"listens on port 8080", "now listening on: http://[::]:8080", "port http = containerPort 80", "point the containerport and the probes of container app at 8080"} {
		if !strings.Contains(got, strings.ToLower(m)) {
			t.Errorf("report lacks %q:\n%s", m, got)
		}
	}
	// The app listens where the probe checks: no port to blame.
	if got := text(evidence(map[string]string{"checkout-7d9f8b6c5d-x2k4p": "listening on :80"})); strings.Contains(got, "listens on port") {
		t.Errorf("port blamed although the app listens on the probe's port:\n%s", got)
	}
	// Another pod's log (the previous revision's) says nothing about this one.
	if got := text(evidence(map[string]string{"checkout-6c5d8f7b9d-7dhkx": "Now listening on: http://[::]:8080"})); strings.Contains(got, "listens on port") {
		t.Errorf("port read from another pod's log:\n%s", got)
	}
}

func TestImagePlatformQuoted(t *testing.T) {
	const image = "registry.example.com/app:1.0"
	evidence := func(msg string, arch string) *Evidence {
		ev := base("KubePodNotReady")
		ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", waiting("ImagePullBackOff", `Back-off pulling image "`+image+`"`))}
		ev.Events = []corev1.Event{event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "Failed", msg)}
		if arch != "" {
			ev.Nodes = []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "worker-1", Labels: map[string]string{"kubernetes.io/arch": arch, "kubernetes.io/os": "linux"}}}}
		}
		return ev
	}
	f := func(ev *Evidence, want []string, not []string) {
		t.Helper()
		out := Run(ev)
		rc := Decide(ev, out)
		if rc.Category != report.ImagePull || rc.Object != checkout() {
			t.Fatalf("root cause = %s %v, want image-pull %v", rc.Category, rc.Object, checkout())
		}
		got := reportText(ev, rc, out)
		for _, m := range want {
			if !strings.Contains(got, strings.ToLower(m)) {
				t.Errorf("report lacks %q:\n%s", m, got)
			}
		}
		for _, m := range not {
			if strings.Contains(got, strings.ToLower(m)) {
				t.Errorf("report has %q:\n%s", m, got)
			}
		}
	}
	// The platform named by the error.
	f(evidence(`Failed to pull image "`+image+`": rpc error: code = Unknown desc = no matching manifest for linux/arm64 in the manifest list entries`, ""),
		[]string{"no variant for platform linux/arm64 (named by the error)", "buildx"}, []string{"does not exist"})
	// containerd does not name it: the node's architecture does.
	f(evidence(`Failed to pull image "`+image+`": rpc error: code = NotFound desc = failed to pull and unpack image "`+image+`": no match for platform in manifest: not found`, "arm64"),
		[]string{"no variant for platform linux/arm64 (node worker-1)"}, []string{"does not exist"})
	// A missing tag is not a platform problem, whatever the nodes run.
	f(evidence(`Failed to pull image "`+image+`": rpc error: code = NotFound desc = failed to pull and unpack image "`+image+`": not found`, "arm64"),
		[]string{"does not exist"}, []string{"platform", "arm64"})
}
