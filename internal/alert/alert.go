// Package alert provides the Alertmanager webhook payload (version 4): its
// types, a strict decoder that names the offending field, and the alert
// fingerprint Alertmanager computes.
package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Status values of an alert and of a notification.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// PayloadVersion is the only webhook payload version Alertmanager has ever sent.
const PayloadVersion = "4"

// Payload is the body Alertmanager's webhook receiver POSTs.
type Payload struct {
	Version            string            `json:"version"`
	GroupKey           string            `json:"groupKey"`
	TruncatedAlerts    int               `json:"truncatedAlerts"`
	Status             string            `json:"status"`
	Receiver           string            `json:"receiver"`
	GroupLabels        map[string]string `json:"groupLabels"`
	CommonLabels       map[string]string `json:"commonLabels"`
	CommonAnnotations  map[string]string `json:"commonAnnotations"`
	ExternalURL        string            `json:"externalURL"`
	NotificationReason string            `json:"notification_reason,omitempty"`
	RouteLabels        map[string]string `json:"routeLabels,omitempty"`
	Alerts             []Alert           `json:"alerts"`
}

// Alert is one alert of a payload.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Name returns the alertname label.
func (a *Alert) Name() string { return a.Labels["alertname"] }

// Severity returns the severity label.
func (a *Alert) Severity() string { return a.Labels["severity"] }

// Namespace returns the namespace label.
func (a *Alert) Namespace() string { return a.Labels["namespace"] }

