package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sleuth-sre/sleuth/internal/store"
)

// page is the JSON of a list answer. NextBefore, when set, is the value of
// the "before" parameter that fetches the next (older) page.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextBefore string `json:"next_before,omitempty"`
}

// parseFilter reads state, namespace, since, until, before and limit.
// Times are RFC 3339 or a duration ago ("1h").
func parseFilter(q url.Values, now time.Time, states ...string) (store.Filter, error) {
	f := store.Filter{State: q.Get("state"), Namespace: q.Get("namespace")}
	if f.State != "" && !slices.Contains(states, f.State) {
		return f, fmt.Errorf("state: want one of %v, got %q", states, f.State)
	}
	var err error
	if f.Since, err = parseTime(q.Get("since"), now); err != nil {
		return f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = parseTime(q.Get("until"), now); err != nil {
		return f, fmt.Errorf("until: %w", err)
	}
	if v := q.Get("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID <= 0 {
			return f, fmt.Errorf("before: want a positive id, got %q", v)
		}
	}
	f.Limit = 50
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 1000 {
			return f, fmt.Errorf("limit: want 1..1000, got %q", v)
		}
	}
	return f, nil
}

func parseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("want RFC 3339 or a duration such as 2h, got %q", v)
	}
	return t, nil
}

func (s *Server) handleIncidents(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query(), s.now(), store.IncidentOpen, store.IncidentResolved)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	items, err := s.store.Incidents(r.Context(), f)
	if err != nil {
		s.readFailed(w, err)
		return
	}
	p := page[store.Incident]{Items: items}
	if len(items) == f.Limit {
		p.NextBefore = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleInvestigations(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query(), s.now(), store.StateQueued, store.StateRunning, store.StateDone, store.StateFailed)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	items, err := s.store.Investigations(r.Context(), f)
	if err != nil {
		s.readFailed(w, err)
		return
	}
	// Reports are large; the list carries summaries, the item the report.
	for i := range items {
		items[i].Report = nil
	}
	p := page[store.Investigation]{Items: items}
	if len(items) == f.Limit {
		p.NextBefore = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, p)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("id: want a positive integer, got %q", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) handleInvestigation(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	v, err := s.store.Investigation(r.Context(), id)
	if err != nil {
		s.readFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// incidentDetail is an incident with its alerts.
type incidentDetail struct {
	store.Incident
	AlertList []store.Alert `json:"alert_list"`
}

func (s *Server) handleIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	in, err := s.store.Incident(r.Context(), id)
	if err != nil {
		s.readFailed(w, err)
		return
	}
	alerts, err := s.store.IncidentAlerts(r.Context(), id)
	if err != nil {
		s.readFailed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, incidentDetail{Incident: *in, AlertList: alerts})
}

func (s *Server) readFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	s.log.Error("read store", "err", err)
	writeError(w, http.StatusServiceUnavailable, "store unavailable")
}
