// Package report provides the investigation report: what broke, which
// object to fix, the evidence and what to do. It is stored as JSON and
// served by the API as is.
package report

import "time"

// Report is the result of one investigation.
type Report struct {
	// Investigator names what produced the report, for example "labels".
	Investigator string    `json:"investigator"`
	IncidentID   int64     `json:"incident_id"`
	Generated    time.Time `json:"generated_at"`
	// Summary is one paragraph a person reads first.
	Summary string `json:"summary"`
	// Alerts are the alerts the investigation looked at.
	Alerts []Alert `json:"alerts"`
}

// Alert is an alert as the report cites it.
type Alert struct {
	Name        string            `json:"alertname"`
	Status      string            `json:"status"`
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"starts_at"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
}