// Error is a payload that can never be accepted. Field locates the problem
// in JSON path notation, for example "alerts[3].labels.alertname".
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Decode reads and validates a webhook payload. An *Error means the payload
// is malformed and retrying it cannot help. Any other error is a failed read
// of r, wrapped (errors.As finds *http.MaxBytesError): the payload itself
// may be fine.
//
// Alerts without a fingerprint get the one Alertmanager would compute from
// their labels, so hand-written payloads (curl checks, bridges) dedupe too.
// A missing version is accepted because the seed's own smoke test omits it;
// a version other than "4" is rejected.
func Decode(r io.Reader) (*Payload, error) {
	rr := &readRecorder{r: r}
	dec := json.NewDecoder(rr)
	// The alerts are decoded one by one so that an error names the alert
	// ("alerts[3].labels"), which encoding/json alone does not: the outer
	// Alerts field shadows the embedded Payload's.
	var wire struct {
		Payload
		Alerts []json.RawMessage `json:"alerts"`
	}
	if err := dec.Decode(&wire); err != nil {
		if rr.err != nil {
			return nil, fmt.Errorf("read body: %w", rr.err)
		}
		return nil, jsonError("", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if rr.err != nil {
			return nil, fmt.Errorf("read body: %w", rr.err)
		}
		return nil, &Error{Msg: "unexpected data after the JSON object"}
	}
	p := wire.Payload
	p.Alerts = make([]Alert, len(wire.Alerts))
	for i, raw := range wire.Alerts {
		if err := decodeAlert(raw, &p.Alerts[i], fmt.Sprintf("alerts[%d].", i)); err != nil {
			return nil, err
		}
	}
	if err := p.normalize(); err != nil {
		return nil, err
	}
	return &p, nil
}

func decodeAlert(raw json.RawMessage, a *Alert, prefix string) error {
	var wire struct {
		Alert
		StartsAt json.RawMessage `json:"startsAt"`
		EndsAt   json.RawMessage `json:"endsAt"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		return jsonError(prefix, err)
	}
	*a = wire.Alert
	var err error
	if a.StartsAt, err = parseTime(wire.StartsAt, prefix+"startsAt"); err != nil {
		return err
	}
	a.EndsAt, err = parseTime(wire.EndsAt, prefix+"endsAt")
	return err
}

// parseTime accepts an RFC 3339 string, null or an absent value.
func parseTime(raw json.RawMessage, field string) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, &Error{Field: field, Msg: fmt.Sprintf("want an RFC 3339 string, got JSON %s", raw)}
	}
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &Error{Field: field, Msg: fmt.Sprintf("bad timestamp %s: want RFC 3339", strconv.Quote(s))}
	}
	return t, nil
}

// readRecorder keeps the first error of the reader other than io.EOF. The
// JSON decoder returns such an error as is, indistinguishable from its own
// errors that are not of a JSON error type (time.Time's, for one).
type readRecorder struct {
	r   io.Reader
	err error
}

func (rr *readRecorder) Read(b []byte) (int, error) {
	n, err := rr.r.Read(b)
	if err != nil && err != io.EOF && rr.err == nil {
		rr.err = err
	}
	return n, err
}

func jsonError(prefix string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// te.Field includes the embedded struct of the decoding wrapper.
		f := strings.TrimPrefix(strings.TrimPrefix(te.Field, "Payload."), "Alert.")
		field := prefix + f
		if field == "" {
			field = "(root)"
		}
		field = strings.TrimSuffix(field, ".")
		return &Error{Field: field, Msg: fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{Msg: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return &Error{Msg: fmt.Sprintf("bad timestamp %s: want RFC 3339", strconv.Quote(pe.Value))}
	}
	if errors.Is(err, io.EOF) {
		return &Error{Msg: "empty body"}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Msg: "truncated JSON"}
	}
	return &Error{Msg: "malformed JSON: " + err.Error()}
}

func (p *Payload) normalize() error {
	if p.Version != "" && p.Version != PayloadVersion {
		return &Error{Field: "version", Msg: fmt.Sprintf("unsupported payload version %q, want %q", p.Version, PayloadVersion)}
	}
	if p.Status != "" && p.Status != StatusFiring && p.Status != StatusResolved {
		return &Error{Field: "status", Msg: fmt.Sprintf("must be %q or %q, got %q", StatusFiring, StatusResolved, p.Status)}
	}
	if len(p.Alerts) == 0 {
		return &Error{Field: "alerts", Msg: "required: at least one alert"}
	}
	for i := range p.Alerts {
		a := &p.Alerts[i]
		at := func(f string) string { return fmt.Sprintf("alerts[%d].%s", i, f) }
		switch a.Status {
		case StatusFiring, StatusResolved:
		case "":
			return &Error{Field: at("status"), Msg: "required"}
		default:
			return &Error{Field: at("status"), Msg: fmt.Sprintf("must be %q or %q, got %q", StatusFiring, StatusResolved, a.Status)}
		}
		if a.Labels["alertname"] == "" {
			return &Error{Field: at("labels.alertname"), Msg: "required"}
		}
		if a.Fingerprint == "" {
			a.Fingerprint = Fingerprint(a.Labels)
		} else if !validFingerprint(a.Fingerprint) {
			return &Error{Field: at("fingerprint"), Msg: fmt.Sprintf("want 16 hex digits, got %q", a.Fingerprint)}
		}
	}
	return nil
}

func validFingerprint(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// separator is the byte Prometheus puts between label names and values when
// it hashes a label set; using it makes our fingerprints equal Alertmanager's.
const separator = '\xff'

// Fingerprint returns the hex FNV-1a 64 hash of the label set, computed the
// way Prometheus' model.LabelSet.Fingerprint does, so that it matches the
// fingerprint field Alertmanager sends.
func Fingerprint(labels map[string]string) string {
	if len(labels) == 0 {
		return fmt.Sprintf("%016x", fnv.New64a().Sum64())
	}
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	h := fnv.New64a()
	var buf bytes.Buffer
	for _, k := range names {
		buf.WriteString(k)
		buf.WriteByte(separator)
		buf.WriteString(labels[k])
		buf.WriteByte(separator)
	}
	h.Write(buf.Bytes())
	return fmt.Sprintf("%016x", h.Sum64())
}
