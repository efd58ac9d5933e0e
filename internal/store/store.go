// Package store provides the durable state of sleuth - alerts, incidents,
// investigations and their reports - as an interface with its record types,
// and the incident rules every implementation applies when alerts arrive.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
)

// Investigation states.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Incident states.
const (
	IncidentOpen     = "open"
	IncidentResolved = "resolved"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrNoWork is returned by Claim when nothing is ready to run.
var ErrNoWork = errors.New("no queued investigation is ready")

// ErrLost is returned when an investigation attempt is no longer the current
// one (it was requeued and claimed again), so its outcome must be dropped.
var ErrLost = errors.New("investigation attempt is no longer current")

// Store is what sleuth keeps. Implementations are safe for concurrent use.
type Store interface {
	// Ingest durably records the alerts of one webhook delivery and applies
	// the incident rules (see Rules). It returns only after the commit.
	Ingest(ctx context.Context, in Ingest) (IngestResult, error)

	// Claim marks the most urgent ready investigation running and returns
	// it with its attempt number, or ErrNoWork.
	Claim(ctx context.Context, now time.Time) (*Investigation, error)
	// Finish records the outcome of the given attempt. It returns ErrLost
	// if the attempt is not the current one.
	Finish(ctx context.Context, f Finish) error
	// RecoverInterrupted requeues investigations left running by a process
	// that died, and returns how many. Call it once at startup.
	RecoverInterrupted(ctx context.Context) (int, error)

	Incident(ctx context.Context, id int64) (*Incident, error)
	IncidentAlerts(ctx context.Context, incidentID int64) ([]Alert, error)
	Incidents(ctx context.Context, f Filter) ([]Incident, error)
	Investigation(ctx context.Context, id int64) (*Investigation, error)
	Investigations(ctx context.Context, f Filter) ([]Investigation, error)
	Stats(ctx context.Context, now time.Time) (Stats, error)

	// Ping checks that the store accepts writes.
	Ping(ctx context.Context) error
	Close() error
}

// Ingest is one delivery of alerts.
type Ingest struct {
	Now      time.Time
	Receiver string
	// Alerts with their incident keys and guessed workloads, as computed by
	// the caller from its grouping configuration.
	Alerts []KeyedAlert
	// Cooldown is how long after an investigation of an incident key a new
	// one may start for it.
	Cooldown time.Duration
}

// KeyedAlert is an alert with the incident key it belongs to.
type KeyedAlert struct {
	alert.Alert
	Key      string
	Workload string
}

// IngestResult counts what an Ingest did.
type IngestResult struct {
	New             int `json:"new"`        // alerts seen for the first time
	Duplicates      int `json:"duplicates"` // alerts already recorded with the same state
	Resolved        int `json:"resolved"`   // alerts that went from firing to resolved
	NewIncidents    int `json:"incidents_opened"`
	Queued          int `json:"investigations_queued"`
	ClosedIncidents int `json:"incidents_resolved"`
}

// Alert is a recorded alert. The pair (Fingerprint, StartsAt) identifies it.
type Alert struct {
	ID           int64             `json:"id"`
	IncidentID   int64             `json:"incident_id,omitempty"`
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	Receiver     string            `json:"receiver,omitempty"`
	ReceivedAt   time.Time         `json:"received_at"`
}

// Incident is a group of alerts about one problem.
type Incident struct {
	ID         int64      `json:"id"`
	Key        string     `json:"key"`
	State      string     `json:"state"`
	AlertName  string     `json:"alertname"`
	Namespace  string     `json:"namespace,omitempty"`
	Workload   string     `json:"workload,omitempty"`
	Severity   string     `json:"severity,omitempty"`
	OpenedAt   time.Time  `json:"opened_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	Firing     int        `json:"firing_alerts"`
	Alerts     int        `json:"alerts"`
	// LastInvestigationID is the newest investigation of the incident.
	LastInvestigationID int64 `json:"last_investigation_id,omitempty"`
}

// Investigation is one investigation of an incident.
type Investigation struct {
	ID         int64           `json:"id"`
	IncidentID int64           `json:"incident_id"`
	State      string          `json:"state"`
	Priority   int             `json:"priority"`
	Attempts   int             `json:"attempts"`
	Namespace  string          `json:"namespace,omitempty"`
	AlertName  string          `json:"alertname,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	NotBefore  time.Time       `json:"not_before,omitzero"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	Error      string          `json:"error,omitempty"`
	Report     json.RawMessage `json:"report,omitempty"`
}

// Finish is the outcome of one investigation attempt.
type Finish struct {
	ID      int64
	Attempt int
	Now     time.Time
	// State is StateDone, StateFailed, or StateQueued for a retry at NotBefore.
	State     string
	NotBefore time.Time
	Error     string
	Report    json.RawMessage
}

// Filter selects and pages records. Zero values select everything.
type Filter struct {
	State     string
	Namespace string
	Since     time.Time // created (or opened) at or after
	Until     time.Time // created (or opened) before
	// BeforeID pages backwards: only records with a smaller ID.
	BeforeID int64
	Limit    int
}

// Stats summarises the store for metrics and health.
type Stats struct {
	Investigations map[string]int // by state
	OpenIncidents  int
	// Ready is how many queued investigations may start now.
	Ready int
	// OldestQueued is the creation time of the oldest queued investigation.
	OldestQueued time.Time
}
