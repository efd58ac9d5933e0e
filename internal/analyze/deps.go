package analyze

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// Scores of dependency findings. A dependency the target's failing log
// lines name is proven to matter; one only its configuration names (the
// logs are missing, or say "timed out" without a peer) is likely to.
const (
	depDownLogged     = 0.88
	depDownConfigured = 0.8
	depBlockedLogged  = 0.86
	depBlockedConfig  = 0.8
)

// analyzeDependencies follows the request path past the target: a
// dependency that is down (no ready endpoints, failing pods, scaled to
// zero) is the root cause and its workload the object to fix; a healthy
// one the target cannot reach behind a NetworkPolicy points at the policy.
func analyzeDependencies(ev *Evidence, out *Output) {
	for _, d := range ev.Dependencies {
		if d.Service.IsZero() && d.Workload.IsZero() {
			continue
		}
		logged := d.Source == "logs"
		if f, down := dependencyDown(ev, d, logged); down {
			out.Find(f)
			return
		}
		if np, why := blockingPolicy(ev, d); np != nil {
			ref := report.Ref{Kind: "NetworkPolicy", Namespace: np.Namespace, Name: np.Name}
			score := depBlockedConfig
			if logged || failingLines(ev) > 0 {
				score = depBlockedLogged
			}
			detail := fmt.Sprintf("NetworkPolicy %s/%s: %s", ref.Namespace, ref.Name, why)
			if d.Source != "" && d.Source != "logs" {
				detail += fmt.Sprintf(". %s is configured in %s", hostPort(d), d.Source)
			}
			if len(d.Errors) > 0 {
				detail += ". Errors in the logs: " + strings.Join(d.Errors, " | ")
			}
			out.Find(report.Finding{
				Category: report.NetworkPolicy, Object: ref, Score: score,
				Title: fmt.Sprintf("%s cannot reach %s although %s has %d ready endpoints: NetworkPolicy %s does not allow the traffic",
					targetName(ev), hostPort(d), depName(d), d.ReadyEndpoints, np.Name),
				Detail:   detail,
				Evidence: cite(ev, "netpol/"+np.Namespace, "dependency/"+d.Service.Namespace+"/"+d.Service.Name, "dependency/"+d.Workload.Namespace+"/"+d.Workload.Name),
				Remediation: []string{fmt.Sprintf("Allow the traffic from %s to %s in NetworkPolicy %s/%s (fix the rule's podSelector/namespaceSelector so it matches the client's labels, or add an egress rule for it), then verify with a connection test from the client pod.",
					targetName(ev), depName(d), ref.Namespace, ref.Name)},
			})
			return
		}
		if f, full := dependencyDiskFull(ev, d); full {
			out.Find(f)
			return
		}
	}
	if len(ev.Dependencies) > 0 {
		var names []string
		for _, d := range ev.Dependencies {
			names = append(names, fmt.Sprintf("%s (%d ready endpoints)", hostPort(d), d.ReadyEndpoints))
		}
		out.Check("dependencies on the request path are up and reachable: %s", strings.Join(names, ", "))
	}
}

