// Package promql provides a bounded client of the Prometheus HTTP query API
// as served by VictoriaMetrics, vmselect and Prometheus: instant and range
// queries, series and label look-ups, rules and alerts.
//
// Every expression is parsed with the MetricsQL parser (a superset of
// PromQL) before it is sent, so a malformed query fails here with a clear
// message instead of costing a round trip. Every answer is capped to a
// configured number of series and points per series, and says so when it is
// cut. A Client made WithRecorder records each call as a toolcall.Call.
package promql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metricsql"

	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Defaults for Config fields left zero.
const (
	// VictoriaMetrics queries over days of data routinely need more than
	// 20 s on a loaded vmselect, so the default leaves room for them.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxSeries keeps an answer readable by a person and small in a
	// model's context; aggregate or topk() to see the rest.
	DefaultMaxSeries = 50
	// DefaultMaxPoints per series: a chart's worth, enough to see the shape
	// of an incident without paying for every sample.
	DefaultMaxPoints = 300
	// DefaultMaxValues bounds label names and values, and rules and alerts.
	DefaultMaxValues = 200
	// DefaultMaxResponseBytes bounds what is read of one answer. Series
	// beyond MaxSeries are decoded one at a time and dropped, so this only
	// stops answers that would take long to read, not large ones.
	DefaultMaxResponseBytes = 64 << 20
)

// Backend is the name recorded for calls of this client.
const Backend = "prometheus"

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// URL is the base of the API, e.g. http://victoria-metrics:8428 or
	// http://vmselect:8481/select/0/prometheus; /api/v1/... is appended.
	URL string
	// Timeout bounds each call, and is passed on to the backend as its
	// query timeout.
	Timeout          time.Duration
	MaxSeries        int
	MaxPoints        int
	MaxValues        int
	MaxResponseBytes int64
	// HTTPClient sends the requests (nil: a client without its own timeout;
	// Timeout applies through the request context).
	HTTPClient *http.Client
}

// Client queries one backend. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	rec  *toolcall.Recorder
}

