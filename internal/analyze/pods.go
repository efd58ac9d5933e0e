package analyze

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// analyzeOOM finds containers killed for exceeding their memory limit,
// from the container status, the OOMKilling node events and the
// last-terminated-reason metric, and quotes the limit and the working set.
func analyzeOOM(ev *Evidence, out *Output) {
	found := map[string]bool{}
	for i := range ev.Pods {
		p := &ev.Pods[i]
		for _, c := range statuses(p) {
			reason, exit := "", int32(0)
			var when string
			if t := c.Status.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
				reason, exit, when = t.Reason, t.ExitCode, t.FinishedAt.UTC().Format("15:04:05Z")
			} else if t := c.Status.State.Terminated; t != nil && t.Reason == "OOMKilled" {
				reason, exit, when = t.Reason, t.ExitCode, t.FinishedAt.UTC().Format("15:04:05Z")
			}
			if reason == "" {
				continue
			}
			obj := culprit(ev, p)
			if found[obj.String()+c.Status.Name] {
				continue
			}
			found[obj.String()+c.Status.Name] = true
			out.Find(oomFinding(ev, p, c, obj, fmt.Sprintf("container %s of pod %s was OOMKilled (exit code %d) at %s after %s",
				c.Status.Name, p.Name, exit, when, plural(int(c.Status.RestartCount), "restart", "restarts"))))
		}
	}
	if len(found) > 0 {
		return
	}
	// The metric survives pod deletion: kube-state-metrics keeps the reason.
	for _, s := range ev.Metrics["last_terminated_reason"] {
		if s.Labels["reason"] != "OOMKilled" {
			continue
		}
		if v, ok := s.Last(); !ok || v == 0 {
			continue
		}
		var pod *corev1.Pod
		for i := range ev.Pods {
			if ev.Pods[i].Name == s.Labels["pod"] {
				pod = &ev.Pods[i]
			}
		}
		obj := ev.Workload
		if pod != nil {
			obj = culprit(ev, pod)
		}
		if obj.IsZero() || found[obj.String()] {
			continue
		}
		found[obj.String()] = true
		f := report.Finding{
			Category: report.OOMKilled, Object: obj, Score: 0.85,
			Title:    fmt.Sprintf("container %s of pod %s was last terminated as OOMKilled (kube-state-metrics)", s.Labels["container"], s.Labels["pod"]),
			Evidence: cite(ev, "metric/last_terminated_reason"),
		}
		f.Remediation = []string{fmt.Sprintf("Raise the memory limit of container %s in %s, or reduce its memory use.", s.Labels["container"], obj)}
		out.Find(f)
	}
	if len(found) == 0 {
		out.Check("no container of %s was OOMKilled (%s checked)", targetName(ev), plural(len(ev.Pods), "pod", "pods"))
	}
}

func oomFinding(ev *Evidence, p *corev1.Pod, c containerState, obj report.Ref, title string) report.Finding {
	f := report.Finding{
		Category: report.OOMKilled, Object: obj, Score: 0.9, Title: title,
		Evidence: cite(ev, podKey(p), "metric/"+MetricMemoryWorkingSet, "metric/"+MetricMemoryLimit),
	}
	var detail []string
	limit := ""
	if c.Spec != nil {
		if q, ok := c.Spec.Resources.Limits[corev1.ResourceMemory]; ok {
			limit = q.String()
			detail = append(detail, "memory limit "+limit)
		}
		if q, ok := c.Spec.Resources.Requests[corev1.ResourceMemory]; ok {
			detail = append(detail, "request "+q.String())
		}
	}
	if ws, ok := maxOf(seriesFor(ev, MetricMemoryWorkingSet, p.Name, c.Status.Name)); ok {
		detail = append(detail, "peak working set before the kill "+bytesHuman(ws))
		if lim, ok := maxOf(seriesFor(ev, MetricMemoryLimit, p.Name, c.Status.Name)); ok && lim > 0 {
			detail = append(detail, fmt.Sprintf("%s of the limit", pct(ws/lim)))
			if limit == "" {
				limit = bytesHuman(lim)
			}
		}
	}
	if len(detail) > 0 {
		f.Detail = strings.Join(detail, "; ") + "."
	}
	if limit != "" {
		f.Remediation = append(f.Remediation, fmt.Sprintf("Raise the memory limit of container %s in %s above the current %s (the working set reaches it), or find what grew the memory use (heap size, caches, a leak) if it should fit.", c.Status.Name, obj, limit))
	} else {
		f.Remediation = append(f.Remediation, fmt.Sprintf("Container %s of %s has no memory limit and was killed by the node's OOM killer: set requests and limits that fit its real use, and check the node's memory pressure.", c.Status.Name, obj))
	}
	f.Remediation = append(f.Remediation, fmt.Sprintf("Check the usage: kubectl top pod -n %s %s --containers", p.Namespace, p.Name))
	return f
}

