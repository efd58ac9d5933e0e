// Package scenario provides the incident scenario format of
// docs/scenario-format.md: parsing with errors that name the file, line and
// key; resolution of relative times against a clock; expansion of metric
// values and log lines into the samples and records a lab loads; and the
// scoring of a report against what the scenario expects.
//
// The format is a contract with scenario authors outside the project: it
// only grows by new optional keys, and unknown keys are errors.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is one parsed scenario file. Times in it are resolved against
// Now (see Resolve); a Scenario fresh from Parse has Now zero unless the
// file fixes it.
type Scenario struct {
	// File is the path the scenario was read from.
	File    string
	Name    string
	Summary string
	// Now is the scenario's clock; FixedNow says the file set it.
	Now      time.Time
	FixedNow bool

	Alerts     []Alert
	Kubernetes []map[string]any
	Metrics    Metrics
	Logs       []LogStream
	Expect     Expect

	// root is the document with ${now...} still unresolved.
	root *yaml.Node
}

// Alert is one alert as Alertmanager sends it (webhook payload version 4).
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint,omitempty"`
}

// Metrics are the scenario's metric series.
type Metrics struct {
	// Interval is the spacing of samples (default 1m).
	Interval time.Duration
	Series   []Series
}

// Series is one series in promtool's expanding notation.
type Series struct {
	// Selector is the series, `name{label="value",...}`.
	Selector string
	// Values is the expanding notation, e.g. "1+2x10 _ stale".
	Values string
	// Line is where the series is in the file, for errors.
	Line int
}

// LogStream is one pod container's log lines.
type LogStream struct {
	// Stream identifies the pod: namespace, pod, container, and optionally
	// node or any vlagent field name.
	Stream map[string]string
	Lines  []LogLine
}

// LogLine is one line, or `repeat` lines `every` apart starting at At.
type LogLine struct {
	At     time.Time
	Msg    string
	Level  string
	Repeat int
	Every  time.Duration
}

// Object names a Kubernetes object.
type Object struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Expect is what a correct investigation concludes.
type Expect struct {
	// Categories are the acceptable root-cause categories.
	Categories []string
	// Culprits are the acceptable objects to fix; empty accepts any.
	Culprits []Object
	// Mentions must each appear in the report's text, case-insensitive.
	Mentions []string
}

// Error is a problem with a scenario file, located where possible.
type Error struct {
	File string
	Line int
	// Key is the dotted path of the offending key, e.g. "alerts[0].startsAt".
	Key string
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ReadFile reads and parses one scenario file.
func ReadFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

var nameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Parse parses a scenario. It checks the structure and every value that
// does not depend on the clock; Resolve does the rest.
func Parse(file string, data []byte) (*Scenario, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, &Error{File: file, Line: yamlErrorLine(err), Msg: cleanYAMLError(err)}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: 1, Msg: "a scenario is a YAML mapping with name, summary, alerts and expect"}
	}
	s := &Scenario{File: file, root: doc.Content[0]}
	// Check the whole structure once against a clock far from any real
	// one, so that a scenario that parses also resolves.
	if _, err := s.resolve(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), false); err != nil {
		return nil, err
	}
	return s, nil
}

// Resolve returns the scenario with its times resolved: against the file's
// own `now` when it has one, else against now.
func (s *Scenario) Resolve(now time.Time) (*Scenario, error) {
	return s.resolve(now, true)
}

func (s *Scenario) resolve(now time.Time, keep bool) (*Scenario, error) {
	p := &parser{file: s.File}
	out := &Scenario{File: s.File, root: s.root}
	top := p.mapping(s.root, "", map[string]bool{
		"name": true, "summary": true, "now": true, "alerts": true,
		"kubernetes": true, "metrics": true, "logs": true, "expect": true,
	}, "name", "summary", "alerts", "expect")
	if p.err != nil {
		return nil, p.err
	}
	out.Now = now.UTC().Truncate(time.Second)
	if n, ok := top["now"]; ok {
		t, err := time.Parse(time.RFC3339, n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return nil, p.fail(n, "now", "want an RFC 3339 time such as 2026-03-01T12:00:00Z, got %q", n.Value)
		}
		out.Now, out.FixedNow = t.UTC(), true
	}
	p.now = out.Now

	out.Name = p.str(top["name"], "name")
	if p.err == nil && !nameRE.MatchString(out.Name) {
		return nil, p.fail(top["name"], "name", "want [a-z0-9-]+, got %q", out.Name)
	}
	out.Summary = p.str(top["summary"], "summary")
	p.alerts(top["alerts"], out)
	if n, ok := top["kubernetes"]; ok {
		p.kubernetes(n, out)
	}
	if n, ok := top["metrics"]; ok {
		p.metrics(n, out)
	}
	if n, ok := top["logs"]; ok {
		p.logs(n, out)
	}
	p.expect(top["expect"], out)
	if p.err != nil {
		return nil, p.err
	}
	if !keep {
		return nil, nil
	}
	return out, nil
}

