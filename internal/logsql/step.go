package logsql

import (
	"strconv"
	"time"
)

// niceSteps are the bucket widths a person would pick, in increasing order.
var niceSteps = []time.Duration{
	time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour,
}

// AutoStep returns the smallest readable bucket width (1s, 5s, 15s, 30s,
// 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 6h, 12h, then whole days) that
// splits a range of length r into at most maxBuckets buckets. Log lines,
// unlike scraped samples, have no natural interval, so it goes below 15s.
func AutoStep(r time.Duration, maxBuckets int) time.Duration {
	// VictoriaLogs aligns buckets to multiples of the step, so a range can
	// touch one bucket more than r/step: leave room for it and the end.
	div := time.Duration(max(maxBuckets-2, 1))
	need := (r + div - 1) / div
	for _, s := range niceSteps {
		if s >= need {
			return s
		}
	}
	day := 24 * time.Hour
	return (need + day - 1) / day * day
}

// formatStep renders d as VictoriaLogs reads a duration.
func formatStep(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// shortDuration renders d in the largest whole unit: 1m, 2h, 1d, 90s.
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return d.String()
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