func targetName(ev *Evidence) string {
	if !ev.Workload.IsZero() {
		return ev.Workload.String()
	}
	if !ev.Target.IsZero() {
		return ev.Target.String()
	}
	return "the target"
}

var imageReasons = map[string]bool{"ImagePullBackOff": true, "ErrImagePull": true, "InvalidImageName": true, "ErrImageNeverPull": true, "RegistryUnavailable": true}

func analyzeImagePull(ev *Evidence, out *Output) {
	seen := map[string]bool{}
	for i := range ev.Pods {
		p := &ev.Pods[i]
		for _, c := range statuses(p) {
			w := c.Status.State.Waiting
			if w == nil || !imageReasons[w.Reason] {
				continue
			}
			obj := culprit(ev, p)
			if seen[obj.String()] {
				continue
			}
			seen[obj.String()] = true
			image := c.Status.Image
			if c.Spec != nil {
				image = c.Spec.Image
			}
			msg := w.Message
			for _, e := range events(ev, "Pod", p.Namespace, p.Name) {
				if e.Reason == "Failed" && strings.Contains(e.Message, "pull") {
					msg = e.Message
				}
			}
			f := report.Finding{
				Category: report.ImagePull, Object: obj, Score: 0.92,
				Title:    fmt.Sprintf("container %s of pod %s cannot pull image %s (%s)", c.Status.Name, p.Name, image, w.Reason),
				Detail:   msg,
				Evidence: cite(ev, podKey(p), "events/"+p.Namespace+"/"+p.Name),
			}
			lower := strings.ToLower(msg)
			platform, where, wrongPlatform := imagePlatform(ev, p, msg)
			if wrongPlatform && platform != "" {
				f.Detail = strings.TrimSuffix(f.Detail, ".") + fmt.Sprintf(". The image has no variant for platform %s (%s)", platform, where)
			}
			switch {
			case wrongPlatform:
				f.Remediation = []string{fmt.Sprintf("Image %s is not built for %s: publish it for that platform (a multi-arch manifest list: docker buildx build --platform linux/amd64,linux/arm64 ...), or run %s on nodes of a platform the image has (nodeSelector kubernetes.io/arch).",
					image, or(platform, "the node's platform"), obj)}
			case strings.Contains(lower, "unauthorized") || strings.Contains(lower, "authentication") || strings.Contains(lower, "denied"):
				f.Remediation = []string{fmt.Sprintf("The registry refuses the credentials: check the imagePullSecrets of %s and that the secret is valid for the registry of %s.", obj, image)}
			case strings.Contains(lower, "not found") || strings.Contains(lower, "manifest unknown") || w.Reason == "InvalidImageName":
				f.Remediation = []string{fmt.Sprintf("The image %s does not exist: fix the image name or tag in %s (compare with the previous revision: kubectl rollout history -n %s %s).", image, obj, obj.Namespace, strings.ToLower(obj.Kind)+"/"+obj.Name)}
			default:
				f.Remediation = []string{fmt.Sprintf("Check that image %s exists and that the registry is reachable from the nodes; then fix the image reference in %s.", image, obj)}
			}
			out.Find(f)
		}
	}
	if len(seen) == 0 {
		out.Check("all images of %s were pulled", targetName(ev))
	}
}

var (
	missingRef = regexp.MustCompile(`(?i)(configmap|secret) "([^"]+)" not found`)
	missingKey = regexp.MustCompile(`(?i)couldn't find key (\S+) in (ConfigMap|Secret) ([\w.-]+)/([\w.-]+)`)
)

