package core

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/logfold"
	"github.com/sleuth-sre/sleuth/internal/logsql"
	"github.com/sleuth-sre/sleuth/internal/promql"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

func promTools(c *promql.Client) []tools.Tool {
	return []tools.Tool{
		&tool{name: "execute_prometheus_instant_query", desc: "PromQL instant query.",
			params: schema("query!", "string:", "time", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				q := a.str("query")
				t, err := a.time(ctx, "time", tools.Now(ctx))
				if err != nil {
					return tools.Result{}, err
				}
				r, err := c.Instant(ctx, q, t)
				if err != nil {
					return tools.Result{}, err
				}
				return tools.Result{Text: r.Text(), NoData: len(r.Series) == 0, Truncated: r.Truncated,
					Description: "instant query " + q}, nil
			}},
		&tool{name: "execute_prometheus_range_query", desc: "PromQL range query (default: the last hour).",
			params: schema("query!", "string:", "start", "string:RFC3339 or e.g. 2h (ago)", "end", "string:", "step", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				q := a.str("query")
				start, end, err := a.window(ctx)
				if err != nil {
					return tools.Result{}, err
				}
				step, err := a.duration("step")
				if err != nil {
					return tools.Result{}, err
				}
				r, err := c.Range(ctx, q, start, end, step)
				if err != nil {
					return tools.Result{}, err
				}
				return tools.Result{Text: r.Text(), NoData: len(r.Series) == 0, Truncated: r.Truncated,
					Description: "range query " + q}, nil
			}},
	}
}

func logTools(c *logsql.Client) []tools.Tool {
	return []tools.Tool{
		&tool{name: "victorialogs_query", desc: "LogsQL query (default: the last hour); lines folded into templates.",
			params: schema("query!", "string:e.g. kubernetes.pod_name:x error", "start", "string:", "end", "string:", "limit", "integer:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				q := a.str("query")
				start, end, err := a.window(ctx)
				if err != nil {
					return tools.Result{}, err
				}
				limit, err := a.int("limit", 500, 2000)
				if err != nil {
					return tools.Result{}, err
				}
				l, err := c.Query(ctx, q, start, end, limit)
				if err != nil {
					return tools.Result{}, err
				}
				desc := "logsql " + q
				if len(l.Entries) == 0 {
					return tools.Result{NoData: true, Text: "no lines match", Description: desc}, nil
				}
				lines := make([]logfold.Line, len(l.Entries))
				var keep []string
				for i, e := range l.Entries {
					lines[i] = logfold.Line{Time: e.Time, Text: logLine(e)}
				}
				keep = append(keep, queryValues(q)...)
				text := FoldLogs(lines, keep, "", MaxResultBytes)
				if len(l.Warnings) > 0 {
					text += "warnings: " + strings.Join(l.Warnings, "; ") + "\n"
				}
				return tools.Result{Text: text, Truncated: l.Truncated, Description: desc}, nil
			}},
		&tool{name: "victorialogs_hits", desc: "Count log lines per time bucket.",
			params: schema("query!", "string:", "start", "string:", "end", "string:", "step", "string:", "by", "string:fields, comma-separated"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				q := a.str("query")
				start, end, err := a.window(ctx)
				if err != nil {
					return tools.Result{}, err
				}
				step, err := a.duration("step")
				if err != nil {
					return tools.Result{}, err
				}
				var by []string
				for _, f := range strings.Split(a.str("by"), ",") {
					if f = strings.TrimSpace(f); f != "" {
						by = append(by, f)
					}
				}
				h, err := c.Hits(ctx, q, start, end, step, by...)
				if err != nil {
					return tools.Result{}, err
				}
				return tools.Result{Text: h.Text(), NoData: len(h.Groups) == 0, Truncated: h.Truncated, Description: "logsql hits " + q}, nil
			}},
		&tool{name: "victorialogs_streams", desc: "Log streams matching a LogsQL query.",
			params: schema("query!", "string:", "start", "string:", "end", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				q := a.str("query")
				start, end, err := a.window(ctx)
				if err != nil {
					return tools.Result{}, err
				}
				v, err := c.Streams(ctx, q, start, end, 50)
				return valuesResult(v, err, "logsql streams "+q)
			}},
		&tool{name: "victorialogs_field_names", desc: "Field names of matching log lines.",
			params: schema("query!", "string:", "start", "string:", "end", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				q := a.str("query")
				start, end, err := a.window(ctx)
				if err != nil {
					return tools.Result{}, err
				}
				v, err := c.FieldNames(ctx, q, start, end)
				return valuesResult(v, err, "logsql field_names "+q)
			}},
		&tool{name: "victorialogs_field_values", desc: "Values of a field in matching log lines.",
			params: schema("query!", "string:", "field!", "string:", "start", "string:", "end", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				q, field := a.str("query"), a.str("field")
				start, end, err := a.window(ctx)
				if err != nil {
					return tools.Result{}, err
				}
				v, err := c.FieldValues(ctx, q, field, start, end, 50)
				return valuesResult(v, err, "logsql field_values "+field+" "+q)
			}},
	}
}

func valuesResult(v *logsql.Values, err error, desc string) (tools.Result, error) {
	if err != nil {
		return tools.Result{Description: desc}, err
	}
	if len(v.Values) == 0 {
		return tools.Result{NoData: true, Text: "nothing matches", Description: desc}, nil
	}
	return tools.Result{Text: v.Text(), Truncated: v.Truncated, Description: desc}, nil
}

// logLine renders a log entry with the fields that say where it comes
// from, so that folding keeps pods apart.
func logLine(e logsql.Entry) string {
	var b strings.Builder
	if ns, pod := e.Fields[logsql.FieldNamespace], e.Fields[logsql.FieldPod]; pod != "" {
		b.WriteString(ns + "/" + pod + " ")
	}
	if lvl := e.Fields["level"]; lvl != "" {
		b.WriteString(lvl + " ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// queryValues are the literal values a LogsQL query filters on
// (kubernetes.pod_name:"checkout-x"): what is under investigation, which
// folding must not mask.
func queryValues(q string) []string {
	var out []string
	for _, f := range strings.Fields(q) {
		_, v, ok := strings.Cut(f, ":")
		v = strings.Trim(v, `"'()=~`)
		if ok && len(v) >= 3 && !strings.ContainsAny(v, "*|") {
			out = append(out, v)
		}
	}
	return out
}

type fetchRunbook struct{ set *runbook.Set }

func (fetchRunbook) Name() string { return "fetch_runbook" }
func (fetchRunbook) Description() string {
	return "A runbook's instructions, by name."
}
func (fetchRunbook) Parameters() json.RawMessage { return schema("name!", "string:") }

func (f fetchRunbook) Run(_ context.Context, a map[string]any) (tools.Result, error) {
	name := args(a).str("name")
	if name == "" {
		return tools.Result{}, fmt.Errorf("missing required argument(s): name")
	}
	var names []string
	for _, rb := range f.set.Runbooks() {
		n := rb.String()
		if strings.EqualFold(n, name) || strings.EqualFold(rb.Name, name) || rb.Kind == runbook.Legacy && strings.Contains(n, name) {
			text := "Runbook " + n + " (" + rb.Source + ")\n" + rb.Instructions
			for _, st := range rb.Steps {
				text += "\n- step: " + st.Tool + " " + st.Description
			}
			return tools.Result{Text: cut(text, MaxResultBytes), Description: "runbook " + n}, nil
		}
		if len(names) < 40 {
			names = append(names, n)
		}
	}
	return tools.Result{}, fmt.Errorf("no runbook %q; runbooks: %s", name, strings.Join(names, "; "))
}
