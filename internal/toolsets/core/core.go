// Package core provides sleuth's built-in, read-only toolsets for the
// model and the API: kubernetes/core and kubernetes/logs (over
// internal/kube), prometheus/metrics (over internal/promql), victorialogs
// (over internal/logsql) and runbook (over internal/runbook). Tool names
// are HolmesGPT's where it has one, since models were tuned on them.
// Every tool bounds its own output; logs are folded into templates.
package core

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/logsql"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// MaxResultBytes bounds what one tool returns: about 4K tokens, a share a
// small context can still afford once the caller trims it further.
const MaxResultBytes = 16 << 10

// Backends are what the toolsets run against; a nil one disables its
// toolsets with Missing's reason.
type Backends struct {
	Kube     *kube.Client
	Prom     *promql.Client
	Logs     *logsql.Client
	Runbooks *runbook.Set
	// Missing says why a backend is absent, keyed by "kubernetes",
	// "metrics", "logs".
	Missing map[string]string
}

// Toolsets returns the built-in toolsets, each enabled when its backend is
// there.
func Toolsets(b Backends) []tools.Toolset {
	why := func(key, def string) string {
		if r := b.Missing[key]; r != "" {
			return r
		}
		return def
	}
	k := tools.Toolset{Name: "kubernetes/core", Description: "Read Kubernetes objects and events (never Secrets).",
		Enabled: b.Kube != nil, Tools: kubeTools(b.Kube)}
	kl := tools.Toolset{Name: "kubernetes/logs", Description: "Read container logs through the Kubernetes API.",
		Enabled: b.Kube != nil, Tools: kubeLogTools(b.Kube)}
	if b.Kube == nil {
		k.Reason = why("kubernetes", "no Kubernetes access")
		kl.Reason = k.Reason
	}
	m := tools.Toolset{Name: "prometheus/metrics", Description: "Query metrics with PromQL/MetricsQL.",
		Enabled: b.Prom != nil, Tools: promTools(b.Prom)}
	if b.Prom == nil {
		m.Reason = why("metrics", "prometheus.url is not configured")
	}
	l := tools.Toolset{Name: "victorialogs", Description: "Query logs in VictoriaLogs with LogsQL.",
		Enabled: b.Logs != nil, Tools: logTools(b.Logs)}
	if b.Logs == nil {
		l.Reason = why("logs", "victorialogs.url is not configured")
	}
	r := tools.Toolset{Name: "runbook", Description: "Read runbooks.", Enabled: b.Runbooks != nil && b.Runbooks.Len() > 0,
		Tools: []tools.Tool{fetchRunbook{b.Runbooks}}}
	if !r.Enabled {
		r.Reason = "no runbooks loaded"
	}
	return []tools.Toolset{k, kl, m, l, r}
}

// Register adds the built-in toolsets to reg.
func Register(reg *tools.Registry, b Backends) error {
	for _, ts := range Toolsets(b) {
		if err := reg.Add(ts); err != nil {
			return err
		}
	}
	return nil
}

// tool is a Tool made of a schema and a function.
type tool struct {
	name, desc string
	params     json.RawMessage
	run        func(ctx context.Context, a args) (tools.Result, error)
}

func (t *tool) Name() string                { return t.name }
func (t *tool) Description() string         { return t.desc }
func (t *tool) Parameters() json.RawMessage { return t.params }
func (t *tool) Run(ctx context.Context, a map[string]any) (tools.Result, error) {
	if err := checkRequired(t.params, a); err != nil {
		return tools.Result{}, err
	}
	r, err := t.run(ctx, args(a))
	if err != nil {
		return r, err
	}
	if len(r.Text) > MaxResultBytes {
		r.Text, r.Truncated = cut(r.Text, MaxResultBytes), true
	}
	return r, nil
}

// schema builds a compact JSON schema: every word counts in a small
// context. props are name -> "type:description"; names ending in "!" are
// required.
func schema(props ...string) json.RawMessage {
	type prop struct {
		Type        string `json:"type"`
		Description string `json:"description,omitempty"`
	}
	p := map[string]prop{}
	var order, req []string
	for i := 0; i+1 < len(props); i += 2 {
		name := props[i]
		if strings.HasSuffix(name, "!") {
			name = strings.TrimSuffix(name, "!")
			req = append(req, name)
		}
		typ, desc, _ := strings.Cut(props[i+1], ":")
		p[name] = prop{Type: typ, Description: desc}
		order = append(order, name)
	}
	// Properties in the order written: json.Marshal sorts map keys, so
	// write the object by hand.
	var b strings.Builder
	b.WriteString(`{"type":"object","properties":{`)
	for i, name := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		v, _ := json.Marshal(p[name])
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteString("}")
	if len(req) > 0 {
		r, _ := json.Marshal(req)
		b.WriteString(`,"required":`)
		b.Write(r)
	}
	b.WriteString("}")
	return json.RawMessage(b.String())
}

func checkRequired(params json.RawMessage, a map[string]any) error {
	var s struct {
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(params, &s)
	var missing []string
	for _, r := range s.Required {
		if v, ok := a[r]; !ok || v == nil || v == "" {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required argument(s): %s", strings.Join(missing, ", "))
	}
	return nil
}

// args reads tool arguments the way models write them: numbers as
// numbers or strings, booleans as booleans or strings.
type args map[string]any

func (a args) str(name string) string {
	switch v := a[name].(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return strings.TrimSpace(fmt.Sprint(v))
	}
}

func (a args) int(name string, def, max int) (int, error) {
	s := a.str(name)
	if s == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("argument %s: want a number, got %q", name, s)
	}
	n := int(f)
	if n <= 0 {
		return def, nil
	}
	return min(n, max), nil
}

// time reads a time argument: RFC 3339, Unix seconds, or a duration before
// the reference time ("1h", "-30m"). def is returned when it is absent.
func (a args) time(ctx context.Context, name string, def time.Time) (time.Time, error) {
	s := a.str(name)
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 1e9 {
		return time.Unix(int64(f), 0).UTC(), nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(strings.TrimPrefix(s, "now"), "-")); err == nil {
		return tools.Now(ctx).Add(-d), nil
	}
	if s == "now" {
		return tools.Now(ctx), nil
	}
	return time.Time{}, fmt.Errorf("argument %s: want an RFC 3339 time, Unix seconds or a duration before now such as 1h, got %q", name, s)
}

// window reads start and end, defaulting to the hour before the reference
// time.
func (a args) window(ctx context.Context) (time.Time, time.Time, error) {
	now := tools.Now(ctx)
	end, err := a.time(ctx, "end", now)
	if err != nil {
		return end, end, err
	}
	start, err := a.time(ctx, "start", end.Add(-time.Hour))
	if err != nil {
		return start, end, err
	}
	if !start.Before(end) {
		return start, end, fmt.Errorf("start %s is not before end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return start, end, nil
}

func (a args) duration(name string) (time.Duration, error) {
	s := a.str(name)
	if s == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("argument %s: want a duration such as 1m, got %q", name, s)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	c := n
	for c > 0 && s[c]&0xC0 == 0x80 {
		c--
	}
	if nl := strings.LastIndexByte(s[:c], '\n'); nl > c*3/4 {
		c = nl
	}
	return s[:c] + "\n[... cut at " + strconv.Itoa(n) + " bytes]"
}
