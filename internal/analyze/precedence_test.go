package analyze

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// probedCrash is a crash-looping pod whose readiness probe also fails, with
// a healthy look-alike pod of another workload beside it.
func probedCrash(exit int32, reason string, logs []string, events ...corev1.Event) *Evidence {
	ev := base("KubePodCrashLooping")
	p := pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(exit, reason), func(p *corev1.Pod) {
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt(8080)}}}
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(8080)}}}
	})
	ev.Pods = []corev1.Pod{p}
	ev.Events = append([]corev1.Event{
		event("Pod", "shop", p.Name, "Unhealthy", `Readiness probe failed: Get "http://10.0.0.5:8080/readyz": dial tcp 10.0.0.5:8080: connect: connection refused`),
		event("Pod", "shop", p.Name, "BackOff", "Back-off restarting failed container app"),
		// A healthy look-alike elsewhere: its events are not about this pod.
		event("Pod", "shop", "checkout-rules-5d7b6c9f8c-abcde", "Unhealthy", "Readiness probe failed: timeout"),
	}, events...)
	for i, l := range logs {
		ev.Logs = append(ev.Logs, LogLine{Time: now.Add(time.Duration(i-len(logs)) * time.Second), Namespace: "shop", Pod: p.Name, Container: "app", Msg: l, Previous: true})
	}
	return ev
}

func TestCrashBeatsProbeWhenTheAppDiesByItself(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   *Evidence
		want string
	}{
		{"go fatal error", probedCrash(2, "Error", []string{`{"level":"info","msg":"order routed"}`, "fatal error: concurrent map writes", "goroutine 48242 [running]:"}), report.CrashLoop},
		{"java exception at startup", probedCrash(1, "Error", []string{"Starting Application", `Exception in thread "main" java.lang.IllegalStateException: no datasource`}), report.CrashLoop},
		{"go panic", probedCrash(2, "Error", []string{"panic: runtime error: invalid memory address or nil pointer dereference"}), report.CrashLoop},
		// Negatives: killed by the kubelet for its liveness probe.
		{"liveness kill, exit 137", probedCrash(137, "Error", []string{"GET /healthz took 12s"},
			event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "Killing", "Container app failed liveness probe, will be restarted")), report.ProbeFailure},
		{"liveness kill events, fatal line but killed", probedCrash(2, "Error", []string{"fatal error: concurrent map writes"},
			event("Pod", "shop", "checkout-7d9f8b6c5d-x2k4p", "Killing", "Container app failed liveness probe, will be restarted")), report.ProbeFailure},
		{"exit 143 without an app error", probedCrash(143, "Error", []string{"shutting down on SIGTERM"}), report.ProbeFailure},
		{"non-zero exit but no fatal line", probedCrash(1, "Error", []string{"listening on :8080", "request error: upstream timeout"}), report.ProbeFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := Run(tc.ev)
			rc := Decide(tc.ev, out)
			if rc.Category != tc.want || rc.Object != checkout() {
				t.Fatalf("got %s %s, want %s %s; findings %+v", rc.Category, rc.Object, tc.want, checkout(), out.Findings)
			}
			if tc.want == report.CrashLoop {
				text := Summary(tc.ev, rc, out)
				for _, f := range out.Findings {
					text += " " + f.Detail
				}
				if !strings.Contains(text, "exits on its own") {
					t.Errorf("the report does not say the container exits on its own: %s", text)
				}
			}
		})
	}
}

func TestIdentityRoleQuoted(t *testing.T) {
	mk := func(log string, withRole bool) *Evidence {
		ev := base("KubeJobFailed")
		p := pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(1, "Error"), func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "reports"
			if withRole {
				p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AWS_ROLE_ARN", Value: "arn:aws:iam::111122223333:role/reports-staging"}}
			}
		})
		ev.Pods = []corev1.Pod{p}
		ev.Logs = []LogLine{{Time: now.Add(-time.Minute), Namespace: "shop", Pod: p.Name, Container: "app", Msg: log}}
		return ev
	}
	text := func(ev *Evidence) string {
		out := Run(ev)
		s := Summary(ev, Decide(ev, out), out)
		for _, f := range out.Findings {
			s += " " + f.Detail + " " + strings.Join(f.Remediation, " ")
		}
		return s
	}
	denied := "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity"
	if s := text(mk(denied, true)); !strings.Contains(s, "reports-staging") {
		t.Errorf("role from AWS_ROLE_ARN not quoted: %s", s)
	}
	assumed := "AccessDenied: User: arn:aws:sts::111122223333:assumed-role/reports-readonly/botocore-session-1 is not authorized to perform: s3:PutObject"
	if s := text(mk(assumed, false)); !strings.Contains(s, "reports-readonly") {
		t.Errorf("assumed role from the error not quoted: %s", s)
	}
	// Negative: the role is configured but nothing is denied: no quote.
	if s := text(mk("panic: nil map", true)); strings.Contains(s, "reports-staging") {
		t.Errorf("role quoted without an identity error: %s", s)
	}
}
