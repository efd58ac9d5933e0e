// Package logsql provides a bounded client of the VictoriaLogs query API:
// log lines, hit counts over time, streams, field names and values, and
// the filters that select one pod's container logs as vlagent ships them.
//
// Every answer is bounded by a line limit and a byte limit and says when it
// was cut. Values from outside (a namespace, a pod name) enter a query only
// through QuoteString, so they cannot change its structure. A Client made
// WithRecorder records each call as a toolcall.Call.
package logsql

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Field names vlagent writes for Kubernetes container logs. The first
// three are stream fields.
const (
	FieldNamespace = "kubernetes.pod_namespace"
	FieldPod       = "kubernetes.pod_name"
	FieldContainer = "kubernetes.container_name"
	FieldNode      = "kubernetes.pod_node_name"
	// FieldPodLabelPrefix precedes a pod label's key:
	// kubernetes.pod_labels.app.
	FieldPodLabelPrefix = "kubernetes.pod_labels."
)

// Defaults for Config fields left zero.
const (
	DefaultTimeout = 30 * time.Second
	// DefaultLimit lines: a screenful of context around an error, small
	// enough to hand to a model whole.
	DefaultLimit = 200
	// DefaultMaxLimit caps what a caller may ask for in one call.
	DefaultMaxLimit = 2000
	// DefaultMaxBytes of an answer are read; the rest is dropped, at a
	// line boundary, and the answer marked truncated.
	DefaultMaxBytes = 4 << 20
	// DefaultMaxBuckets bounds a hits series, as MaxPoints does a metric.
	DefaultMaxBuckets = 300
	// DefaultMaxValues bounds streams, field names and values, and the
	// groups of a hits call.
	DefaultMaxValues = 200
)

// Backend is the name recorded for calls of this client.
const Backend = "victorialogs"

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// URL is VictoriaLogs' base URL, e.g. http://victoria-logs:9428;
	// /select/logsql/... is appended.
	URL          string
	Timeout      time.Duration
	DefaultLimit int
	MaxLimit     int
	MaxBytes     int64
	MaxBuckets   int
	MaxValues    int
	// HTTPClient sends the requests (nil: a client without its own
	// timeout; Timeout applies through the request context).
	HTTPClient *http.Client
}

// Client queries one VictoriaLogs. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	rec  *toolcall.Recorder
}

// New returns a client for cfg, with defaults filled in.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("logsql: no URL configured")
	}
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("logsql: URL %q: %w", cfg.URL, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("logsql: URL %q: want http(s)://host[:port][/path]", cfg.URL)
	}
	cfg.URL = base.String()
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = DefaultMaxLimit
	}
	if cfg.DefaultLimit <= 0 {
		cfg.DefaultLimit = DefaultLimit
	}
	cfg.DefaultLimit = min(cfg.DefaultLimit, cfg.MaxLimit)
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	if cfg.MaxValues <= 0 {
		cfg.MaxValues = DefaultMaxValues
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{cfg: cfg, base: base, hc: hc}, nil
}

// Config returns the client's configuration with defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// WithRecorder returns a copy of c that records every call in rec.
func (c *Client) WithRecorder(rec *toolcall.Recorder) *Client {
	cp := *c
	cp.rec = rec
	return &cp
}

// Entry is one log line.
type Entry struct {
	Time time.Time
	Msg  string
	// Fields are the line's other fields (_stream, kubernetes.pod_name,
	// level, ...), every value as a string.
	Fields map[string]string
}

// Lines is the bounded answer of Query.
type Lines struct {
	// Entries are in time order, oldest first.
	Entries []Entry
	// Truncated says more lines matched than are here: the limit or the
	// byte bound cut the answer. Warnings say which.
	Truncated bool
	Warnings  []string
}

// Query returns up to limit lines matching the LogsQL query q in
// [start, end) (zero times: unbounded on that side), the newest ones when
// more match, sorted oldest first. limit <= 0 means DefaultLimit; a limit
// above MaxLimit is lowered to it.
func (c *Client) Query(ctx context.Context, q string, start, end time.Time, limit int) (*Lines, error) {
	var warn string
	switch {
	case limit <= 0:
		limit = c.cfg.DefaultLimit
	case limit > c.cfg.MaxLimit:
		warn = fmt.Sprintf("limit %d lowered to %d", limit, c.cfg.MaxLimit)
		limit = c.cfg.MaxLimit
	}
	params := url.Values{"query": {q}}
	args := map[string]string{"query": q, "limit": strconv.Itoa(limit)}
	addRange(params, args, start, end)
	desc := q + rangeSuffix(start, end, "limit "+strconv.Itoa(limit))
	params.Set("limit", strconv.Itoa(limit))
	p := c.start("logs.query", args, desc, "/select/logsql/query", params)
	// One line more than we keep shows whether more matched. VictoriaLogs
	// answers a limit with the newest matching lines.
	params.Set("limit", strconv.Itoa(limit+1))
	res := &Lines{}
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	err := c.do(ctx, "query", q, "/select/logsql/query", params, func(body io.Reader) error {
		return readLines(body, res, limit, c.cfg.MaxBytes)
	})
	if err != nil {
		res = nil
	}
	if err != nil {
		p.Finish(err, false, false, nil)
	} else {
		p.Finish(nil, len(res.Entries) == 0, res.Truncated, res.Text)
	}
	return res, err
}

