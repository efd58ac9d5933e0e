package analyze

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// A dependency out of disk is up by every measure Kubernetes has: its pods
// run and pass their probes, its Service has endpoints. But a database that
// cannot write blocks every write (MySQL waits "for someone to free some
// space", Postgres PANICs on WAL, Elasticsearch turns indices read-only),
// and its clients time out or exhaust their connections. The volume is
// what to fix.

// claimFull is the free ratio under which a dependency's volume counts as
// full by its metrics alone (KubePersistentVolumeFillingUp's critical 3%,
// raised a little).
const claimFull = 0.05

// dependencyDiskFull returns the finding for a dependency whose volume is
// full: its own lines say so (ENOSPC in any wording), or its claim has
// almost no free space left.
func dependencyDiskFull(ev *Evidence, d Dependency) (report.Finding, bool) {
	var full *ClaimUse
	for i := range d.Claims {
		c := &d.Claims[i]
		if c.AvailRatio >= 0 && c.AvailRatio < claimFull && (full == nil || c.AvailRatio < full.AvailRatio) {
			full = c
		}
	}
	if len(d.PodLines) == 0 && full == nil {
		return report.Finding{}, false
	}
	obj := d.Workload
	switch {
	case full != nil:
		obj = full.Ref
	case len(d.Claims) == 1:
		obj = d.Claims[0].Ref
	case len(d.Claims) > 1:
		// The claim the lines name by path is not known: the claim of
		// the pod that logged, when it mounts only one.
		n := 0
		for _, c := range d.Claims {
			if len(d.Pods) > 0 && c.Pod == d.Pods[0].Name {
				obj = c.Ref
				n++
			}
		}
		if n != 1 {
			obj = d.Workload
		}
	}
	if obj.IsZero() {
		obj = d.Service
	}
	score := 0.8
	if failingLines(ev) > 0 || len(d.Errors) > 0 {
		score = 0.87 // the target's own failures follow
	}
	state := "its logs say its disk is full"
	if full != nil {
		state = fmt.Sprintf("volume claim %s has %s free", full.Ref.Name, pct(full.AvailRatio))
		if len(d.PodLines) > 0 {
			state += " and its logs say the disk is full"
		}
	}
	f := report.Finding{
		Category: report.DiskPressure, Object: obj, Score: score,
		Title: fmt.Sprintf("%s fails because its dependency %s (%s) is out of disk: %s; its pods are Running and Ready but cannot write",
			targetName(ev), depName(d), hostPort(d), state),
		Evidence: cite(ev, "dependency/"+d.Service.Namespace+"/"+d.Service.Name, "dependency/"+d.Workload.Namespace+"/"+d.Workload.Name, "service/"+d.Service.Namespace+"/"+d.Service.Name),
	}
	var detail []string
	if len(d.PodLines) > 0 {
		detail = append(detail, "dependency logs: "+strings.Join(d.PodLines, " | "))
	}
	for _, c := range d.Claims {
		s := fmt.Sprintf("volume claim %s of pod %s", c.Ref.Name, c.Pod)
		if c.Capacity != "" {
			s += ", " + c.Capacity
		}
		if c.AvailRatio >= 0 {
			s += ", " + pct(c.AvailRatio) + " free"
		}
		detail = append(detail, s)
	}
	if d.Source != "" && d.Source != "logs" {
		detail = append(detail, fmt.Sprintf("%s is configured in %s", hostPort(d), d.Source))
	}
	if len(d.Errors) > 0 {
		detail = append(detail, "errors in the logs of "+targetName(ev)+": "+strings.Join(d.Errors, " | "))
	} else if lines := failingSamples(ev, 2); len(lines) > 0 {
		detail = append(detail, "errors in the logs of "+targetName(ev)+": "+strings.Join(lines, " | "))
	}
	f.Detail = strings.Join(detail, ". ")
	f.Remediation = []string{
		fmt.Sprintf("Free space on %s now (purge what the server keeps past its need: old binary/WAL logs, snapshots, temporary tables), or expand the claim (kubectl patch pvc -n %s %s with a larger spec.resources.requests.storage, if its StorageClass allows expansion).", obj, obj.Namespace, obj.Name),
		fmt.Sprintf("Then fix what filled it (retention settings of %s) and alert on the volume before it is full (kubelet_volume_stats_available_bytes); %s is only the symptom.", depName(d), targetName(ev)),
	}
	return f, true
}

// storeFailed matches what clients of a stuck store log besides failed
// calls: connection limits reached, writes refused, locks held.
var storeFailed = regexp.MustCompile(`(?i)(too many connections|too many clients|connection pool|pool exhausted|lock wait timeout|read-only|readonly|sqlstate)`)

// failingSamples returns up to n distinct log lines of the target that
// report a failed call or a stuck store.
func failingSamples(ev *Evidence, n int) []string {
	var out []string
	for i := len(ev.Logs) - 1; i >= 0 && len(out) < n; i-- {
		l := strings.TrimSpace(ev.Logs[i].Msg)
		if callFailed.MatchString(l) || storeFailed.MatchString(l) {
			l = firstLine(l)
			if len(l) > 300 {
				l = l[:300]
			}
			if !contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out
}