// parser walks the YAML tree keeping the first error.
type parser struct {
	file string
	now  time.Time
	err  error
}

func (p *parser) fail(n *yaml.Node, key, format string, args ...any) error {
	if p.err == nil {
		line := 0
		if n != nil {
			line = n.Line
		}
		p.err = &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	return p.err
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping checks that n is a mapping with only allowed keys and all
// required ones, and returns its values by key.
func (p *parser) mapping(n *yaml.Node, path string, allowed map[string]bool, required ...string) map[string]*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.fail(n, path, "want a mapping")
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if allowed != nil && !allowed[k.Value] {
			p.fail(k, join(path, k.Value), "unknown key (known keys: %s)", known(allowed))
			return nil
		}
		if _, dup := out[k.Value]; dup {
			p.fail(k, join(path, k.Value), "duplicate key")
			return nil
		}
		out[k.Value] = deref(v)
	}
	for _, r := range required {
		if _, ok := out[r]; !ok {
			p.fail(n, join(path, r), "required key is missing")
			return nil
		}
	}
	return out
}

func known(allowed map[string]bool) string {
	var ks []string
	for k := range allowed {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return n
}

func (p *parser) str(n *yaml.Node, path string) string {
	if p.err != nil {
		return ""
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		p.fail(n, path, "want a string")
		return ""
	}
	v, err := substitute(n.Value, p.now)
	if err != nil {
		p.fail(n, path, "%v", err)
	}
	return v
}

func (p *parser) seq(n *yaml.Node, path string) []*yaml.Node {
	if p.err != nil {
		return nil
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		p.fail(n, path, "want a list")
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = deref(c)
	}
	return out
}

func (p *parser) strMap(n *yaml.Node, path string) map[string]string {
	m := p.mapping(n, path, nil)
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = p.str(v, join(path, k))
	}
	return out
}

// strOrList accepts a string or a list of strings.
func (p *parser) strOrList(n *yaml.Node, path string) []string {
	if n != nil && n.Kind == yaml.ScalarNode {
		return []string{p.str(n, path)}
	}
	var out []string
	for i, c := range p.seq(n, path) {
		out = append(out, p.str(c, fmt.Sprintf("%s[%d]", path, i)))
	}
	return out
}

func (p *parser) duration(n *yaml.Node, path string) time.Duration {
	v := p.str(n, path)
	if p.err != nil {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(n, path, "want a positive duration such as 30s or 1m, got %q", v)
	}
	return d
}

// when parses an offset from now ("-15m") or an RFC 3339 time (which
// ${now-15m} has already become).
func (p *parser) when(n *yaml.Node, path string) time.Time {
	v := p.str(n, path)
	if p.err != nil {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC()
	}
	d, err := parseDuration(v)
	if err != nil {
		p.fail(n, path, "want an offset from now such as -15m or an RFC 3339 time, got %q", v)
		return time.Time{}
	}
	return p.now.Add(d)
}

var alertKeys = map[string]bool{
	"labels": true, "annotations": true, "startsAt": true, "endsAt": true,
	"status": true, "generatorURL": true, "fingerprint": true,
}

func (p *parser) alerts(n *yaml.Node, s *Scenario) {
	items := p.seq(n, "alerts")
	if p.err == nil && len(items) == 0 {
		p.fail(n, "alerts", "want at least one alert")
	}
	for i, a := range items {
		path := fmt.Sprintf("alerts[%d]", i)
		m := p.mapping(a, path, alertKeys, "labels")
		if p.err != nil {
			return
		}
		al := Alert{Status: "firing", Labels: p.strMap(m["labels"], path+".labels")}
		if p.err == nil && al.Labels["alertname"] == "" {
			p.fail(m["labels"], path+".labels.alertname", "every alert needs an alertname label")
		}
		if v, ok := m["annotations"]; ok {
			al.Annotations = p.strMap(v, path+".annotations")
		}
		al.StartsAt = p.now.Add(-5 * time.Minute)
		if v, ok := m["startsAt"]; ok {
			al.StartsAt = p.when(v, path+".startsAt")
		}
		if v, ok := m["endsAt"]; ok {
			al.EndsAt = p.when(v, path+".endsAt")
		}
		if v, ok := m["status"]; ok {
			al.Status = p.str(v, path+".status")
			if p.err == nil && al.Status != "firing" && al.Status != "resolved" {
				p.fail(v, path+".status", "want firing or resolved, got %q", al.Status)
			}
		}
		if v, ok := m["generatorURL"]; ok {
			al.GeneratorURL = p.str(v, path+".generatorURL")
		}
		if v, ok := m["fingerprint"]; ok {
			al.Fingerprint = p.str(v, path+".fingerprint")
		}
		if al.Status == "resolved" && al.EndsAt.IsZero() {
			al.EndsAt = p.now
		}
		s.Alerts = append(s.Alerts, al)
	}
}

