package sqlite

// migrations are applied in order, each once, in its own transaction; the
// number of applied ones is kept in schema_version. Append, never edit.
var migrations = []string{
	// 1: alerts, incidents, investigations.
	`
CREATE TABLE incidents (
	id          INTEGER PRIMARY KEY,
	key         TEXT NOT NULL,
	state       TEXT NOT NULL,
	alertname   TEXT NOT NULL,
	namespace   TEXT NOT NULL DEFAULT '',
	workload    TEXT NOT NULL DEFAULT '',
	severity    TEXT NOT NULL DEFAULT '',
	opened_at   INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	resolved_at INTEGER
);
CREATE INDEX incidents_key ON incidents(key, id);
CREATE INDEX incidents_state ON incidents(state, id);

CREATE TABLE alerts (
	id            INTEGER PRIMARY KEY,
	incident_id   INTEGER REFERENCES incidents(id),
	fingerprint   TEXT NOT NULL,
	starts_at     INTEGER NOT NULL,
	ends_at       INTEGER NOT NULL,
	status        TEXT NOT NULL,
	labels        TEXT NOT NULL,
	annotations   TEXT NOT NULL,
	generator_url TEXT NOT NULL,
	receiver      TEXT NOT NULL,
	received_at   INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	UNIQUE (fingerprint, starts_at)
);
CREATE INDEX alerts_incident ON alerts(incident_id, status);

CREATE TABLE investigations (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL REFERENCES incidents(id),
	state       TEXT NOT NULL,
	priority    INTEGER NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	not_before  INTEGER NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER,
	error       TEXT NOT NULL DEFAULT '',
	report      TEXT
);
CREATE INDEX investigations_ready ON investigations(state, priority, id);
CREATE INDEX investigations_incident ON investigations(incident_id, id);

CREATE TABLE heartbeat (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at INTEGER NOT NULL
);
`,
}
