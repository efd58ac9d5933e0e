package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/logfold"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

func kubeTools(c *kube.Client) []tools.Tool {
	return []tools.Tool{
		&tool{name: "kubectl_describe", desc: "Describe an object (status, conditions, events).",
			params: schema("kind!", "string:", "name!", "string:", "namespace", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				kind, name, ns := a.str("kind"), a.str("name"), a.str("namespace")
				obj, err := c.Get(ctx, kind, ns, name)
				if err != nil {
					return tools.Result{}, err
				}
				text := kube.Describe(obj)
				if ev, err := c.Events(ctx, obj.GetNamespace(), obj.GetKind(), obj.GetName()); err == nil && len(ev) > 0 {
					text += "\nEvents:\n" + kube.Describe(ev)
				}
				return tools.Result{Text: text, Description: kubectlLine("describe", kind, ns, name)}, nil
			}},
		&tool{name: "kubectl_get_by_name", desc: "Get one Kubernetes object by kind and name.",
			params: schema("kind!", "string:", "name!", "string:", "namespace", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				kind, name, ns := a.str("kind"), a.str("name"), a.str("namespace")
				obj, err := c.Get(ctx, kind, ns, name)
				if err != nil {
					return tools.Result{}, err
				}
				return tools.Result{Text: kube.Describe(obj), Description: kubectlLine("get", kind, ns, name)}, nil
			}},
		&tool{name: "kubectl_get_by_kind_in_namespace", desc: "List objects of a kind in a namespace.",
			params: schema("kind!", "string:", "namespace!", "string:", "label_selector", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				return list(ctx, c, a.str("kind"), a.str("namespace"), a.str("label_selector"))
			}},
		&tool{name: "kubectl_get_by_kind_in_cluster", desc: "List objects of a kind in all namespaces.",
			params: schema("kind!", "string:", "label_selector", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				return list(ctx, c, a.str("kind"), "", a.str("label_selector"))
			}},
		&tool{name: "kubectl_events", desc: "Events of a namespace, or of one object.",
			params: schema("namespace!", "string:", "kind", "string:", "name", "string:"),
			run: func(ctx context.Context, a args) (tools.Result, error) {
				ns, kind, name := a.str("namespace"), a.str("kind"), a.str("name")
				desc := "kubectl events -n " + ns
				var evs any
				var n int
				if name != "" {
					if kind == "" {
						kind = "Pod"
					}
					e, err := c.Events(ctx, ns, kind, name)
					if err != nil {
						return tools.Result{}, err
					}
					evs, n = e, len(e)
					desc += " --for " + strings.ToLower(kind) + "/" + name
				} else {
					e, err := c.NamespaceEvents(ctx, ns, kube.EventFilter{Since: tools.Now(ctx).Add(-3 * time.Hour)})
					if err != nil {
						return tools.Result{}, err
					}
					evs, n = e, len(e)
				}
				if n == 0 {
					return tools.Result{NoData: true, Text: "no events", Description: desc}, nil
				}
				return tools.Result{Text: kube.Describe(evs), Description: desc}, nil
			}},
	}
}

func list(ctx context.Context, c *kube.Client, kind, ns, selector string) (tools.Result, error) {
	l, err := c.List(ctx, kind, ns, kube.ListOptions{LabelSelector: selector, Limit: 100})
	if err != nil {
		return tools.Result{}, err
	}
	desc := "kubectl get " + kind
	if ns != "" {
		desc += " -n " + ns
	} else {
		desc += " -A"
	}
	if selector != "" {
		desc += " -l " + selector
	}
	if len(l.Items) == 0 {
		return tools.Result{NoData: true, Text: "no " + kind + " found", Description: desc}, nil
	}
	return tools.Result{Text: kube.Describe(l), Truncated: l.GetContinue() != "", Description: desc}, nil
}

func kubectlLine(verb, kind, ns, name string) string {
	s := "kubectl " + verb + " " + strings.ToLower(kind) + " " + name
	if ns != "" {
		s += " -n " + ns
	}
	return s
}

func kubeLogTools(c *kube.Client) []tools.Tool {
	logs := func(previous bool) func(ctx context.Context, a args) (tools.Result, error) {
		return func(ctx context.Context, a args) (tools.Result, error) {
			ns, pod, container := a.str("namespace"), a.str("pod_name"), a.str("container")
			tail, err := a.int("tail", 400, 2000)
			if err != nil {
				return tools.Result{}, err
			}
			text, err := c.Logs(ctx, ns, pod, container, kube.LogOptions{TailLines: int64(tail), Previous: previous})
			desc := "kubectl logs " + pod + " -n " + ns
			if container != "" {
				desc += " -c " + container
			}
			if previous {
				desc += " --previous"
			}
			desc += " --tail=" + strconv.Itoa(tail)
			if err != nil {
				return tools.Result{Description: desc}, err
			}
			if strings.TrimSpace(text) == "" {
				return tools.Result{NoData: true, Text: "the container printed nothing", Description: desc}, nil
			}
			return tools.Result{Text: FoldLogs(kubeLogLines(text), []string{pod, ns}, a.str("filter"), MaxResultBytes), Description: desc}, nil
		}
	}
	p := schema("pod_name!", "string:", "namespace!", "string:", "container", "string:", "filter", "string:", "tail", "integer:")
	return []tools.Tool{
		&tool{name: "kubectl_logs", desc: "A container's logs, folded into templates.", params: p, run: logs(false)},
		&tool{name: "kubectl_previous_logs", desc: "Logs of a container's previous (crashed) run.", params: p, run: logs(true)},
	}
}

// kubeLogLines splits kubelet log text with RFC 3339 timestamps.
func kubeLogLines(text string) []logfold.Line {
	var out []logfold.Line
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		ts, msg, ok := strings.Cut(l, " ")
		if t, err := time.Parse(time.RFC3339Nano, ts); ok && err == nil {
			out = append(out, logfold.Line{Time: t, Text: msg})
			continue
		}
		out = append(out, logfold.Line{Text: l})
	}
	return out
}

// FoldLogs folds lines into templates (never masking the strings in keep:
// the pod and namespace under investigation) and renders them within
// maxBytes. A filter keeps only lines containing it (case-insensitive).
func FoldLogs(lines []logfold.Line, keep []string, filter string, maxBytes int) string {
	if filter != "" {
		f := strings.ToLower(filter)
		kept := lines[:0:0]
		for _, l := range lines {
			if strings.Contains(strings.ToLower(l.Text), f) {
				kept = append(kept, l)
			}
		}
		if len(kept) == 0 {
			return fmt.Sprintf("no line of %d contains %q", len(lines), filter)
		}
		lines = kept
	}
	return logfold.Render(logfold.Fold(lines, logfold.Options{Keep: keep}), maxBytes, len(lines))
}
