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

// Webhook is an admission webhook that a refusal to create pods names,
// with what serves it: its configuration, its Service, the Service's pods
// and their workload, and the Secrets those pods mount (by name only).
type Webhook struct {
	// Name is the webhook's name as the API server quotes it
	// (failed calling webhook "NAME").
	Name string
	// Config is the MutatingWebhookConfiguration or
	// ValidatingWebhookConfiguration holding it; zero when not found.
	Config        report.Ref
	FailurePolicy string
	// Service is the webhook's clientConfig.service; URL its
	// clientConfig.url when it has no Service.
	Service report.Ref
	URL     string
	// ServiceFound is false when the Service does not exist.
	ServiceFound bool
	// ReadyEndpoints counts the Service's ready endpoints (the ready pods
	// when no EndpointSlice is published).
	ReadyEndpoints int
	Pods           []corev1.Pod
	// Workload owns the Service's pods; Replicas is its desired count.
	Workload report.Ref
	Replicas *int32
	// CAInjectedFrom is cert-manager's cert-manager.io/inject-ca-from
	// annotation of the configuration ("namespace/certificate").
	CAInjectedFrom string
	// Logs are error lines of the webhook's pods.
	Logs []string
}

var (
	// webhookCalled is the API server's message when it cannot get an
	// answer from an admission webhook.
	webhookCalled = regexp.MustCompile(`failed calling webhook "([^"]+)"`)
	// webhookURL is the address the API server posted to.
	webhookURL = regexp.MustCompile(`Post "?https://([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.[a-z0-9.-]+)?(?::\d+)?[^"\s]*`)
	// webhookCertExpired, webhookCertUntrusted and webhookCertName are TLS
	// failures: the certificate the webhook serves is expired, signed by
	// a CA other than the configuration's caBundle, or issued for another
	// name.
	webhookCertExpired   = regexp.MustCompile(`(?i)x509: certificate has expired or is not yet valid|certificate has expired`)
	webhookCertUntrusted = regexp.MustCompile(`(?i)x509: certificate signed by unknown authority|certificate verify failed`)
	webhookCertName      = regexp.MustCompile(`(?i)x509: certificate is valid for [^,]+, not \S+`)
	// webhookDown are failures to reach the webhook at all.
	webhookDown = regexp.MustCompile(`(?i)(connection refused|no endpoints available for service|service "[^"]+" not found|context deadline exceeded|i/o timeout|Client\.Timeout exceeded|no route to host|connection reset by peer)|\bEOF\b`)
	// x509Times is Go's "current time X is after Y" of an expired certificate.
	x509Times = regexp.MustCompile(`current time (\S+) is (after|before) (\S+?)["'\s]*$`)
)

// WebhookNames returns the admission webhooks that refusals to create
// pods name: in FailedCreate events and ReplicaFailure conditions of the
// workload's controllers.
func WebhookNames(ev *Evidence) []string {
	var names []string
	for _, f := range webhookFailures(ev) {
		if !contains(names, f.webhook) {
			names = append(names, f.webhook)
		}
	}
	return names
}

type webhookFailure struct {
	admissionDenial
	webhook string
}

// webhookFailures are the refusals to create pods because a webhook could
// not be called. A Deployment's own ReplicaFailure condition counts too:
// it outlives the ReplicaSet's events.
func webhookFailures(ev *Evidence) []webhookFailure {
	denials := admissionDenials(ev)
	if d := ev.Deployment; d != nil {
		for _, c := range d.Status.Conditions {
			if c.Type == "ReplicaFailure" && c.Status == corev1.ConditionTrue {
				denials = append(denials, admissionDenial{"Deployment", d.Namespace, d.Name, c.Message, "rollout/" + d.Namespace + "/" + d.Name})
			}
		}
	}
	var out []webhookFailure
	for _, d := range denials {
		if m := webhookCalled.FindStringSubmatch(d.Message); m != nil {
			out = append(out, webhookFailure{d, m[1]})
		}
	}
	return out
}