// New returns a client for cfg, with defaults filled in.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("promql: no URL configured")
	}
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("promql: URL %q: %w", cfg.URL, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("promql: URL %q: want http(s)://host[:port][/path]", cfg.URL)
	}
	cfg.URL = base.String()
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxSeries <= 0 {
		cfg.MaxSeries = DefaultMaxSeries
	}
	if cfg.MaxPoints <= 0 {
		cfg.MaxPoints = DefaultMaxPoints
	}
	if cfg.MaxValues <= 0 {
		cfg.MaxValues = DefaultMaxValues
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
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

// Instant evaluates query at t (zero: the backend's now).
func (c *Client) Instant(ctx context.Context, query string, t time.Time) (*Result, error) {
	params := url.Values{"query": {query}}
	args := map[string]string{"query": query}
	desc := "query " + query
	if !t.IsZero() {
		params.Set("time", formatTime(t))
		args["time"] = t.UTC().Format(time.RFC3339)
		desc += " [@" + t.UTC().Format(time.RFC3339) + "]"
	}
	p := c.start("metrics.query", args, desc, "/api/v1/query", params)
	res, err := c.instant(ctx, query, t, params)
	return res, finishResult(p, res, err)
}

func (c *Client) instant(ctx context.Context, query string, t time.Time, params url.Values) (*Result, error) {
	if err := c.validate(query); err != nil {
		return nil, err
	}
	params.Set("timeout", c.cfg.Timeout.String())
	res := &Result{Query: query, Time: t}
	err := c.do(ctx, "query", query, "/api/v1/query", params, func(dec *json.Decoder) error {
		return decodeQuery(dec, res, c.cfg.MaxSeries, c.cfg.MaxPoints)
	}, &res.Warnings)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Range evaluates query over [start, end] every step. A zero step is
// chosen so that each series has at most MaxPoints points, rounded up to a
// readable value (15s, 30s, 1m, 2m, 5m, ...); a step that would give more
// points than that is widened the same way, with a warning.
func (c *Client) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) (*Result, error) {
	args := map[string]string{"query": query, "start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339)}
	if step > 0 {
		args["step"] = step.String()
	}
	used, warn := c.rangeStep(start, end, step)
	params := url.Values{"query": {query}, "start": {formatTime(start)}, "end": {formatTime(end)}, "step": {formatStep(used)}}
	desc := fmt.Sprintf("query_range %s [%s..%s step %s]", query, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), shortDuration(used))
	p := c.start("metrics.query_range", args, desc, "/api/v1/query_range", params)
	res, err := c.queryRange(ctx, query, start, end, used, warn, params)
	return res, finishResult(p, res, err)
}

func (c *Client) rangeStep(start, end time.Time, step time.Duration) (time.Duration, string) {
	auto := AutoStep(end.Sub(start), c.cfg.MaxPoints)
	switch {
	case step <= 0:
		return auto, ""
	case step < auto && PointsFor(end.Sub(start), step) > c.cfg.MaxPoints:
		return auto, fmt.Sprintf("step %s would give %d points per series; used %s to stay within %d",
			shortDuration(step), PointsFor(end.Sub(start), step), shortDuration(auto), c.cfg.MaxPoints)
	default:
		return step, ""
	}
}

func (c *Client) queryRange(ctx context.Context, query string, start, end time.Time, step time.Duration, warn string, params url.Values) (*Result, error) {
	if err := c.validate(query); err != nil {
		return nil, err
	}
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return nil, fmt.Errorf("query_range %q: want start <= end, both set; got %s..%s", query, start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	params.Set("timeout", c.cfg.Timeout.String())
	res := &Result{Query: query, Start: start, End: end, Step: step}
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	err := c.do(ctx, "query_range", query, "/api/v1/query_range", params, func(dec *json.Decoder) error {
		return decodeQuery(dec, res, c.cfg.MaxSeries, c.cfg.MaxPoints)
	}, &res.Warnings)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Series returns the label sets of the series matching the selector match
// that have samples in [start, end] (zero times: the backend's default,
// which for VictoriaMetrics is only the current day).
func (c *Client) Series(ctx context.Context, match string, start, end time.Time) (*Result, error) {
	params := url.Values{"match[]": {match}}
	args := map[string]string{"match": match}
	addRange(params, args, start, end)
	// One more than we keep, so that a cut is visible without asking the
	// backend to list every series.
	params.Set("limit", strconv.Itoa(c.cfg.MaxSeries+1))
	desc := "series " + match + rangeSuffix(start, end)
	p := c.start("metrics.series", args, desc, "/api/v1/series", params)
	res, err := c.series(ctx, match, start, end, params)
	return res, finishResult(p, res, err)
}

func (c *Client) series(ctx context.Context, match string, start, end time.Time, params url.Values) (*Result, error) {
	if err := c.validate(match); err != nil {
		return nil, err
	}
	res := &Result{Query: match, Start: start, End: end, Type: "series"}
	err := c.do(ctx, "series", match, "/api/v1/series", params, func(dec *json.Decoder) error {
		return decodeSeries(dec, res, c.cfg.MaxSeries)
	}, &res.Warnings)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// LabelNames returns the label names of series in [start, end] (zero: the
// backend's default range), of those matching any of match if given.
func (c *Client) LabelNames(ctx context.Context, start, end time.Time, match ...string) (*Values, error) {
	params := url.Values{}
	args := map[string]string{}
	if len(match) > 0 {
		params["match[]"] = match
		args["match"] = strings.Join(match, " or ")
	}
	addRange(params, args, start, end)
	params.Set("limit", strconv.Itoa(c.cfg.MaxValues+1))
	desc := "label_names" + matchSuffix(match) + rangeSuffix(start, end)
	p := c.start("metrics.label_names", args, desc, "/api/v1/labels", params)
	res, err := c.values(ctx, "label_names", "/api/v1/labels", params, match)
	return res, finishValues(p, res, err)
}

// LabelValues returns the values of label name in [start, end] (zero: the
// backend's default range), of series matching any of match if given.
func (c *Client) LabelValues(ctx context.Context, name string, start, end time.Time, match ...string) (*Values, error) {
	params := url.Values{}
	args := map[string]string{"label": name}
	if len(match) > 0 {
		params["match[]"] = match
		args["match"] = strings.Join(match, " or ")
	}
	addRange(params, args, start, end)
	params.Set("limit", strconv.Itoa(c.cfg.MaxValues+1))
	// The name is a path segment: escape it so that a hostile name cannot
	// reach another endpoint.
	path := "/api/v1/label/" + url.PathEscape(name) + "/values"
	desc := "label_values " + name + matchSuffix(match) + rangeSuffix(start, end)
	p := c.start("metrics.label_values", args, desc, path, params)
	var res *Values
	var err error
	if name == "" {
		err = fmt.Errorf("label_values: empty label name")
	} else {
		res, err = c.values(ctx, "label_values "+name, path, params, match)
	}
	return res, finishValues(p, res, err)
}

func (c *Client) values(ctx context.Context, op, path string, params url.Values, match []string) (*Values, error) {
	for _, m := range match {
		if err := c.validate(m); err != nil {
			return nil, err
		}
	}
	res := &Values{}
	err := c.do(ctx, op, strings.Join(match, " or "), path, params, func(dec *json.Decoder) error {
		var data []string
		if err := dec.Decode(&data); err != nil {
			return err
		}
		res.Values = data
		return nil
	}, &res.Warnings)
	if err != nil {
		return nil, err
	}
	res.cap(c.cfg.MaxValues)
	return res, nil
}

// Rules returns the alerting and recording rules and their state, as
// Prometheus serves them, or VictoriaMetrics when it proxies vmalert
// (-vmalert.proxyURL; without it the list is empty).
func (c *Client) Rules(ctx context.Context) (*Rules, error) {
	p := c.start("metrics.rules", nil, "rules", "/api/v1/rules", nil)
	res := &Rules{}
	err := c.do(ctx, "rules", "", "/api/v1/rules", nil, func(dec *json.Decoder) error {
		var data struct {
			Groups []apiGroup `json:"groups"`
		}
		if err := dec.Decode(&data); err != nil {
			return err
		}
		res.fill(data.Groups, c.cfg.MaxValues)
		return nil
	}, &res.Warnings)
	if err != nil {
		res = nil
	}
	if err != nil {
		p.Finish(err, false, false, nil)
	} else {
		p.Finish(nil, len(res.Groups) == 0, res.Truncated, res.Text)
	}
	return res, err
}

// Alerts returns the active (pending and firing) alerts.
func (c *Client) Alerts(ctx context.Context) (*Alerts, error) {
	p := c.start("metrics.alerts", nil, "alerts", "/api/v1/alerts", nil)
	res := &Alerts{}
	err := c.do(ctx, "alerts", "", "/api/v1/alerts", nil, func(dec *json.Decoder) error {
		var data struct {
			Alerts []apiAlert `json:"alerts"`
		}
		if err := dec.Decode(&data); err != nil {
			return err
		}
		res.fill(data.Alerts, c.cfg.MaxValues)
		return nil
	}, &res.Warnings)
	if err != nil {
		res = nil
	}
	if err != nil {
		p.Finish(err, false, false, nil)
	} else {
		p.Finish(nil, len(res.Alerts) == 0, res.Truncated, res.Text)
	}
	return res, err
}

// ErrInvalidQuery is wrapped by the error for an expression that does not
// parse; such an expression is never sent.
var ErrInvalidQuery = errors.New("invalid query")

// validate parses q. MetricsQL accepts all of PromQL plus its own
// functions and WITH templates, so a query valid for either backend passes.
func (c *Client) validate(q string) error {
	if strings.TrimSpace(q) == "" {
		return fmt.Errorf("%w: empty expression (not sent to %s)", ErrInvalidQuery, c.cfg.URL)
	}
	if _, err := metricsql.Parse(q); err != nil {
		return fmt.Errorf("%w: %q (not sent to %s): %v", ErrInvalidQuery, q, c.cfg.URL, err)
	}
	return nil
}

// start begins recording a call; the rerun link is the API URL itself.
func (c *Client) start(tool string, args map[string]string, desc, path string, params url.Values) *toolcall.Pending {
	p := c.rec.Start(tool, Backend, args, desc)
	p.SetURL(c.endpoint(path, params))
	return p
}

// endpoint returns the URL of path with params, for rerun links (without
// the timeout and limit this client adds). path must be escaped already.
func (c *Client) endpoint(path string, params url.Values) string {
	q := url.Values{}
	for k, v := range params {
		if k != "timeout" && k != "limit" {
			q[k] = v
		}
	}
	return c.endpointRaw(path, q)
}

// endpointRaw joins the base URL and path, and merges the base URL's own
// query (say, a vmauth tenant argument) with params.
func (c *Client) endpointRaw(path string, params url.Values) string {
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

// do sends one request: POST with a form body for the query endpoints
// (long expressions do not fit every proxy's URL limit), GET otherwise. It
// maps every failure to a *BackendError naming the backend and the query.
func (c *Client) do(ctx context.Context, op, query, path string, params url.Values, decode func(*json.Decoder) error, warnings *[]string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	berr := &BackendError{URL: c.cfg.URL, Op: op, Query: query}
	var req *http.Request
	var err error
	switch path {
	case "/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels":
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.endpointRaw(path, nil), strings.NewReader(params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	default:
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.endpointRaw(path, params), nil)
	}
	if err != nil {
		berr.Err = err
		return berr
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		berr.Err = transportError(ctx, err, c.cfg.Timeout)
		return berr
	}
	defer resp.Body.Close()
	body := &limitedReader{r: resp.Body, n: c.cfg.MaxResponseBytes}
	if resp.StatusCode != http.StatusOK {
		berr.StatusCode = resp.StatusCode
		raw, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		berr.Type, berr.Message = parseErrorBody(raw)
		return berr
	}
	env := &envelope{}
	if err := decodeEnvelope(body, env, decode); err != nil {
		switch {
		case body.exceeded:
			berr.Err = fmt.Errorf("answer larger than %s; narrow the selector or the time range", byteSize(c.cfg.MaxResponseBytes))
		case ctx.Err() != nil:
			berr.Err = transportError(ctx, err, c.cfg.Timeout)
		default:
			berr.Err = fmt.Errorf("decode answer: %w", err)
		}
		return berr
	}
	if env.Status == "error" {
		berr.StatusCode = resp.StatusCode
		berr.Type, berr.Message = env.ErrorType, env.Error
		return berr
	}
	*warnings = append(*warnings, env.notes()...)
	return nil
}

// limitedReader is io.LimitedReader that remembers it hit the limit.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.exceeded = true
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
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

func addRange(params url.Values, args map[string]string, start, end time.Time) {
	if !start.IsZero() {
		params.Set("start", formatTime(start))
		args["start"] = start.UTC().Format(time.RFC3339)
	}
	if !end.IsZero() {
		params.Set("end", formatTime(end))
		args["end"] = end.UTC().Format(time.RFC3339)
	}
}

func rangeSuffix(start, end time.Time) string {
	if start.IsZero() && end.IsZero() {
		return ""
	}
	f := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return " [" + f(start) + ".." + f(end) + "]"
}

func matchSuffix(match []string) string {
	if len(match) == 0 {
		return ""
	}
	return " " + strings.Join(match, " or ")
}

// formatTime renders t as Unix seconds with millisecond precision, which
// every Prometheus-compatible backend accepts.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// formatStep renders a step in seconds; Prometheus and VictoriaMetrics
// both take a float.
func formatStep(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func finishResult(p *toolcall.Pending, res *Result, err error) error {
	if err != nil {
		p.Finish(err, false, false, nil)
		return err
	}
	p.Finish(nil, len(res.Series) == 0, res.Truncated, res.Text)
	return nil
}

func finishValues(p *toolcall.Pending, res *Values, err error) error {
	if err != nil {
		p.Finish(err, false, false, nil)
		return err
	}
	p.Finish(nil, len(res.Values) == 0, res.Truncated, res.Text)
	return nil
}

// envelope is the part of every API answer outside "data".
type envelope struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Infos     []string `json:"infos"`
	IsPartial bool     `json:"isPartial"`
}

// notes returns what a reader of the answer should know about it.
func (e *envelope) notes() []string {
	notes := append(append([]string(nil), e.Warnings...), e.Infos...)
	if e.IsPartial {
		notes = append(notes, "partial answer: some storage nodes did not respond")
	}
	return notes
}

// decodeEnvelope walks the top-level object with the streaming decoder,
// handing "data" to decode so that large answers are never held whole.
func decodeEnvelope(r io.Reader, env *envelope, decode func(*json.Decoder) error) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	sawData := false
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		switch key {
		case "status":
			err = dec.Decode(&env.Status)
		case "errorType":
			err = dec.Decode(&env.ErrorType)
		case "error":
			err = dec.Decode(&env.Error)
		case "warnings":
			err = dec.Decode(&env.Warnings)
		case "infos":
			err = dec.Decode(&env.Infos)
		case "isPartial":
			err = dec.Decode(&env.IsPartial)
		case "data":
			sawData = true
			// decode reads exactly the one JSON value of "data".
			err = decode(dec)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return err
		}
	}
	if env.Status == "" {
		return errors.New(`no "status" in the answer; is the URL a Prometheus API?`)
	}
	if env.Status == "success" && !sawData {
		return errors.New(`no "data" in a successful answer`)
	}
	return nil
}
