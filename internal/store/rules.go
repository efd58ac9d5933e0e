package store

import (
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/incident"
)

// IngestTx is what an implementation provides inside the one transaction of
// an Ingest. ApplyIngest holds the rules, so every implementation dedupes and
// groups alike.
type IngestTx interface {
	// FindAlert looks an alert up by its identity.
	FindAlert(fingerprint string, startsAt time.Time) (AlertHead, bool, error)
	// InsertAlert records a new alert in the incident (0: none).
	InsertAlert(a KeyedAlert, receiver string, now time.Time, incidentID int64) error
	// ResolveAlert marks a recorded alert resolved.
	ResolveAlert(id int64, endsAt time.Time, now time.Time) error
	// LatestIncident returns the newest incident with the key.
	LatestIncident(key string) (IncidentHead, bool, error)
	// CreateIncident opens an incident for the alert.
	CreateIncident(a KeyedAlert, now time.Time) (int64, error)
	// UpdateIncident sets the incident's state, severity and update time.
	UpdateIncident(id int64, state, severity string, now time.Time) error
	// FiringAlerts counts the incident's alerts still firing.
	FiringAlerts(incidentID int64) (int, error)
	// QueueInvestigation queues an investigation of the incident.
	QueueInvestigation(incidentID int64, priority int, now time.Time) error
	// RaisePriority makes the incident's queued investigations at least as
	// urgent as priority.
	RaisePriority(incidentID int64, priority int) error
}

// AlertHead is the part of a recorded alert the rules need.
type AlertHead struct {
	ID         int64
	Status     string
	IncidentID int64
}

// IncidentHead is the part of an incident the rules need.
type IncidentHead struct {
	ID       int64
	State    string
	Severity string
	// LastInvestigationAt is when its newest investigation was queued.
	LastInvestigationAt time.Time
}

// ApplyIngest applies the incident rules to one delivery:
//   - an alert is identified by fingerprint and startsAt; a delivery of a
//     known alert changes nothing unless it resolves a firing alert
//     (Alertmanager re-sends on every group_interval and HA pairs both send);
//   - a new firing alert joins the newest incident with its key when that
//     incident is open, or was last investigated less than the cooldown ago
//     (then it reopens); otherwise it opens a new incident, which queues an
//     investigation;
//   - an open incident whose last investigation is older than the cooldown
//     is investigated again when a new alert joins it;
//   - an incident with no firing alerts left is resolved.
func ApplyIngest(tx IngestTx, in Ingest) (IngestResult, error) {
	var res IngestResult
	for _, a := range in.Alerts {
		head, found, err := tx.FindAlert(a.Fingerprint, a.StartsAt)
		if err != nil {
			return res, err
		}
		if found {
			if a.Status != alert.StatusResolved || head.Status != alert.StatusFiring {
				res.Duplicates++
				continue
			}
			if err := tx.ResolveAlert(head.ID, endsAt(a, in.Now), in.Now); err != nil {
				return res, err
			}
			res.Resolved++
			if head.IncidentID == 0 {
				continue
			}
			closed, err := resolveIfQuiet(tx, head.IncidentID, in.Now)
			if err != nil {
				return res, err
			}
			if closed {
				res.ClosedIncidents++
			}
			continue
		}
		res.New++
		inc, found, err := tx.LatestIncident(a.Key)
		if err != nil {
			return res, err
		}
		if a.Status == alert.StatusResolved {
			// Seen only resolved (its firing delivery was missed or predates
			// us): keep it as a record, investigate nothing.
			var id int64
			if found && inc.State == IncidentOpen {
				id = inc.ID
			}
			if err := tx.InsertAlert(a, in.Receiver, in.Now, id); err != nil {
				return res, err
			}
			continue
		}
		prio := incident.Priority(a.Severity())
		cooled := found && in.Now.Sub(inc.LastInvestigationAt) >= in.Cooldown
		if !found || (inc.State == IncidentResolved && cooled) {
			id, err := tx.CreateIncident(a, in.Now)
			if err != nil {
				return res, err
			}
			if err := tx.InsertAlert(a, in.Receiver, in.Now, id); err != nil {
				return res, err
			}
			if err := tx.QueueInvestigation(id, prio, in.Now); err != nil {
				return res, err
			}
			res.NewIncidents++
			res.Queued++
			continue
		}
		if err := tx.InsertAlert(a, in.Receiver, in.Now, inc.ID); err != nil {
			return res, err
		}
		sev := inc.Severity
		if incident.Priority(a.Severity()) < incident.Priority(sev) {
			sev = a.Severity()
		}
		if err := tx.UpdateIncident(inc.ID, IncidentOpen, sev, in.Now); err != nil {
			return res, err
		}
		if inc.State == IncidentOpen && cooled {
			if err := tx.QueueInvestigation(inc.ID, prio, in.Now); err != nil {
				return res, err
			}
			res.Queued++
			continue
		}
		if err := tx.RaisePriority(inc.ID, prio); err != nil {
			return res, err
		}
	}
	return res, nil
}

func resolveIfQuiet(tx IngestTx, incidentID int64, now time.Time) (bool, error) {
	n, err := tx.FiringAlerts(incidentID)
	if err != nil || n > 0 {
		return false, err
	}
	return true, tx.UpdateIncident(incidentID, IncidentResolved, "", now)
}

func endsAt(a KeyedAlert, now time.Time) time.Time {
	if a.EndsAt.IsZero() {
		return now
	}
	return a.EndsAt
}
