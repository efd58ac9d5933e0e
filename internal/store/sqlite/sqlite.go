// Package sqlite provides the embedded store: SQLite in WAL mode through a
// pure-Go driver, so the binary needs no cgo.
//
// One writer connection serialises writes (SQLite allows one writer at a
// time anyway, and a single connection avoids busy retries); a small pool of
// read connections serves the API concurrently thanks to WAL.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is the SQLite implementation of store.Store.
type Store struct {
	// wmu queues writers for the single write connection. database/sql
	// hands a busy connection to a random waiter, which under load gives
	// some requests several times the mean wait; sync.Mutex turns FIFO once
	// a waiter has waited 1 ms, which bounds the tail.
	wmu sync.Mutex
	w   *sql.DB // exactly one connection: all writes
	r   *sql.DB // reads
}

var _ store.Store = (*Store)(nil)

// ParseURL returns the file path of a sqlite://PATH store URL:
// sqlite://./sleuth.db is relative, sqlite:///var/lib/sleuth/sleuth.db absolute.
func ParseURL(u string) (string, error) {
	path, ok := strings.CutPrefix(u, "sqlite://")
	if !ok || path == "" {
		return "", fmt.Errorf("store URL %q: want sqlite://PATH", u)
	}
	return path, nil
}

// Open opens (creating if needed) the database file and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
	}
	// synchronous(FULL) makes every commit durable on power loss too, not
	// only on a process crash: a 2xx to Alertmanager must mean "kept".
	pragmas := []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	qr := url.Values{}
	for _, p := range append(pragmas[1:], "query_only(1)") {
		qr.Add("_pragma", p)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+qr.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s.r = r
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var v int
	err := s.w.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this sleuth knows (%d): upgrade sleuth", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, i+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// ts stores times as Unix nanoseconds; the zero time is 0.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func fromNullTS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromTS(n.Int64)
	return &t
}