// PodLogs returns up to limit lines of one pod's container logs in
// [start, end), oldest first (the newest lines when more match). container
// may be empty for all of the pod's containers.
func (c *Client) PodLogs(ctx context.Context, namespace, pod, container string, start, end time.Time, limit int) (*Lines, error) {
	if namespace == "" || pod == "" {
		// Without both, the query would read every pod's logs.
		return nil, fmt.Errorf("pod logs: namespace and pod are required, got namespace %q pod %q", namespace, pod)
	}
	return c.Query(ctx, PodQuery(namespace, pod, container, ""), start, end, limit)
}

// readLines reads JSON lines into res: at most limit entries (of the
// limit+1 asked for) and maxBytes bytes, cutting only at line ends.
func readLines(body io.Reader, res *Lines, limit int, maxBytes int64) error {
	// One byte past the bound shows that there was more.
	br := bufio.NewReader(io.LimitReader(body, maxBytes+1))
	var read int64
	for {
		line, err := br.ReadBytes('\n')
		read += int64(len(line))
		if read > maxBytes {
			res.Truncated = true
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"answer cut at %s after %d lines; narrow the query or the time range", byteSize(maxBytes), len(res.Entries)))
			break
		}
		if len(bytes.TrimSpace(line)) > 0 {
			e, perr := parseEntry(line)
			if perr != nil {
				return perr
			}
			res.Entries = append(res.Entries, e)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	sort.SliceStable(res.Entries, func(i, j int) bool { return res.Entries[i].Time.Before(res.Entries[j].Time) })
	if n := len(res.Entries); n > limit {
		res.Entries = res.Entries[n-limit:]
		res.Truncated = true
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"showing the newest %d lines; more matched: narrow the query or the time range", limit))
	}
	return nil
}

func parseEntry(line []byte) (Entry, error) {
	var raw map[string]any
	if err := json.Unmarshal(line, &raw); err != nil {
		return Entry{}, fmt.Errorf("decode line %q: %w", truncate(string(line), 200), err)
	}
	e := Entry{Fields: make(map[string]string, len(raw))}
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		switch k {
		case "_time":
			e.Time, _ = time.Parse(time.RFC3339Nano, s)
		case "_msg":
			e.Msg = s
		case "_stream_id":
			// An internal id; _stream says the same in words.
		default:
			e.Fields[k] = s
		}
	}
	return e, nil
}