// dependencyDown returns the finding for a dependency that cannot serve.
func dependencyDown(ev *Evidence, d Dependency, logged bool) (report.Finding, bool) {
	var bad []string
	for i := range d.Pods {
		if !podHealthy(&d.Pods[i]) {
			bad = append(bad, podState(&d.Pods[i]))
		}
	}
	scaledToZero := d.Replicas != nil && *d.Replicas == 0 && d.ReadyEndpoints == 0
	if d.ReadyEndpoints > 0 && (len(bad) == 0 || !logged) {
		// Still served; a few failing replicas of a dependency the logs do
		// not blame are not the cause.
		return report.Finding{}, false
	}
	obj := d.Workload
	if obj.IsZero() {
		obj = d.Service
	}
	score := depDownConfigured
	if logged {
		score = depDownLogged
	}
	if d.ReadyEndpoints > 0 {
		score -= 0.15 // some replicas still serve: a partial outage
	}
	var state string
	switch {
	case scaledToZero:
		state = fmt.Sprintf("%s is scaled to 0 replicas", obj)
	case len(d.Pods) == 0:
		state = "it has no pods"
	default:
		state = fmt.Sprintf("%d of %d pods are not ready", len(bad), len(d.Pods))
	}
	f := report.Finding{
		Category: report.DependencyFailure, Object: obj, Score: score,
		Title: fmt.Sprintf("%s fails because its dependency %s (%s) is down: %d ready endpoints, %s",
			targetName(ev), depName(d), hostPort(d), d.ReadyEndpoints, state),
		Evidence: cite(ev, "service/"+d.Service.Namespace+"/"+d.Service.Name, "dependency/"+d.Service.Namespace+"/"+d.Service.Name, "dependency/"+d.Workload.Namespace+"/"+d.Workload.Name),
	}
	var detail []string
	if len(bad) > 0 {
		detail = append(detail, "dependency pods: "+strings.Join(bad, "; "))
	}
	if len(d.PodErrors) > 0 {
		detail = append(detail, "dependency logs: "+strings.Join(d.PodErrors, " | "))
	}
	if len(d.Events) > 0 {
		detail = append(detail, "events of "+obj.String()+": "+strings.Join(d.Events, "; "))
	}
	if d.Source != "" && d.Source != "logs" {
		detail = append(detail, fmt.Sprintf("%s is configured in %s", hostPort(d), d.Source))
	}
	if len(d.Errors) > 0 {
		detail = append(detail, "errors in the logs of "+targetName(ev)+": "+strings.Join(d.Errors, " | "))
	}
	f.Detail = strings.Join(detail, ". ")
	kind := strings.ToLower(obj.Kind)
	switch {
	case scaledToZero:
		f.Remediation = []string{
			fmt.Sprintf("Scale %s back up: kubectl scale -n %s %s/%s --replicas=N (its Service %s has no endpoints; %s is only the symptom).", obj, obj.Namespace, kind, obj.Name, depName(d), targetName(ev)),
		}
	default:
		f.Remediation = []string{
			fmt.Sprintf("Fix %s first: %s is only the symptom (kubectl describe pods -n %s of %s; kubectl get endpointslices -n %s -l kubernetes.io/service-name=%s).", obj, targetName(ev), obj.Namespace, obj, obj.Namespace, depName(d)),
		}
		if len(bad) > 0 {
			f.Remediation = append(f.Remediation, "Dependency state: "+strings.Join(bad, "; "))
		}
	}
	return f, true
}

// callFailed matches log lines that report a failed call to a peer.
var callFailed = regexp.MustCompile(`(?i)(connection refused|refused|timed? ?out|timeout|no route to host|unreachable|connection reset|broken pipe|could not connect|couldn't connect|failed to connect|cannot connect|can't connect|connection attempt failed|connection is not available|econnrefused|etimedout|ehostunreach|dial tcp|upstream|service unavailable)`)

// failingLines counts the target's log lines that report a failed call.
func failingLines(ev *Evidence) int {
	n := 0
	for _, l := range ev.Logs {
		if callFailed.MatchString(l.Msg) {
			n++
		}
	}
	return n
}

func depName(d Dependency) string {
	if !d.Service.IsZero() {
		return d.Service.Name
	}
	return d.Workload.Name
}

func hostPort(d Dependency) string {
	if d.Port != "" && !strings.HasSuffix(d.Host, ":"+d.Port) {
		return d.Host + ":" + d.Port
	}
	return d.Host
}

// podState renders a pod's phase and the reason of its worst container.
func podState(p *corev1.Pod) string {
	s := fmt.Sprintf("%s %s", p.Name, p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			s += " " + c.State.Waiting.Reason
		case !c.Ready:
			s += " not ready"
		}
		if t := c.LastTerminationState.Terminated; t != nil {
			s += fmt.Sprintf(" (last exit %d %s)", t.ExitCode, t.Reason)
		}
		if c.RestartCount > 0 {
			s += fmt.Sprintf(", %d restarts", c.RestartCount)
		}
	}
	return s
}