// Ingest implements store.Store.
func (s *Store) Ingest(ctx context.Context, in store.Ingest) (store.IngestResult, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	res, err := store.ApplyIngest(&ingestTx{ctx: ctx, tx: tx}, in)
	if err != nil {
		return store.IngestResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.IngestResult{}, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

type ingestTx struct {
	ctx context.Context
	tx  *sql.Tx
}

func (t *ingestTx) exec(q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, q, args...)
}

func (t *ingestTx) FindAlert(fp string, startsAt time.Time) (store.AlertHead, bool, error) {
	var h store.AlertHead
	var inc sql.NullInt64
	err := t.tx.QueryRowContext(t.ctx, `SELECT id, status, incident_id FROM alerts WHERE fingerprint = ? AND starts_at = ?`,
		fp, ts(startsAt)).Scan(&h.ID, &h.Status, &inc)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	h.IncidentID = inc.Int64
	return h, err == nil, err
}

func (t *ingestTx) InsertAlert(a store.KeyedAlert, receiver string, now time.Time, incidentID int64) error {
	labels, _ := json.Marshal(a.Labels)
	ann, _ := json.Marshal(nonNil(a.Annotations))
	var inc any
	if incidentID != 0 {
		inc = incidentID
	}
	_, err := t.exec(`INSERT INTO alerts (incident_id, fingerprint, starts_at, ends_at, status, labels, annotations, generator_url, receiver, received_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inc, a.Fingerprint, ts(a.StartsAt), ts(a.EndsAt), a.Status, labels, ann, a.GeneratorURL, receiver, ts(now), ts(now))
	return err
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (t *ingestTx) ResolveAlert(id int64, endsAt, now time.Time) error {
	_, err := t.exec(`UPDATE alerts SET status = ?, ends_at = ?, updated_at = ? WHERE id = ?`, alert.StatusResolved, ts(endsAt), ts(now), id)
	return err
}

func (t *ingestTx) LatestIncident(key string) (store.IncidentHead, bool, error) {
	var h store.IncidentHead
	var last sql.NullInt64
	err := t.tx.QueryRowContext(t.ctx, `SELECT i.id, i.state, i.severity,
			(SELECT max(created_at) FROM investigations v WHERE v.incident_id = i.id)
		FROM incidents i WHERE i.key = ? ORDER BY i.id DESC LIMIT 1`, key).Scan(&h.ID, &h.State, &h.Severity, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return h, false, nil
	}
	h.LastInvestigationAt = fromTS(last.Int64)
	return h, err == nil, err
}

func (t *ingestTx) CreateIncident(a store.KeyedAlert, now time.Time) (int64, error) {
	res, err := t.exec(`INSERT INTO incidents (key, state, alertname, namespace, workload, severity, opened_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Key, store.IncidentOpen, a.Name(), a.Namespace(), a.Workload, a.Severity(), ts(now), ts(now))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (t *ingestTx) UpdateIncident(id int64, state, severity string, now time.Time) error {
	var resolved any
	if state == store.IncidentResolved {
		resolved = ts(now)
	}
	_, err := t.exec(`UPDATE incidents SET state = ?, severity = CASE WHEN ? = '' THEN severity ELSE ? END,
		updated_at = ?, resolved_at = ? WHERE id = ?`, state, severity, severity, ts(now), resolved, id)
	return err
}

func (t *ingestTx) FiringAlerts(incidentID int64) (int, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, `SELECT count(*) FROM alerts WHERE incident_id = ? AND status = ?`, incidentID, alert.StatusFiring).Scan(&n)
	return n, err
}

func (t *ingestTx) QueueInvestigation(incidentID int64, priority int, now time.Time) error {
	_, err := t.exec(`INSERT INTO investigations (incident_id, state, priority, created_at, not_before) VALUES (?, ?, ?, ?, ?)`,
		incidentID, store.StateQueued, priority, ts(now), ts(now))
	return err
}

func (t *ingestTx) RaisePriority(incidentID int64, priority int) error {
	// Without INDEXED BY, SQLite picks investigations_ready and scans every
	// queued investigation: a quarter of the ingest CPU in a storm.
	_, err := t.exec(`UPDATE investigations INDEXED BY investigations_incident SET priority = ? WHERE incident_id = ? AND state = ? AND priority > ?`,
		priority, incidentID, store.StateQueued, priority)
	return err
}

const investigationCols = `v.id, v.incident_id, v.state, v.priority, v.attempts, i.namespace, i.alertname,
	v.created_at, v.not_before, v.started_at, v.finished_at, v.error, v.report`

func scanInvestigation(sc interface{ Scan(...any) error }) (*store.Investigation, error) {
	var v store.Investigation
	var created, notBefore int64
	var started, finished sql.NullInt64
	var report sql.NullString
	if err := sc.Scan(&v.ID, &v.IncidentID, &v.State, &v.Priority, &v.Attempts, &v.Namespace, &v.AlertName,
		&created, &notBefore, &started, &finished, &v.Error, &report); err != nil {
		return nil, err
	}
	v.CreatedAt, v.NotBefore = fromTS(created), fromTS(notBefore)
	v.StartedAt, v.FinishedAt = fromNullTS(started), fromNullTS(finished)
	if report.Valid {
		v.Report = json.RawMessage(report.String)
	}
	return &v, nil
}

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, now time.Time) (*store.Investigation, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var id int64
	err := s.w.QueryRowContext(ctx, `UPDATE investigations SET state = ?, attempts = attempts + 1, started_at = ?
		WHERE id = (SELECT id FROM investigations WHERE state = ? AND not_before <= ? ORDER BY priority, id LIMIT 1)
		RETURNING id`, store.StateRunning, ts(now), store.StateQueued, ts(now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNoWork
	}
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return s.investigation(ctx, s.w, id)
}

// Finish implements store.Store.
func (s *Store) Finish(ctx context.Context, f store.Finish) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var finished, report any
	if f.State != store.StateQueued {
		finished = ts(f.Now)
	}
	if f.Report != nil {
		report = string(f.Report)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE investigations SET state = ?, finished_at = ?, not_before = ?, error = ?, report = ?
		WHERE id = ? AND attempts = ? AND state = ?`,
		f.State, finished, ts(f.NotBefore), f.Error, report, f.ID, f.Attempt, store.StateRunning)
	if err != nil {
		return fmt.Errorf("finish investigation %d: %w", f.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrLost
	}
	return nil
}

// RecoverInterrupted implements store.Store. The SQLite store has one
// process writing it, so whatever is running at startup was interrupted.
func (s *Store) RecoverInterrupted(ctx context.Context) (int, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE investigations SET state = ? WHERE state = ?`, store.StateQueued, store.StateRunning)
	if err != nil {
		return 0, fmt.Errorf("requeue interrupted investigations: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Investigation implements store.Store.
func (s *Store) Investigation(ctx context.Context, id int64) (*store.Investigation, error) {
	return s.investigation(ctx, s.r, id)
}

func (s *Store) investigation(ctx context.Context, db *sql.DB, id int64) (*store.Investigation, error) {
	v, err := scanInvestigation(db.QueryRowContext(ctx, `SELECT `+investigationCols+`
		FROM investigations v JOIN incidents i ON i.id = v.incident_id WHERE v.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return v, err
}

// where builds a WHERE clause from a filter; timeCol is the creation column.
func where(f store.Filter, stateCol, timeCol, idCol string) (string, []any) {
	var conds []string
	var args []any
	add := func(c string, a any) { conds = append(conds, c); args = append(args, a) }
	if f.State != "" {
		add(stateCol+" = ?", f.State)
	}
	if f.Namespace != "" {
		add("i.namespace = ?", f.Namespace)
	}
	if !f.Since.IsZero() {
		add(timeCol+" >= ?", ts(f.Since))
	}
	if !f.Until.IsZero() {
		add(timeCol+" < ?", ts(f.Until))
	}
	if f.BeforeID > 0 {
		add(idCol+" < ?", f.BeforeID)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func limit(f store.Filter) int {
	if f.Limit <= 0 || f.Limit > 1000 {
		return 100
	}
	return f.Limit
}

// Investigations implements store.Store, newest first.
func (s *Store) Investigations(ctx context.Context, f store.Filter) ([]store.Investigation, error) {
	w, args := where(f, "v.state", "v.created_at", "v.id")
	rows, err := s.r.QueryContext(ctx, `SELECT `+investigationCols+`
		FROM investigations v JOIN incidents i ON i.id = v.incident_id`+w+` ORDER BY v.id DESC LIMIT ?`, append(args, limit(f))...)
	if err != nil {
		return nil, fmt.Errorf("list investigations: %w", err)
	}
	defer rows.Close()
	out := []store.Investigation{}
	for rows.Next() {
		v, err := scanInvestigation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

const incidentCols = `i.id, i.key, i.state, i.alertname, i.namespace, i.workload, i.severity, i.opened_at, i.updated_at, i.resolved_at,
	(SELECT count(*) FROM alerts a WHERE a.incident_id = i.id AND a.status = 'firing'),
	(SELECT count(*) FROM alerts a WHERE a.incident_id = i.id),
	(SELECT max(id) FROM investigations v WHERE v.incident_id = i.id)`

func scanIncident(sc interface{ Scan(...any) error }) (*store.Incident, error) {
	var in store.Incident
	var opened, updated int64
	var resolved, last sql.NullInt64
	if err := sc.Scan(&in.ID, &in.Key, &in.State, &in.AlertName, &in.Namespace, &in.Workload, &in.Severity,
		&opened, &updated, &resolved, &in.Firing, &in.Alerts, &last); err != nil {
		return nil, err
	}
	in.OpenedAt, in.UpdatedAt, in.ResolvedAt = fromTS(opened), fromTS(updated), fromNullTS(resolved)
	in.LastInvestigationID = last.Int64
	return &in, nil
}

// Incidents implements store.Store, newest first.
func (s *Store) Incidents(ctx context.Context, f store.Filter) ([]store.Incident, error) {
	w, args := where(f, "i.state", "i.opened_at", "i.id")
	rows, err := s.r.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents i`+w+` ORDER BY i.id DESC LIMIT ?`, append(args, limit(f))...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	out := []store.Incident{}
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *in)
	}
	return out, rows.Err()
}

// Incident implements store.Store.
func (s *Store) Incident(ctx context.Context, id int64) (*store.Incident, error) {
	in, err := scanIncident(s.r.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents i WHERE i.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return in, err
}

// IncidentAlerts implements store.Store, oldest first.
func (s *Store) IncidentAlerts(ctx context.Context, incidentID int64) ([]store.Alert, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, incident_id, fingerprint, status, labels, annotations, starts_at, ends_at,
		generator_url, receiver, received_at FROM alerts WHERE incident_id = ? ORDER BY id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("alerts of incident %d: %w", incidentID, err)
	}
	defer rows.Close()
	out := []store.Alert{}
	for rows.Next() {
		var a store.Alert
		var labels, ann string
		var starts, ends, received int64
		if err := rows.Scan(&a.ID, &a.IncidentID, &a.Fingerprint, &a.Status, &labels, &ann, &starts, &ends,
			&a.GeneratorURL, &a.Receiver, &received); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
			return nil, fmt.Errorf("alert %d labels: %w", a.ID, err)
		}
		if err := json.Unmarshal([]byte(ann), &a.Annotations); err != nil {
			return nil, fmt.Errorf("alert %d annotations: %w", a.ID, err)
		}
		a.StartsAt, a.EndsAt, a.ReceivedAt = fromTS(starts), fromTS(ends), fromTS(received)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Stats implements store.Store.
func (s *Store) Stats(ctx context.Context, now time.Time) (store.Stats, error) {
	st := store.Stats{Investigations: map[string]int{}}
	for _, state := range []string{store.StateQueued, store.StateRunning, store.StateDone, store.StateFailed} {
		st.Investigations[state] = 0
	}
	rows, err := s.r.QueryContext(ctx, `SELECT state, count(*) FROM investigations GROUP BY state`)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			rows.Close()
			return st, err
		}
		st.Investigations[state] = n
	}
	rows.Close()
	var oldest sql.NullInt64
	err = s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM incidents WHERE state = ?),
		(SELECT count(*) FROM investigations WHERE state = ? AND not_before <= ?),
		(SELECT min(created_at) FROM investigations WHERE state = ?)`,
		store.IncidentOpen, store.StateQueued, ts(now), store.StateQueued).Scan(&st.OpenIncidents, &st.Ready, &oldest)
	st.OldestQueued = fromTS(oldest.Int64)
	return st, err
}

// Ping implements store.Store with a real write.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO heartbeat (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at`, time.Now().UnixNano())
	return err
}
