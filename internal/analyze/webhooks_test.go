package analyze

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// reportText is the text scoring reads: the summary and the findings.
func reportText(ev *Evidence, rc report.RootCause, out *Output) string {
	text := Summary(ev, rc, out)
	for _, f := range out.Findings {
		text += " " + f.Title + " " + f.Detail + " " + strings.Join(f.Remediation, " ")
	}
	return strings.ToLower(text)
}

func TestWebhookFailures(t *testing.T) {
	const (
		expired = `Error creating: Internal error occurred: failed calling webhook "defaults.platform.example.com": failed to call webhook: Post "https://defaults-webhook.platform.svc:443/mutate?timeout=10s": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-25T11:40:00Z is after 2026-11-25T11:02:09Z`
		refused = `Error creating: Internal error occurred: failed calling webhook "defaults.platform.example.com": failed to call webhook: Post "https://defaults-webhook.platform.svc:443/mutate?timeout=10s": dial tcp 10.96.4.7:443: connect: connection refused`
		noEPs   = `Error creating: Internal error occurred: failed calling webhook "defaults.platform.example.com": failed to call webhook: Post "https://defaults-webhook.platform.svc:443/mutate?timeout=10s": no endpoints available for service "defaults-webhook"`
		gone    = `Error creating: Internal error occurred: failed calling webhook "defaults.platform.example.com": failed to call webhook: Post "https://defaults-webhook.platform.svc:443/mutate?timeout=10s": service "defaults-webhook" not found`
	)
	webhookDeploy := report.Ref{Kind: "Deployment", Namespace: "platform", Name: "defaults-webhook"}
	config := report.Ref{Kind: "MutatingWebhookConfiguration", Name: "defaults-webhook"}
	// The webhook's pods mount a TLS Secret and, as a trap, a Secret of
	// credentials whose name says nothing about certificates.
	webhookPod := func(mutate ...func(*corev1.Pod)) corev1.Pod {
		return pod("platform", "defaults-webhook-6d5f8b7c9-9gbbt", "defaults-webhook-6d5f8b7c9",
			append([]func(*corev1.Pod){secretVolume("api-creds", "defaults-webhook-creds", "/etc/creds"), secretVolume("certs", "defaults-webhook-serving", "/certs")}, mutate...)...)
	}
	webhook := func(mutate ...func(*Webhook)) Webhook {
		two := int32(2)
		w := Webhook{Name: "defaults.platform.example.com", Config: config, FailurePolicy: "Fail",
			Service: report.Ref{Kind: "Service", Namespace: "platform", Name: "defaults-webhook"}, ServiceFound: true, ReadyEndpoints: 2,
			Pods: []corev1.Pod{webhookPod()}, Workload: webhookDeploy, Replicas: &two,
			Logs: []string{"http: TLS handshake error from 10.0.0.1:41822: remote error: tls: bad certificate"}}
		for _, m := range mutate {
			m(&w)
		}
		return w
	}
	// A Deployment short of replicas, its ReplicaSet refused by the API server.
	blocked := func(msg string, hooks ...Webhook) func() *Evidence {
		return func() *Evidence {
			ev := base("KubeDeploymentReplicasMismatch")
			ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d")}
			ev.Events = []corev1.Event{event("ReplicaSet", "shop", "checkout-7d9f8b6c5d", "FailedCreate", msg)}
			ev.Webhooks = hooks
			return ev
		}
	}
	cases := []struct {
		name     string
		ev       func() *Evidence
		category string
		object   report.Ref
		mentions []string
	}{
		{"expired serving certificate blames the Secret the webhook pods serve",
			blocked(expired, webhook()), report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: "platform", Name: "defaults-webhook-serving"},
			[]string{"defaults.platform.example.com", "2026-11-25T11:02:09Z", "failurePolicy Fail", "MutatingWebhookConfiguration defaults-webhook", "caBundle", "bad certificate"}},

		{"the webhook named by the message, not another one",
			blocked(expired,
				webhook(func(w *Webhook) {
					w.Name, w.Config.Name = "other.platform.example.com", "other-webhook"
					w.Pods = []corev1.Pod{pod("platform", "other-webhook-5c4b3a2d1-abcde", "other-webhook-5c4b3a2d1", secretVolume("tls", "other-webhook-tls", "/tls"))}
				}),
				webhook()),
			report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: "platform", Name: "defaults-webhook-serving"}, nil},

		{"expired certificate without pods to trace blames the configuration",
			blocked(expired, webhook(func(w *Webhook) { w.Pods = nil })), report.CertificateExpiry, config, nil},

		{"a ReplicaFailure condition alone is enough",
			func() *Evidence {
				ev := blocked(expired, webhook())()
				ev.Events = nil
				ev.Deployment = deployment(1, 2, appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue,
					Reason: "FailedCreate", Message: strings.TrimPrefix(expired, "Error creating: ")})
				return ev
			}, report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: "platform", Name: "defaults-webhook-serving"}, nil},

		{"configuration unreadable: the Service in the message",
			blocked(expired), report.CertificateExpiry, report.Ref{Kind: "Service", Namespace: "platform", Name: "defaults-webhook"}, []string{"defaults.platform.example.com"}},

		{"connection refused by crash-looping webhook pods blames their workload",
			blocked(refused, webhook(func(w *Webhook) {
				w.ReadyEndpoints = 0
				w.Pods = []corev1.Pod{webhookPod(crashing(1, "Error"))}
			})),
			report.DependencyFailure, webhookDeploy, []string{"connection refused", "CrashLoopBackOff", "failurePolicy: Ignore"}},

		{"no endpoints: the webhook scaled to zero",
			blocked(noEPs, webhook(func(w *Webhook) { w.ReadyEndpoints, w.Pods = 0, nil })),
			report.DependencyFailure, webhookDeploy, []string{"no ready endpoints", "none exist"}},

		{"Service gone: the leftover configuration",
			blocked(gone, webhook(func(w *Webhook) { w.ServiceFound, w.Pods, w.Workload, w.ReadyEndpoints = false, nil, report.Ref{}, 0 })),
			report.DependencyFailure, config, []string{"does not exist"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := c.ev()
			out := Run(ev)
			rc := Decide(ev, out)
			if rc.Category != c.category || rc.Object != c.object {
				t.Fatalf("root cause = %s %v, want %s %v\nfindings: %+v", rc.Category, rc.Object, c.category, c.object, out.Findings)
			}
			text := reportText(ev, rc, out)
			for _, m := range c.mentions {
				if !strings.Contains(text, strings.ToLower(m)) {
					t.Errorf("report text lacks %q:\n%s", m, text)
				}
			}
		})
	}
}

