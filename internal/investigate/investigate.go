// Package investigate provides what the queue runs for an incident. Until
// the investigation engine lands it holds the minimal investigator, which
// records the alerts' labels in the report.
package investigate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
)

// Job is what an investigator is given.
type Job struct {
	Investigation store.Investigation
	Incident      store.Incident
	Alerts        []store.Alert
}

// PermanentError marks a failure that a retry cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the queue fails the investigation without retrying.
func Permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Labels is the minimal investigator: its report lists the incident's alerts
// with their labels and annotations.
type Labels struct {
	Now func() time.Time
}

// Investigate returns the report of the job.
func (l Labels) Investigate(ctx context.Context, job Job) (*report.Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(job.Alerts) == 0 {
		return nil, Permanent(fmt.Errorf("incident %d has no alerts", job.Incident.ID))
	}
	r := &report.Report{
		Investigator: "labels",
		IncidentID:   job.Incident.ID,
		Generated:    l.Now().UTC(),
	}
	names := map[string]int{}
	for _, a := range job.Alerts {
		r.Alerts = append(r.Alerts, report.Alert{
			Name:        a.Labels["alertname"],
			Status:      a.Status,
			Fingerprint: a.Fingerprint,
			StartsAt:    a.StartsAt,
			Labels:      a.Labels,
			Annotations: a.Annotations,
		})
		names[a.Labels["alertname"]]++
	}
	var parts []string
	for n, c := range names {
		parts = append(parts, fmt.Sprintf("%s x%d", n, c))
	}
	sort.Strings(parts)
	where := job.Incident.Namespace
	if job.Incident.Workload != "" {
		where += "/" + job.Incident.Workload
	}
	r.Summary = fmt.Sprintf("%s firing in %s (%s). No investigation engine is configured: this report lists the alerts only.",
		strings.Join(parts, ", "), where, job.Incident.Severity)
	return r, nil
}