// analyzeWebhooks explains pods that cannot be created because the API
// server cannot call an admission webhook: its serving certificate
// expired or is not trusted (certificate-expiry: the Secret the webhook's
// pods serve, else the webhook configuration), or nothing answers at its
// Service (dependency-failure: the webhook's workload).
func analyzeWebhooks(ev *Evidence, out *Output) {
	failures := webhookFailures(ev)
	if len(failures) == 0 {
		return
	}
	f, mine := failures[0], false
	// The workload the alert is about first.
	for _, x := range failures {
		if blocksWorkload(ev, deniedWorkload(ev, x.admissionDenial)) {
			f, mine = x, true
			break
		}
	}
	var wh *Webhook
	for i := range ev.Webhooks {
		if ev.Webhooks[i].Name == f.webhook {
			wh = &ev.Webhooks[i]
		}
	}
	if wh == nil {
		wh = &Webhook{Name: f.webhook}
		if m := webhookURL.FindStringSubmatch(f.Message); m != nil {
			wh.Service = report.Ref{Kind: "Service", Namespace: m[2], Name: m[1]}
		}
	}
	msg := f.Message
	kind := "admission webhook"
	if wh.Config.Kind != "" {
		kind = strings.ToLower(strings.TrimSuffix(wh.Config.Kind, "WebhookConfiguration")) + " webhook"
	}
	blocked := deniedWorkload(ev, f.admissionDenial)
	finding := report.Finding{
		Detail: "The API server: " + clipText(strings.TrimPrefix(msg, "Error creating: "), 400),
	}
	var facts []string
	if !wh.Config.IsZero() {
		facts = append(facts, fmt.Sprintf("%s %s holds webhook %q with failurePolicy %s", wh.Config.Kind, wh.Config.Name, wh.Name, or(wh.FailurePolicy, "Fail")))
	}
	if !wh.Service.IsZero() {
		s := fmt.Sprintf("it is served by Service %s/%s", wh.Service.Namespace, wh.Service.Name)
		if wh.Config.IsZero() || wh.ServiceFound {
			s += fmt.Sprintf(" (%s ready", plural(wh.ReadyEndpoints, "endpoint", "endpoints"))
			if !wh.Workload.IsZero() {
				s += ", pods of " + wh.Workload.String()
				if wh.Replicas != nil {
					s += fmt.Sprintf(" with %d desired", *wh.Replicas)
				}
			}
			s += ")"
		} else {
			s += ", which does not exist"
		}
		facts = append(facts, s)
	} else if wh.URL != "" {
		facts = append(facts, "it is called at "+wh.URL)
	}
	others := map[string]bool{}
	for _, x := range failures {
		if x.webhook == wh.Name {
			if w := deniedWorkload(ev, x.admissionDenial); w != blocked {
				others[w.String()] = true
			}
		}
	}
	if len(others) > 0 {
		facts = append(facts, "also blocked: "+strings.Join(sortedSet(others), ", "))
	}
	lower := strings.ToLower(msg)
	switch {
	case webhookCertExpired.MatchString(msg) || webhookCertUntrusted.MatchString(msg) || webhookCertName.MatchString(msg):
		what := "is not trusted (signed by a CA other than the configuration's caBundle)"
		switch {
		case webhookCertExpired.MatchString(msg):
			what = "has expired or is not yet valid"
			if m := x509Times.FindStringSubmatch(msg); m != nil {
				if t, err := time.Parse(time.RFC3339, m[3]); err == nil && m[2] == "after" {
					what = fmt.Sprintf("expired at %s (notAfter)", t.UTC().Format(time.RFC3339))
					if !ev.Now.IsZero() {
						what += fmt.Sprintf(", %s ago", humanDuration(ev.Now.Sub(t)))
					}
				} else {
					what += " (" + m[0] + ")"
				}
			}
		case webhookCertName.MatchString(msg):
			what = "names other hosts: " + webhookCertName.FindString(msg)
		}
		finding.Category, finding.Score = report.CertificateExpiry, 0.93
		finding.Title = fmt.Sprintf("%s %s cannot create pods: the API server rejects the serving certificate of %s %q, which %s", f.Kind, f.Name, kind, wh.Name, what)
		obj, via := wh.Config, ""
		if secrets := podTLSSecrets(wh.Pods); len(secrets) > 0 {
			obj, via = secrets[0].ref, secrets[0].via
			facts = append(facts, fmt.Sprintf("the webhook's pods serve the certificate of Secret %s/%s (%s)", obj.Namespace, obj.Name, via))
		}
		if wh.CAInjectedFrom != "" {
			facts = append(facts, "cert-manager injects its caBundle from Certificate "+wh.CAInjectedFrom)
		}
		if obj.IsZero() {
			obj = wh.Service
		}
		if obj.IsZero() {
			obj = blocked
			finding.Score = 0.8
		}
		finding.Object = obj
		finding.Remediation = append(certRemediation(obj),
			webhookCARemediation(wh),
			webhookUnblock(wh))
	case webhookDown.MatchString(msg):
		finding.Category, finding.Score = report.DependencyFailure, 0.9
		why := "nothing answers"
		switch {
		case strings.Contains(lower, "no endpoints available"):
			why = "its Service has no ready endpoints"
		case strings.Contains(lower, "connection refused"):
			why = "the connection is refused"
		case strings.Contains(lower, "not found"):
			why = "its Service does not exist"
		case strings.Contains(lower, "deadline") || strings.Contains(lower, "timeout"):
			why = "it does not answer in time"
		}
		finding.Title = fmt.Sprintf("%s %s cannot create pods: the API server cannot call %s %q: %s", f.Kind, f.Name, kind, wh.Name, why)
		obj := wh.Workload
		switch {
		case !wh.Config.IsZero() && !wh.Service.IsZero() && !wh.ServiceFound:
			// The webhook's backend was removed and its configuration left behind.
			obj = wh.Config
			finding.Remediation = []string{fmt.Sprintf("Service %s/%s of webhook %q does not exist: reinstall the webhook's backend, or delete the leftover %s %s if the webhook was removed on purpose.", wh.Service.Namespace, wh.Service.Name, wh.Name, wh.Config.Kind, wh.Config.Name)}
		case !obj.IsZero():
			bad := unreadyPods(wh.Pods)
			if bad != "" {
				facts = append(facts, "webhook pods: "+bad)
			}
			finding.Remediation = []string{fmt.Sprintf("Bring the webhook's pods back: %s (kubectl get pods -n %s; kubectl describe %s -n %s %s).", obj, obj.Namespace, strings.ToLower(obj.Kind), obj.Namespace, obj.Name)}
		default:
			obj = wh.Service
			if obj.IsZero() {
				obj, finding.Score = blocked, 0.75
			}
			finding.Remediation = []string{fmt.Sprintf("Find why webhook %q does not answer: the pods behind %s, their logs, and NetworkPolicies between the API server and them.", wh.Name, obj)}
		}
		finding.Object = obj
		finding.Remediation = append(finding.Remediation, webhookUnblock(wh))
	default:
		return // an answer the analyzers do not know; the message is in the events
	}
	if len(wh.Logs) > 0 {
		facts = append(facts, "webhook log: "+strings.Join(wh.Logs, " | "))
	}
	if len(facts) > 0 {
		finding.Detail += "; " + strings.Join(facts, "; ")
	}
	finding.Evidence = cite(ev, f.Key, "webhook/"+wh.Name, "service/"+wh.Service.Namespace+"/"+wh.Service.Name)
	if !mine && !ev.Workload.IsZero() && ev.Workload.Kind != "Namespace" {
		// Another workload of the namespace is blocked: worth knowing,
		// but not what the alert is about.
		finding.Score = 0.45
	}
	out.Find(finding)
}