// Refusals that are not a webhook failing to answer are not blamed on a
// webhook: a policy webhook that answers "denied", a quota.
func TestWebhookNonCauses(t *testing.T) {
	f := func(msg string) {
		t.Helper()
		ev := base("KubeDeploymentReplicasMismatch")
		ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d")}
		ev.Events = []corev1.Event{event("ReplicaSet", "shop", "checkout-7d9f8b6c5d", "FailedCreate", msg)}
		for _, x := range Run(ev).Findings {
			if x.Analyzer == "webhooks" {
				t.Errorf("%s: webhook finding %+v", msg, x)
			}
		}
		if names := WebhookNames(ev); len(names) != 0 {
			t.Errorf("%s: webhook names %v", msg, names)
		}
	}
	f(`Error creating: admission webhook "validate.kyverno.svc-fail" denied the request: resource Pod/shop/checkout was blocked due to the following policies: require-requests-limits`)
	f(`Error creating: pods "checkout-7d9f8b6c5d-abcde" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=4, limited: cpu=4`)
	f(`Error creating: pods "checkout-7d9f8b6c5d-abcde" is forbidden: error looking up service account shop/checkout: serviceaccount "checkout" not found`)

	// Another Deployment of the namespace blocked by a webhook does not
	// explain the alert's crash loop.
	ev := base("KubePodCrashLooping")
	ev.Pods = []corev1.Pod{pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", crashing(1, "Error"))}
	ev.Events = []corev1.Event{event("ReplicaSet", "shop", "search-5c8d7f6b9", "FailedCreate",
		`Error creating: Internal error occurred: failed calling webhook "defaults.platform.example.com": failed to call webhook: Post "https://defaults-webhook.platform.svc:443/mutate?timeout=10s": x509: certificate has expired or is not yet valid`)}
	out := Run(ev)
	if rc := Decide(ev, out); rc.Category != report.CrashLoop || rc.Object != checkout() {
		t.Errorf("root cause = %s %v, want crash-loop of checkout\nfindings: %+v", rc.Category, rc.Object, out.Findings)
	}
}

func TestWebhookNamesFromEvidence(t *testing.T) {
	ev := base("KubeStatefulSetReplicasMismatch")
	ev.Events = []corev1.Event{
		event("StatefulSet", "shop", "redis", "FailedCreate", `create Pod redis-0 in StatefulSet redis failed error: Internal error occurred: failed calling webhook "sidecar-injector.istio.io": failed to call webhook: Post "https://istiod.istio-system.svc:443/inject?timeout=10s": context deadline exceeded`),
		event("Job", "shop", "export-1", "FailedCreate", `Error creating: Internal error occurred: failed calling webhook "sidecar-injector.istio.io": failed to call webhook: context deadline exceeded`),
		event("Pod", "shop", "x", "BackOff", `failed calling webhook "not-a-refusal"`),
	}
	got := WebhookNames(ev)
	if len(got) != 1 || got[0] != "sidecar-injector.istio.io" {
		t.Errorf("WebhookNames = %v", got)
	}
}
