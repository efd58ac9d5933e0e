package analyze

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// appFatal are log lines that show a process ending itself: a Go panic or
// runtime fatal error, an uncaught exception, a failed start. Plain "error"
// lines are not enough: a healthy service logs those too.
var appFatal = regexp.MustCompile(`(?i)(^panic:|\bfatal error:|^fatal:|\bFATAL\b|uncaught exception|unhandled exception|exception in thread|^\s*caused by: |^[\w.$]+(exception|error): |traceback \(most recent call last\)|segmentation fault|SIGSEGV|APPLICATION FAILED TO START|application run failed|process exited with)`)

// livenessKill matches the kubelet's events for a container it restarts
// because its liveness (or startup) probe fails.
var livenessKill = regexp.MustCompile(`(?i)(failed (liveness|startup) probe|(liveness|startup) probe failed.*will be restarted|will be restarted)`)

// appExit reports whether a container of the pod exits on its own: its last
// termination has a non-zero exit code that is not a kill signal (137
// SIGKILL, 143 SIGTERM: what the kubelet sends when a liveness probe fails)
// nor an OOM kill, and its logs show the process dying. It returns what
// shows it. A container the kubelet kills for its liveness probe is not one.
func appExit(ev *Evidence, p *corev1.Pod) (string, bool) {
	for _, e := range ev.Events {
		if e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == p.Name && e.InvolvedObject.Namespace == p.Namespace &&
			(e.Reason == "Killing" || e.Reason == "Unhealthy") && livenessKill.MatchString(e.Message) {
			return "", false
		}
	}
	for _, s := range p.Status.ContainerStatuses {
		t := s.LastTerminationState.Terminated
		if t == nil || t.ExitCode == 0 || t.ExitCode == 137 || t.ExitCode == 143 || t.Reason == "OOMKilled" {
			continue
		}
		line := ""
		if appFatal.MatchString(firstLine(t.Message)) {
			line = firstLine(t.Message)
		}
		for _, l := range ev.Logs {
			if line != "" {
				break
			}
			if l.Namespace == p.Namespace && l.Pod == p.Name && (l.Container == "" || l.Container == s.Name) && appFatal.MatchString(firstLine(l.Msg)) {
				line = firstLine(l.Msg)
			}
		}
		if line == "" {
			continue
		}
		return fmt.Sprintf("container %s exits on its own (exit code %d, %q), so its probes fail while it restarts: the crash is the cause", s.Name, t.ExitCode, strings.TrimSpace(line)), true
	}
	return "", false
}