func (p *parser) kubernetes(n *yaml.Node, s *Scenario) {
	for i, o := range p.seq(n, "kubernetes") {
		path := fmt.Sprintf("kubernetes[%d]", i)
		m := p.mapping(o, path, nil, "apiVersion", "kind", "metadata")
		if p.err != nil {
			return
		}
		meta := p.mapping(m["metadata"], path+".metadata", nil, "name")
		if p.err != nil {
			return
		}
		p.str(meta["name"], path+".metadata.name")
		v, err := decodeResolved(o, p.now)
		if err != nil {
			p.fail(o, path, "%v", err)
			return
		}
		obj, _ := v.(map[string]any)
		s.Kubernetes = append(s.Kubernetes, obj)
	}
}

func (p *parser) metrics(n *yaml.Node, s *Scenario) {
	m := p.mapping(n, "metrics", map[string]bool{"interval": true, "series": true})
	if p.err != nil {
		return
	}
	s.Metrics.Interval = time.Minute
	if v, ok := m["interval"]; ok {
		s.Metrics.Interval = p.duration(v, "metrics.interval")
	}
	for i, sn := range p.seq(m["series"], "metrics.series") {
		path := fmt.Sprintf("metrics.series[%d]", i)
		sm := p.mapping(sn, path, map[string]bool{"series": true, "values": true}, "series", "values")
		if p.err != nil {
			return
		}
		ser := Series{Selector: p.str(sm["series"], path+".series"), Values: p.str(sm["values"], path+".values"), Line: sn.Line}
		if p.err != nil {
			return
		}
		if _, _, err := ParseSelector(ser.Selector); err != nil {
			p.fail(sm["series"], path+".series", "%v", err)
			return
		}
		if _, err := ExpandValues(ser.Values); err != nil {
			p.fail(sm["values"], path+".values", "%v", err)
			return
		}
		s.Metrics.Series = append(s.Metrics.Series, ser)
	}
}

var lineKeys = map[string]bool{"at": true, "msg": true, "level": true, "repeat": true, "every": true}

func (p *parser) logs(n *yaml.Node, s *Scenario) {
	for i, sn := range p.seq(n, "logs") {
		path := fmt.Sprintf("logs[%d]", i)
		m := p.mapping(sn, path, map[string]bool{"stream": true, "lines": true}, "stream", "lines")
		if p.err != nil {
			return
		}
		ls := LogStream{Stream: p.strMap(m["stream"], path+".stream")}
		if p.err == nil && ls.Stream["pod"] == "" && ls.Stream[FieldPod] == "" {
			p.fail(m["stream"], path+".stream.pod", "a stream needs the pod's name")
		}
		for j, ln := range p.seq(m["lines"], path+".lines") {
			lp := fmt.Sprintf("%s.lines[%d]", path, j)
			lm := p.mapping(ln, lp, lineKeys, "msg")
			if p.err != nil {
				return
			}
			l := LogLine{At: p.now, Msg: p.str(lm["msg"], lp+".msg"), Repeat: 1}
			if v, ok := lm["at"]; ok {
				l.At = p.when(v, lp+".at")
			}
			if v, ok := lm["level"]; ok {
				l.Level = p.str(v, lp+".level")
			}
			if v, ok := lm["repeat"]; ok {
				var r int
				if err := v.Decode(&r); err != nil || r < 1 || r > maxRepeat {
					p.fail(v, lp+".repeat", "want a whole number 1..%d, got %q", maxRepeat, v.Value)
				}
				l.Repeat = r
			}
			if v, ok := lm["every"]; ok {
				l.Every = p.duration(v, lp+".every")
			}
			if p.err == nil && l.Repeat > 1 && l.Every == 0 {
				p.fail(ln, lp+".every", "repeat needs every, the spacing of the repeated lines")
			}
			ls.Lines = append(ls.Lines, l)
		}
		s.Logs = append(s.Logs, ls)
	}
}

// maxRepeat bounds one line's expansion: a typo such as repeat: 1000000
// must not fill the lab's disk.
const maxRepeat = 100000