// blocksWorkload reports whether a refused controller is the alert's
// workload: itself, or a Job of its CronJob.
func blocksWorkload(ev *Evidence, w report.Ref) bool {
	if w == ev.Workload || w == ev.Target {
		return true
	}
	return ev.Workload.Kind == "CronJob" && w.Kind == "Job" && w.Namespace == ev.Workload.Namespace && strings.HasPrefix(w.Name, ev.Workload.Name+"-")
}

func webhookCARemediation(wh *Webhook) string {
	cfg := "the webhook configuration"
	if !wh.Config.IsZero() {
		cfg = wh.Config.Kind + " " + wh.Config.Name
	}
	if wh.CAInjectedFrom != "" {
		return fmt.Sprintf("cert-manager injects the caBundle of %s from Certificate %s: renew it (cmctl renew) and check it is Ready.", cfg, wh.CAInjectedFrom)
	}
	return fmt.Sprintf("Put the CA that signs the new certificate into webhooks[].clientConfig.caBundle of %s, and have the certificate managed (cert-manager with the cert-manager.io/inject-ca-from annotation) so it renews before it expires.", cfg)
}

// webhookUnblock is the stop-gap while the webhook is fixed.
func webhookUnblock(wh *Webhook) string {
	s := fmt.Sprintf("Until %q answers, no pod it intercepts can be created", wh.Name)
	if strings.EqualFold(wh.FailurePolicy, "Ignore") {
		return s + "."
	}
	if !wh.Config.IsZero() {
		return s + fmt.Sprintf(" (failurePolicy Fail): if pods must start now, set failurePolicy: Ignore on it in %s %s, and restore it after the fix.", wh.Config.Kind, wh.Config.Name)
	}
	return s + ": if pods must start now, set failurePolicy: Ignore on it, and restore it after the fix."
}

// unreadyPods renders the pods that are not ready, "" when all are.
func unreadyPods(pods []corev1.Pod) string {
	if len(pods) == 0 {
		return "none exist"
	}
	var bad []string
	for i := range pods {
		if !podHealthy(&pods[i]) {
			state := string(pods[i].Status.Phase)
			for _, s := range pods[i].Status.ContainerStatuses {
				if s.State.Waiting != nil {
					state = s.State.Waiting.Reason
				}
			}
			bad = append(bad, pods[i].Name+" "+state)
		}
	}
	return strings.Join(bad, ", ")
}

func clipText(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