func analyzeConfig(ev *Evidence, out *Output) {
	seen := map[string]bool{}
	for i := range ev.Pods {
		p := &ev.Pods[i]
		for _, c := range statuses(p) {
			w := c.Status.State.Waiting
			if w == nil || (w.Reason != "CreateContainerConfigError" && w.Reason != "CreateContainerError" && w.Reason != "RunContainerError") {
				continue
			}
			obj := culprit(ev, p)
			if seen[obj.String()] {
				continue
			}
			seen[obj.String()] = true
			msg := w.Message
			for _, e := range events(ev, "Pod", p.Namespace, p.Name) {
				if e.Reason == "Failed" && (missingRef.MatchString(e.Message) || missingKey.MatchString(e.Message)) {
					msg = e.Message
				}
			}
			f := report.Finding{
				Category: report.ConfigError, Object: obj, Score: 0.92,
				Title:    fmt.Sprintf("container %s of pod %s cannot start: %s", c.Status.Name, p.Name, w.Reason),
				Detail:   msg,
				Evidence: cite(ev, podKey(p), "events/"+p.Namespace+"/"+p.Name),
			}
			if m := missingKey.FindStringSubmatch(msg); m != nil {
				f.Remediation = []string{fmt.Sprintf("Add key %s to %s %s/%s, or fix the key reference in %s.", m[1], m[2], m[3], m[4], obj)}
			} else if m := missingRef.FindStringSubmatch(msg); m != nil {
				kind := "ConfigMap"
				if strings.EqualFold(m[1], "secret") {
					kind = "Secret"
				}
				f.Remediation = []string{fmt.Sprintf("%s %q does not exist in namespace %s: create it, or fix the reference in %s (envFrom, env valueFrom or volumes).", kind, m[2], p.Namespace, obj)}
			} else {
				f.Remediation = []string{fmt.Sprintf("Fix the container configuration of %s: %s", obj, msg)}
			}
			out.Find(f)
		}
	}
	if len(seen) == 0 {
		out.Check("no container of %s is blocked by missing configuration", targetName(ev))
	}
}

// crashLines are log patterns that show why a process exited.
var crashLines = regexp.MustCompile(`(?i)(panic|fatal|exception|error|failed|cannot|could not|unable|refused|traceback|segmentation fault|exit(ed)? with|no such file|permission denied|invalid|missing|undefined|not found|timeout|timed out)`)

func analyzeCrashLoop(ev *Evidence, out *Output) {
	seen := map[string]bool{}
	for i := range ev.Pods {
		p := &ev.Pods[i]
		for _, c := range statuses(p) {
			w := c.Status.State.Waiting
			t := c.Status.LastTerminationState.Terminated
			crashing := w != nil && w.Reason == "CrashLoopBackOff"
			if !crashing && !(t != nil && t.ExitCode != 0 && c.Status.RestartCount >= 3) {
				continue
			}
			if !crashing && settled(ev, c.Status) {
				continue // it crashed, but runs and is ready since: the recovery analyzer says so
			}
			if t != nil && t.Reason == "OOMKilled" {
				continue // the OOM analyzer explains it
			}
			obj := culprit(ev, p)
			if seen[obj.String()] {
				continue
			}
			seen[obj.String()] = true
			title := fmt.Sprintf("container %s of pod %s is crash looping (%s)", c.Status.Name, p.Name, plural(int(c.Status.RestartCount), "restart", "restarts"))
			var detail []string
			if t != nil {
				d := fmt.Sprintf("last exit code %d", t.ExitCode)
				if t.ExitCode > 128 {
					d += fmt.Sprintf(" (signal %d)", t.ExitCode-128)
				}
				if t.Reason != "" {
					d += ", reason " + t.Reason
				}
				if t.Message != "" {
					d += ": " + firstLine(t.Message)
				}
				detail = append(detail, d)
			}
			lines := errorLines(ev, p.Namespace, p.Name, c.Status.Name, 5)
			if len(lines) > 0 {
				detail = append(detail, "last error lines: "+strings.Join(lines, " | "))
			}
			var b envBlame
			var blamed bool
			if c.Spec != nil {
				if t != nil && t.Message != "" {
					lines = append(lines, firstLine(t.Message))
				}
				if b, blamed = blameConfig(containerEnv(ev, p, c.Spec), lines); blamed {
					detail = append(detail, "the error points at "+describeVar(b.Var))
				}
			}
			f := report.Finding{
				Category: report.CrashLoop, Object: obj, Score: 0.6, Title: title,
				Detail:   strings.Join(detail, "; "),
				Evidence: cite(ev, podKey(p), logsKey(p), "events/"+p.Namespace+"/"+p.Name),
			}
			if blamed && (b.Var.Kind == "ConfigMap" || (b.Var.Kind == "Secret" && b.Strength >= 2)) {
				out.Find(configValueFinding(ev, p, c.Status.Name, obj, b))
			}
			f.Remediation = []string{
				fmt.Sprintf("Read why it exits: kubectl logs -n %s %s -c %s --previous", p.Namespace, p.Name, c.Status.Name),
				fmt.Sprintf("Fix the application error or its startup configuration in %s; if a recent rollout introduced it, roll back: kubectl rollout undo -n %s %s/%s", obj, obj.Namespace, strings.ToLower(obj.Kind), obj.Name),
			}
			out.Find(f)
		}
	}
	if len(seen) == 0 {
		out.Check("no container of %s is crash looping", targetName(ev))
	}
}