// Text renders one line per entry as "TIME msg", then any warnings.
func (l *Lines) Text() string {
	var b strings.Builder
	if len(l.Entries) == 0 {
		b.WriteString("no lines\n")
	}
	for _, e := range l.Entries {
		if !e.Time.IsZero() {
			b.WriteString(e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
			b.WriteByte(' ')
		}
		// One entry, one line: a multi-line message (a stack trace) keeps
		// its lines visible as \n.
		b.WriteString(strings.ReplaceAll(e.Msg, "\n", `\n`))
		b.WriteByte('\n')
	}
	writeNotes(&b, l.Warnings)
	return b.String()
}

// HitsResult is the bounded answer of Hits: counts of matching lines per
// time bucket, per group.
type HitsResult struct {
	Start, End time.Time
	Step       time.Duration
	Groups     []HitsGroup
	Truncated  bool
	Warnings   []string
}

// HitsGroup is the hits of one group of field values (no fields: all
// lines, or the lines outside the biggest groups when there are too many).
type HitsGroup struct {
	Fields  map[string]string
	Buckets []Bucket
	Total   uint64
}

// Bucket is the number of lines in [T, T+step).
type Bucket struct {
	T     time.Time
	Count uint64
}

// Hits counts the lines matching q in [start, end) per step, grouped by
// the fields in by if any (the biggest MaxValues groups; the rest in a
// group without fields). A zero step, or one giving more than MaxBuckets
// buckets, is replaced by the smallest readable step within MaxBuckets.
func (c *Client) Hits(ctx context.Context, q string, start, end time.Time, step time.Duration, by ...string) (*HitsResult, error) {
	res := &HitsResult{Start: start, End: end}
	args := map[string]string{"query": q}
	if step > 0 {
		args["step"] = step.String()
	}
	if len(by) > 0 {
		args["by"] = strings.Join(by, ",")
	}
	auto := AutoStep(end.Sub(start), c.cfg.MaxBuckets)
	res.Step = step
	switch {
	case step <= 0:
		res.Step = auto
	case step < auto && int(end.Sub(start)/step)+1 > c.cfg.MaxBuckets:
		res.Step = auto
		res.Warnings = append(res.Warnings, fmt.Sprintf("step %s would give %d buckets; used %s",
			shortDuration(step), int(end.Sub(start)/step)+1, shortDuration(auto)))
	}
	params := url.Values{"query": {q}, "step": {formatStep(res.Step)}}
	addRange(params, args, start, end)
	if len(by) > 0 {
		params["field"] = by
		params.Set("fields_limit", strconv.Itoa(c.cfg.MaxValues))
	}
	desc := "hits " + q + rangeSuffix(start, end, "step "+shortDuration(res.Step))
	if len(by) > 0 {
		desc += " by (" + strings.Join(by, ", ") + ")"
	}
	p := c.start("logs.hits", args, desc, "/select/logsql/hits", params)
	var err error
	if start.IsZero() || end.IsZero() || !end.After(start) {
		err = fmt.Errorf("hits %q: want start < end, both set; got %s..%s", q, start.Format(time.RFC3339), end.Format(time.RFC3339))
	} else {
		err = c.do(ctx, "hits", q, "/select/logsql/hits", params, func(body io.Reader) error {
			return decodeHits(body, res, c.cfg.MaxBytes)
		})
	}
	if err != nil {
		res = nil
	}
	if err != nil {
		p.Finish(err, false, false, nil)
	} else {
		p.Finish(nil, res.total() == 0, res.Truncated, res.Text)
	}
	return res, err
}

func decodeHits(body io.Reader, res *HitsResult, maxBytes int64) error {
	var raw struct {
		Hits []struct {
			Fields     map[string]string `json:"fields"`
			Timestamps []time.Time       `json:"timestamps"`
			Values     []uint64          `json:"values"`
			Total      uint64            `json:"total"`
		} `json:"hits"`
	}
	if err := decodeJSON(body, maxBytes, &raw); err != nil {
		return err
	}
	for _, h := range raw.Hits {
		g := HitsGroup{Fields: h.Fields, Total: h.Total}
		for i, ts := range h.Timestamps {
			if i < len(h.Values) {
				g.Buckets = append(g.Buckets, Bucket{T: ts.UTC(), Count: h.Values[i]})
			}
		}
		res.Groups = append(res.Groups, g)
	}
	// Biggest first: the pod or level that logs most is the likeliest lead.
	sort.SliceStable(res.Groups, func(i, j int) bool { return res.Groups[i].Total > res.Groups[j].Total })
	return nil
}

func (h *HitsResult) total() uint64 {
	var n uint64
	for _, g := range h.Groups {
		n += g.Total
	}
	return n
}

// hitsShown is how many non-empty buckets a group's line lists.
const hitsShown = 8

// Text renders one line per group: its fields, total, the peak bucket and
// the first and last non-empty buckets.
func (h *HitsResult) Text() string {
	var b strings.Builder
	if h.total() == 0 {
		b.WriteString("no hits\n")
	}
	for _, g := range h.Groups {
		if g.Total == 0 {
			continue
		}
		b.WriteString(fieldsString(g.Fields))
		var peak Bucket
		var nonzero []Bucket
		for _, bk := range g.Buckets {
			if bk.Count > peak.Count {
				peak = bk
			}
			if bk.Count > 0 {
				nonzero = append(nonzero, bk)
			}
		}
		fmt.Fprintf(&b, " total=%d", g.Total)
		if peak.Count > 0 {
			fmt.Fprintf(&b, " peak=%d@%s", peak.Count, peak.T.Format(time.RFC3339))
		}
		fmt.Fprintf(&b, " buckets=%d/%d:", len(nonzero), len(g.Buckets))
		for i, bk := range nonzero {
			if len(nonzero) > hitsShown && i == hitsShown/2 {
				b.WriteString(" …")
			}
			if len(nonzero) > hitsShown && i >= hitsShown/2 && i < len(nonzero)-hitsShown/2 {
				continue
			}
			fmt.Fprintf(&b, " %s=%d", bk.T.Format(time.RFC3339), bk.Count)
		}
		b.WriteByte('\n')
	}
	writeNotes(&b, h.Warnings)
	return b.String()
}

func fieldsString(f map[string]string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(f[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Values is a bounded list of values with their hit counts: streams,
// field names or field values.
type Values struct {
	Values []ValueHits
	// Truncated says more values exist. VictoriaLogs then returns an
	// arbitrary subset with every Hits zero, since it cannot count them
	// cheaply.
	Truncated bool
	Warnings  []string
}

// ValueHits is one value and the number of lines that have it.
type ValueHits struct {
	Value string
	Hits  uint64
}

// Streams returns up to limit (<= 0: MaxValues) streams with lines
// matching q in [start, end), as {field="value",...} with their hits.
func (c *Client) Streams(ctx context.Context, q string, start, end time.Time, limit int) (*Values, error) {
	limit = c.valuesLimit(limit)
	params := url.Values{"query": {q}}
	args := map[string]string{"query": q, "limit": strconv.Itoa(limit)}
	addRange(params, args, start, end)
	desc := "streams " + q + rangeSuffix(start, end, "limit "+strconv.Itoa(limit))
	return c.values(ctx, "logs.streams", "streams", "/select/logsql/streams", q, params, args, desc, limit, true)
}

// FieldNames returns the names of the fields of lines matching q in
// [start, end), with how many lines have each, at most MaxValues of them.
func (c *Client) FieldNames(ctx context.Context, q string, start, end time.Time) (*Values, error) {
	params := url.Values{"query": {q}}
	args := map[string]string{"query": q}
	addRange(params, args, start, end)
	desc := "field_names " + q + rangeSuffix(start, end, "")
	// The endpoint takes no limit; the answer is one entry per field name,
	// small in practice, and capped here after reading.
	return c.values(ctx, "logs.field_names", "field_names", "/select/logsql/field_names", q, params, args, desc, c.cfg.MaxValues, false)
}

// FieldValues returns up to limit (<= 0: MaxValues) values of field among
// lines matching q in [start, end), with how many lines have each.
func (c *Client) FieldValues(ctx context.Context, q, field string, start, end time.Time, limit int) (*Values, error) {
	limit = c.valuesLimit(limit)
	params := url.Values{"query": {q}, "field": {field}}
	args := map[string]string{"query": q, "field": field, "limit": strconv.Itoa(limit)}
	addRange(params, args, start, end)
	desc := "field_values " + field + " " + q + rangeSuffix(start, end, "limit "+strconv.Itoa(limit))
	return c.values(ctx, "logs.field_values", "field_values "+field, "/select/logsql/field_values", q, params, args, desc, limit, true)
}

func (c *Client) valuesLimit(limit int) int {
	if limit <= 0 || limit > c.cfg.MaxValues {
		return c.cfg.MaxValues
	}
	return limit
}

func (c *Client) values(ctx context.Context, tool, op, path, q string, params url.Values, args map[string]string, desc string, limit int, sendLimit bool) (*Values, error) {
	if sendLimit {
		params.Set("limit", strconv.Itoa(limit))
	}
	p := c.start(tool, args, desc, path, params)
	if sendLimit {
		// One more than we keep shows whether more exist.
		params.Set("limit", strconv.Itoa(limit+1))
	}
	res := &Values{}
	err := c.do(ctx, op, q, path, params, func(body io.Reader) error {
		var raw struct {
			Values []struct {
				Value string `json:"value"`
				Hits  uint64 `json:"hits"`
			} `json:"values"`
		}
		if err := decodeJSON(body, c.cfg.MaxBytes, &raw); err != nil {
			return err
		}
		for _, v := range raw.Values {
			res.Values = append(res.Values, ValueHits{Value: v.Value, Hits: v.Hits})
		}
		return nil
	})
	if err != nil {
		res = nil
	} else {
		sort.SliceStable(res.Values, func(i, j int) bool {
			if res.Values[i].Hits != res.Values[j].Hits {
				return res.Values[i].Hits > res.Values[j].Hits
			}
			return res.Values[i].Value < res.Values[j].Value
		})
		if n := len(res.Values); n > limit {
			res.Values = res.Values[:limit]
			res.Truncated = true
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"showing %d values; more exist (an arbitrary subset, without hit counts): narrow the query", limit))
		}
	}
	if err != nil {
		p.Finish(err, false, false, nil)
	} else {
		p.Finish(nil, len(res.Values) == 0, res.Truncated, res.Text)
	}
	return res, err
}

// Text renders one value per line with its hits, then any warnings.
func (v *Values) Text() string {
	var b strings.Builder
	if len(v.Values) == 0 {
		b.WriteString("no values\n")
	}
	for _, vh := range v.Values {
		fmt.Fprintf(&b, "%s (%d)\n", vh.Value, vh.Hits)
	}
	writeNotes(&b, v.Warnings)
	return b.String()
}

// decodeJSON decodes one JSON document of at most maxBytes.
func decodeJSON(body io.Reader, maxBytes int64, v any) error {
	raw, err := io.ReadAll(io.LimitReader(body, maxBytes+1))
	if err != nil {
		return err
	}
	if int64(len(raw)) > maxBytes {
		return fmt.Errorf("answer larger than %s; narrow the query or the time range", byteSize(maxBytes))
	}
	return json.Unmarshal(raw, v)
}

// Error is a call that VictoriaLogs refused or that did not reach it. It
// names the backend and the query so that a person can retry it.
type Error struct {
	URL   string
	Op    string
	Query string
	// StatusCode is the HTTP status (0: no answer) and Message the start
	// of VictoriaLogs' plain-text error.
	StatusCode int
	Message    string
	Err        error
}

// Error says what was tried against which backend, and what went wrong.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Query != "" {
		b.WriteString(" " + strconv.Quote(e.Query))
	}
	b.WriteString(" against " + e.URL + ": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap returns the transport or decoding failure, if any.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same call may succeed later unchanged.
func (e *Error) Retryable() bool {
	if e.Err != nil {
		return errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, syscall.ECONNREFUSED) ||
			errors.Is(e.Err, syscall.ECONNRESET)
	}
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// do POSTs params as a form (queries can be long) and hands a 200 answer's
// body to read; it maps every failure to an *Error.
func (c *Client) do(ctx context.Context, op, q, path string, params url.Values, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	e := &Error{URL: c.cfg.URL, Op: op, Query: q}
	params.Set("timeout", c.cfg.Timeout.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(path, nil), strings.NewReader(params.Encode()))
	if err != nil {
		e.Err = err
		return e
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		e.Err = transportError(ctx, err, c.cfg.Timeout)
		return e
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e.StatusCode = resp.StatusCode
		e.Message = truncate(strings.Join(strings.Fields(string(raw)), " "), 500)
		return e
	}
	if err := read(resp.Body); err != nil {
		if ctx.Err() != nil {
			err = transportError(ctx, err, c.cfg.Timeout)
		}
		e.Err = err
		return e
	}
	return nil
}

// transportError explains a failed round trip in terms of what to do.
func transportError(ctx context.Context, err error, timeout time.Duration) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer within the %s timeout; narrow the time range or the query, or raise the timeout: %w",
			timeout, context.DeadlineExceeded)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection refused; is VictoriaLogs running at this URL? %w", err)
	}
	return err
}

