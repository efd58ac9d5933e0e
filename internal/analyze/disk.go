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

const (
	// slotRetainedHigh is the WAL a replication slot may hold back before
	// it is named as what fills the volume: 1GiB is dozens of segments,
	// far beyond a healthy consumer's lag.
	slotRetainedHigh = 1 << 30
)

// diskLogLine marks a log line about what fills a disk.
var diskLogLine = regexp.MustCompile(`(?i)(no space left|disk full|ENOSPC|replication slot|\bwal\b|archive command failed|could not write|quota exceeded|out of disk|disk usage|watermark|read-only|binlog)`)

// volumeDetail says how fast a volume fills and what holds its space:
// for a database, replication slots that nobody consumes (each keeps every
// WAL segment since its consumer stopped) and the databases' own size; and
// the pods' log lines about the disk.
func volumeDetail(ev *Evidence, s Series, ref report.Ref, f *report.Finding) {
	var detail []string
	capacity := 0.0
	for _, pvc := range ev.PVCs {
		if pvc.Name == ref.Name && pvc.Namespace == ref.Namespace {
			if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
				capacity = q.AsApproximateFloat64()
			}
		}
	}
	if slope, ok := slopePerHour(s, fsTrendWindow); ok && slope < 0 {
		v, _ := s.Last()
		d := fmt.Sprintf("free space falls %.1f points per hour", -slope*100)
		if capacity > 0 {
			d = fmt.Sprintf("it fills %s per hour of its %s", bytesHuman(-slope*capacity), bytesHuman(capacity))
		}
		d += ", full in about " + durText(time.Duration(v/-slope*float64(time.Hour)))
		detail = append(detail, d)
	}
	slots, remedy := inactiveSlots(ev)
	detail = append(detail, slots...)
	for _, db := range seriesOf(ev, MetricPGDatabaseSize) {
		if v, ok := db.Last(); ok && db.Labels["datname"] != "" && v > 0 {
			detail = append(detail, fmt.Sprintf("database %s is %s", db.Labels["datname"], bytesHuman(v)))
		}
	}
	var lines []string
	for _, l := range ev.Logs {
		if diskLogLine.MatchString(l.Msg) {
			lines = append(lines, firstLine(l.Msg))
		}
	}
	if lines = dedupe(lines); len(lines) > 0 {
		if len(lines) > 3 {
			lines = lines[len(lines)-3:]
		}
		detail = append(detail, "log lines: "+strings.Join(lines, " | "))
	}
	if len(detail) > 0 {
		f.Detail = strings.Join(detail, "; ")
	}
	if len(slots) > 0 {
		f.Evidence = append(f.Evidence, cite(ev, "metric/"+MetricPGSlotRetained, "metric/"+MetricPGSlotActive)...)
		f.Remediation = append(remedy, f.Remediation...)
	}
}

func seriesOf(ev *Evidence, purpose string) []Series {
	var out []Series
	for _, s := range ev.Metrics[purpose] {
		if p := s.Labels["pod"]; p != "" && len(ev.Pods) > 0 && !hasPod(ev, p) {
			continue // another database's exporter in the namespace
		}
		out = append(out, s)
	}
	return out
}

func hasPod(ev *Evidence, name string) bool {
	for i := range ev.Pods {
		if ev.Pods[i].Name == name {
			return true
		}
	}
	return false
}

// inactiveSlots describes the replication slots that no client reads and
// that retain much WAL, largest first, with the steps to release them.
func inactiveSlots(ev *Evidence) (detail, remedy []string) {
	active := map[string]bool{}
	for _, s := range seriesOf(ev, MetricPGSlotActive) {
		if v, ok := s.Last(); ok && v > 0 {
			active[s.Labels["slot_name"]] = true
		}
	}
	type slot struct {
		name, db string
		bytes    float64
	}
	var slots []slot
	for _, s := range seriesOf(ev, MetricPGSlotRetained) {
		v, ok := s.Last()
		name := s.Labels["slot_name"]
		if !ok || name == "" || active[name] || v < slotRetainedHigh {
			continue
		}
		slots = append(slots, slot{name, s.Labels["database"], v})
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].bytes > slots[j].bytes })
	for _, s := range slots {
		d := fmt.Sprintf("replication slot %s is inactive (no client reads it) and retains %s of WAL", s.name, bytesHuman(s.bytes))
		if s.db != "" {
			d += " (database " + s.db + ")"
		}
		detail = append(detail, d)
		remedy = append(remedy, fmt.Sprintf("Release the WAL held by replication slot %s: restart its consumer (a CDC connector, a replica) so it catches up, or, if it is abandoned, drop it: SELECT pg_drop_replication_slot('%s'); growing the volume only buys time.", s.name, s.name))
	}
	return detail, remedy
}