// settled reports whether a container that crashed runs and is ready now,
// with its last exit longer than recoveryQuiet ago.
func settled(ev *Evidence, s corev1.ContainerStatus) bool {
	t := s.LastTerminationState.Terminated
	return s.State.Running != nil && s.Ready && t != nil && !ev.Now.IsZero() && ev.Now.Sub(t.FinishedAt.Time) >= recoveryQuiet
}

func describeVar(v envVar) string {
	if v.File {
		return "file " + v.Name + " (" + v.where() + ")"
	}
	s := "env " + v.Name
	if v.Known {
		s += fmt.Sprintf(" = %q", v.Value)
	}
	return s + " (" + v.where() + ")"
}

// configValueFinding blames the ConfigMap or Secret key whose value the
// crashing application rejects: the fix is there, and pods read it again
// only when they restart.
func configValueFinding(ev *Evidence, p *corev1.Pod, container string, workload report.Ref, b envBlame) report.Finding {
	ref := report.Ref{Kind: b.Var.Kind, Namespace: p.Namespace, Name: b.Var.Source}
	f := report.Finding{
		Category: report.ConfigError, Object: ref, Score: 0.8,
		Title:    fmt.Sprintf("container %s of pod %s exits rejecting its configuration: %s", container, p.Name, describeVar(b.Var)),
		Detail:   "error: " + b.Line,
		Evidence: cite(ev, podKey(p), logsKey(p), "configmap/"+p.Namespace+"/"+b.Var.Source),
	}
	val := ""
	if b.Var.Known {
		val = fmt.Sprintf(" (now %q)", b.Var.Value)
	}
	how := fmt.Sprintf("pods read env from a %s only when they start, so running pods still have the old value", ref.Kind)
	if b.Var.File {
		how = "the application reads the file when it starts"
	}
	f.Remediation = []string{
		fmt.Sprintf("Fix key %s of %s %s%s to a value the application accepts, then restart the pods: kubectl rollout restart -n %s %s/%s (%s).",
			b.Var.Key, ref.Kind, ref.Name, val, workload.Namespace, strings.ToLower(workload.Kind), workload.Name, how),
	}
	return f
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// errorLines returns the last n log lines of a pod's container that look
// like errors, or the last n lines when none does.
func errorLines(ev *Evidence, namespace, pod, container string, n int) []string {
	var all, errs []string
	for _, l := range ev.Logs {
		if l.Namespace != namespace || l.Pod != pod || (container != "" && l.Container != "" && l.Container != container) {
			continue
		}
		msg := firstLine(l.Msg)
		all = append(all, msg)
		if crashLines.MatchString(msg) {
			errs = append(errs, msg)
		}
	}
	pick := errs
	if len(pick) == 0 {
		pick = all
	}
	pick = dedupe(pick)
	if len(pick) > n {
		pick = pick[len(pick)-n:]
	}
	return pick
}

func dedupe(lines []string) []string {
	var out []string
	seen := map[string]bool{}
	for i := len(lines) - 1; i >= 0; i-- {
		if !seen[lines[i]] {
			seen[lines[i]] = true
			out = append([]string{lines[i]}, out...)
		}
	}
	return out
}

var probeFailed = regexp.MustCompile(`(?i)(liveness|readiness|startup) probe failed`)

func analyzeProbes(ev *Evidence, out *Output) {
	seen := map[string]bool{}
	for _, e := range ev.Events {
		if e.Reason != "Unhealthy" && !probeFailed.MatchString(e.Message) && !(e.Reason == "Killing" && strings.Contains(e.Message, "probe")) {
			continue
		}
		if e.InvolvedObject.Kind != "Pod" {
			continue
		}
		var p *corev1.Pod
		for i := range ev.Pods {
			if ev.Pods[i].Name == e.InvolvedObject.Name && ev.Pods[i].Namespace == e.InvolvedObject.Namespace {
				p = &ev.Pods[i]
			}
		}
		if p == nil {
			continue
		}
		if rolloutTransient(ev, p, e) {
			continue // a new pod starting during a rollout that has completed
		}
		obj := culprit(ev, p)
		if seen[obj.String()] {
			continue
		}
		seen[obj.String()] = true
		kind := "readiness"
		if m := probeFailed.FindStringSubmatch(e.Message); m != nil {
			kind = strings.ToLower(m[1])
		}
		f := report.Finding{
			Category: report.ProbeFailure, Object: obj, Score: 0.75,
			Title:    fmt.Sprintf("%s probe of pod %s fails (%d times): %s", kind, p.Name, max(e.Count, 1), firstLine(e.Message)),
			Evidence: cite(ev, podKey(p), "events/"+p.Namespace+"/"+p.Name),
		}
		if probe := describeProbe(p, kind); probe != "" {
			f.Detail = "probe: " + probe
		}
		f.Remediation = []string{fmt.Sprintf("Check that the %s probe of %s matches the application (path, port, timeoutSeconds, initialDelaySeconds): %s", kind, obj, f.Detail)}
		if detail, fix, ok := probeListenMismatch(ev, p, kind, e.Message); ok {
			// The application's own log says where it serves: the probe
			// checks the wrong port.
			f.Detail = strings.TrimPrefix(f.Detail+"; "+detail, "; ")
			f.Remediation = append([]string{fix}, f.Remediation...)
			f.Score = 0.8
		}
		if kind == "liveness" {
			f.Remediation = append(f.Remediation, "A failing liveness probe restarts the container: fix the probe before the app, or the restarts hide the real state.")
		}
		if why, ok := appExit(ev, p); ok {
			// The process dies by itself: the probes fail because nothing
			// listens while it restarts. The crash analyzer ranks first.
			f.Detail = strings.TrimPrefix(f.Detail+"; "+why, "; ")
			f.Score = 0.45
		}
		out.Find(f)
	}
	if len(seen) == 0 {
		out.Check("no probe failures reported for %s", targetName(ev))
	}
}

func describeProbe(p *corev1.Pod, kind string) string {
	for _, c := range p.Spec.Containers {
		var pr *corev1.Probe
		switch kind {
		case "liveness":
			pr = c.LivenessProbe
		case "startup":
			pr = c.StartupProbe
		default:
			pr = c.ReadinessProbe
		}
		if pr == nil {
			continue
		}
		var s string
		switch {
		case pr.HTTPGet != nil:
			s = fmt.Sprintf("http-get %s on port %s", pr.HTTPGet.Path, pr.HTTPGet.Port.String())
		case pr.TCPSocket != nil:
			s = "tcp-socket port " + pr.TCPSocket.Port.String()
		case pr.Exec != nil:
			s = "exec " + strings.Join(pr.Exec.Command, " ")
		case pr.GRPC != nil:
			s = fmt.Sprintf("grpc port %d", pr.GRPC.Port)
		}
		return fmt.Sprintf("%s (container %s, timeout %ds, period %ds, failureThreshold %d)", s, c.Name, pr.TimeoutSeconds, pr.PeriodSeconds, pr.FailureThreshold)
	}
	return ""
}

// podHealthy reports whether a pod is running with every container ready.
func podHealthy(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