// start begins recording a call; the rerun link is the API URL itself.
func (c *Client) start(tool string, args map[string]string, desc, path string, params url.Values) *toolcall.Pending {
	p := c.rec.Start(tool, Backend, args, desc)
	p.SetURL(c.endpoint(path, params))
	return p
}

// endpoint joins the base URL and path and merges the base URL's own query
// with params.
func (c *Client) endpoint(path string, params url.Values) string {
	u := *c.base
	q := u.Query()
	for k, v := range params {
		q[k] = append(q[k], v...)
	}
	u.RawQuery, u.Fragment = "", ""
	s := strings.TrimRight(u.String(), "/") + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

func addRange(params url.Values, args map[string]string, start, end time.Time) {
	if !start.IsZero() {
		params.Set("start", start.UTC().Format(time.RFC3339Nano))
		args["start"] = start.UTC().Format(time.RFC3339)
	}
	if !end.IsZero() {
		params.Set("end", end.UTC().Format(time.RFC3339Nano))
		args["end"] = end.UTC().Format(time.RFC3339)
	}
}

// rangeSuffix renders " [start..end extra]" for descriptions.
func rangeSuffix(start, end time.Time, extra string) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	var parts []string
	if !start.IsZero() || !end.IsZero() {
		parts = append(parts, f(start)+".."+f(end))
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	if len(parts) == 0 {
		return ""
	}
	return " [" + strings.Join(parts, " ") + "]"
}

func writeNotes(b *strings.Builder, notes []string) {
	for _, w := range notes {
		b.WriteString("note: ")
		b.WriteString(w)
		b.WriteByte('\n')
	}
}

// byteSize renders n bytes in the largest whole binary unit.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s, _ = toolcall.Truncate(s, n)
	return s + "…"
}