func (p *parser) expect(n *yaml.Node, s *Scenario) {
	m := p.mapping(n, "expect", map[string]bool{"category": true, "culprit": true, "mentions": true}, "category")
	if p.err != nil {
		return
	}
	s.Expect.Categories = p.strOrList(m["category"], "expect.category")
	for i, c := range s.Expect.Categories {
		if p.err == nil && !IsCategory(c) {
			p.fail(m["category"], fmt.Sprintf("expect.category[%d]", i), "unknown category %q; the taxonomy is: %s", c, strings.Join(Categories, ", "))
		}
	}
	if v, ok := m["culprit"]; ok {
		items := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			items = p.seq(v, "expect.culprit")
		}
		for i, c := range items {
			path := "expect.culprit"
			if v.Kind == yaml.SequenceNode {
				path = fmt.Sprintf("expect.culprit[%d]", i)
			}
			cm := p.mapping(c, path, map[string]bool{"kind": true, "namespace": true, "name": true}, "kind", "name")
			if p.err != nil {
				return
			}
			o := Object{Kind: p.str(cm["kind"], path+".kind"), Name: p.str(cm["name"], path+".name")}
			if ns, ok := cm["namespace"]; ok {
				o.Namespace = p.str(ns, path+".namespace")
			}
			s.Expect.Culprits = append(s.Expect.Culprits, o)
		}
	}
	if v, ok := m["mentions"]; ok {
		s.Expect.Mentions = p.strOrList(v, "expect.mentions")
	}
}

// Categories is the root-cause taxonomy of docs/scenario-format.md.
var Categories = []string{
	"oom-killed", "crash-loop", "config-error", "image-pull", "unschedulable", "volume",
	"probe-failure", "cpu-throttling", "cpu-saturation", "disk-pressure", "node-failure",
	"dependency-failure", "bad-rollout", "job-failure", "quota-exceeded", "certificate-expiry",
	"network-policy", "scaling-limit", "none", "unknown",
}

// IsCategory reports whether c is in the taxonomy.
func IsCategory(c string) bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}

// dayRE matches a count of days or weeks in a duration.
var dayRE = regexp.MustCompile(`(\d+)([dw])`)

// parseDuration is time.ParseDuration that also accepts days and weeks
// (30d, 1w2d): the spec says Go's syntax, but "${now-30d}" is what people
// write for an object created a month ago, and accepting it breaks no file.
func parseDuration(s string) (time.Duration, error) {
	var extra time.Duration
	rest := dayRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := dayRE.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1])
		unit := 24 * time.Hour
		if sub[2] == "w" {
			unit *= 7
		}
		extra += time.Duration(n) * unit
		return ""
	})
	sign := time.Duration(1)
	if strings.HasPrefix(rest, "-") {
		sign, rest = -1, rest[1:]
	} else if strings.HasPrefix(rest, "+") {
		rest = rest[1:]
	}
	if rest == "" {
		if extra == 0 {
			return 0, fmt.Errorf("empty duration")
		}
		return sign * extra, nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return 0, err
	}
	return sign * (d + extra), nil
}

// nowRE matches ${now}, ${now-15m}, ${now+1h30m}.
var nowRE = regexp.MustCompile(`\$\{now(?:([+-])([^}]*))?\}`)

// substitute replaces every ${now...} in v with an RFC 3339 time.
func substitute(v string, now time.Time) (string, error) {
	if !strings.Contains(v, "${") {
		return v, nil
	}
	var err error
	out := nowRE.ReplaceAllStringFunc(v, func(m string) string {
		sub := nowRE.FindStringSubmatch(m)
		t := now
		if sub[1] != "" {
			d, perr := parseDuration(sub[2])
			if perr != nil || d < 0 {
				err = fmt.Errorf("%s: want ${now}, ${now-DURATION} or ${now+DURATION} with a Go duration such as 15m", m)
				return m
			}
			if sub[1] == "-" {
				d = -d
			}
			t = now.Add(d)
		}
		return t.UTC().Format(time.RFC3339)
	})
	if err == nil && strings.Contains(out, "${now") {
		err = fmt.Errorf("malformed time reference in %q: want ${now}, ${now-15m} or ${now+1h}", v)
	}
	return out, err
}

// decodeResolved decodes a node into plain Go values with every string's
// ${now...} resolved.
func decodeResolved(n *yaml.Node, now time.Time) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return walkStrings(v, now)
}

// walkStrings resolves ${now...} in every string and turns YAML's scalar
// types into JSON's (int64, float64, RFC 3339 strings), the types a
// Kubernetes unstructured object holds.
func walkStrings(v any, now time.Time) (any, error) {
	switch v := v.(type) {
	case string:
		return substitute(v, now)
	case int:
		return int64(v), nil
	case uint64:
		return float64(v), nil
	case time.Time:
		return v.UTC().Format(time.RFC3339), nil
	case map[string]any:
		for k, e := range v {
			r, err := walkStrings(e, now)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			v[k] = r
		}
	case []any:
		for i, e := range v {
			r, err := walkStrings(e, now)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			v[i] = r
		}
	}
	return v, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

func cleanYAMLError(err error) string {
	if errors.Is(err, io.EOF) {
		return "empty file: a scenario needs name, summary, alerts and expect"
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
