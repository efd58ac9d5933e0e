package holmes

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

type storeIngester interface {
	Ingest(ctx context.Context, in store.Ingest) (store.IngestResult, error)
}

type storeReader interface {
	Incidents(ctx context.Context, f store.Filter) ([]store.Incident, error)
	Investigation(ctx context.Context, id int64) (*store.Investigation, error)
}

// validate returns the missing required fields of an investigate request.
func (q *InvestigateRequest) missingFields() []string {
	var out []string
	if q.Source == nil {
		out = append(out, "source")
	}
	if q.Title == nil {
		out = append(out, "title")
	}
	if q.Description == nil {
		out = append(out, "description")
	}
	if q.Context == nil {
		out = append(out, "context")
	}
	return out
}

// subjectLabels maps HolmesGPT's subject types to the labels the engine
// resolves objects from.
var subjectLabels = map[string]string{
	"pod": "pod", "deployment": "deployment", "statefulset": "statefulset", "daemonset": "daemonset",
	"job": "job_name", "node": "node", "replicaset": "replicaset", "service": "service",
	"persistentvolumeclaim": "persistentvolumeclaim",
}

// toAlert turns a request into the alert it stands for: labels from the
// subject and context (Robusta puts the alert's labels in
// subject.labels, the seed's bridge in context.labels), alertname from
// them or the title, the description as an annotation.
func (q *InvestigateRequest) toAlert(now time.Time) store.KeyedAlert {
	labels := map[string]string{}
	annotations := map[string]string{}
	for k, v := range q.Subject.Labels {
		labels[k] = v
	}
	for k, v := range q.Subject.Annotations {
		annotations[k] = v
	}
	for _, key := range []string{"labels", "commonLabels"} {
		if m, ok := q.Context[key].(map[string]any); ok {
			for k, v := range m {
				if s, ok := v.(string); ok {
					labels[k] = s
				}
			}
		}
	}
	if m, ok := q.Context["annotations"].(map[string]any); ok {
		for k, v := range m {
			if s, ok := v.(string); ok {
				annotations[k] = s
			}
		}
	}
	setIfEmpty := func(k, v string) {
		if v != "" && labels[k] == "" {
			labels[k] = v
		}
	}
	setIfEmpty("namespace", q.Subject.Namespace)
	setIfEmpty("node", q.Subject.Node)
	setIfEmpty("container", q.Subject.Container)
	if l, ok := subjectLabels[strings.ToLower(q.Subject.SubjectType)]; ok {
		setIfEmpty(l, q.Subject.Name)
	}
	setIfEmpty("alertname", strings.TrimSpace(*q.Title))
	if annotations["description"] == "" && *q.Description != "" {
		annotations["description"] = *q.Description
	}
	if annotations["summary"] == "" && *q.Title != "" {
		annotations["summary"] = *q.Title
	}
	a := alert.Alert{Status: alert.StatusFiring, Labels: labels, Annotations: annotations, StartsAt: now.UTC().Truncate(time.Second)}
	for _, key := range []string{"starts_at", "startsAt"} {
		if s, ok := q.Context[key].(string); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				a.StartsAt = t
			}
		}
	}
	if s, ok := q.Context["generator_url"].(string); ok {
		a.GeneratorURL = s
	}
	a.Fingerprint = alert.Fingerprint(labels)
	if fp, ok := q.Context["fingerprint"].(string); ok && len(fp) == 16 {
		a.Fingerprint = fp
	}
	return store.KeyedAlert{Alert: a, Workload: incident.Workload(labels)}
}

// started is an investigation the request joined or started.
type started struct {
	id           int64
	incidentID   int64
	deduplicated bool
}

// start records the request as an alert and returns the investigation that
// answers it: a new one, or, when the alert joins an incident already
// investigated within the cooldown, that incident's newest one (the
// dedup that keeps a storm from becoming a backlog).
func (a *API) start(ctx context.Context, q *InvestigateRequest) (started, error) {
	now := a.o.Now()
	ka := q.toAlert(now)
	ka.Key = incident.Key(a.o.Config.Incidents.GroupBy, ka.Labels)
	res, err := a.o.Store.Ingest(ctx, store.Ingest{Now: now, Receiver: "holmesgpt-api/" + q.source(), Cooldown: a.o.Config.Incidents.Cooldown, Alerts: []store.KeyedAlert{ka}})
	if err != nil {
		return started{}, fmt.Errorf("store the request: %w", err)
	}
	if res.Queued > 0 {
		a.o.Queued()
	}
	inc, err := a.findIncident(ctx, ka.Key, ka.Labels["namespace"])
	if err != nil {
		return started{}, err
	}
	if inc.LastInvestigationID == 0 {
		return started{}, fmt.Errorf("incident %d has no investigation", inc.ID)
	}
	return started{id: inc.LastInvestigationID, incidentID: inc.ID, deduplicated: res.Queued == 0}, nil
}

func (q *InvestigateRequest) source() string {
	if q.SourceInstanceID != "" {
		return q.SourceInstanceID
	}
	return "ApiRequest"
}

// findIncident returns the newest incident with the key. It pages
// backwards through the namespace's incidents: the one just written is
// almost always on the first page.
func (a *API) findIncident(ctx context.Context, key, ns string) (*store.Incident, error) {
	f := store.Filter{Namespace: ns, Limit: 100}
	for page := 0; page < 20; page++ {
		items, err := a.o.Store.Incidents(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("find the incident: %w", err)
		}
		for i := range items {
			if items[i].Key == key {
				return &items[i], nil
			}
		}
		if len(items) < f.Limit {
			break
		}
		f.BeforeID = items[len(items)-1].ID
	}
	return nil, fmt.Errorf("the incident with key %q was not found after storing its alert", key)
}

// wait polls the investigation until it is done or failed.
func (a *API) wait(ctx context.Context, id int64) (*store.Investigation, error) {
	t := time.NewTicker(a.o.Poll)
	defer t.Stop()
	for {
		inv, err := a.o.Store.Investigation(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read investigation %d: %w", id, err)
		}
		switch inv.State {
		case store.StateDone:
			return inv, nil
		case store.StateFailed:
			return inv, fmt.Errorf("investigation %d failed: %s", id, inv.Error)
		}
		select {
		case <-ctx.Done():
			return inv, fmt.Errorf("investigation %d is still %s (GET /api/investigations/%d for its outcome): %w", id, inv.State, id, ctxErr(ctx))
		case <-t.C:
		}
	}
}

// waitLimit bounds how long a request waits for its investigation: every
// attempt with its deadline, and a minute of queueing.
func (a *API) waitLimit() time.Duration {
	q := a.o.Config.Queue
	return time.Duration(max(q.MaxAttempts, 1))*(q.Deadline+q.RetryBackoff) + time.Minute
}

func (a *API) handleInvestigate(w http.ResponseWriter, r *http.Request) {
	var q InvestigateRequest
	if !decode(w, r, &q) || missing(w, q.missingFields()...) {
		return
	}
	if err := a.checkModel(q.Model); err != nil {
		writeDetail(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.waitLimit())
	defer cancel()
	st, err := a.start(ctx, &q)
	if err != nil {
		a.o.Log.Error("holmes api: start investigation", "err", err)
		writeDetail(w, http.StatusInternalServerError, err.Error())
		return
	}
	inv, err := a.wait(ctx, st.id)
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, err.Error())
		return
	}
	res, err := a.result(&q, st, inv)
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// result renders a finished investigation as HolmesGPT's answer.
func (a *API) result(q *InvestigateRequest, st started, inv *store.Investigation) (*InvestigationResult, error) {
	var rep report.Report
	if err := json.Unmarshal(inv.Report, &rep); err != nil {
		return nil, fmt.Errorf("investigation %d: decode report: %w", inv.ID, err)
	}
	res := &InvestigationResult{
		Analysis:     rep.Markdown(),
		Sections:     sections(&rep, q.Sections),
		ToolCalls:    toolCalls(rep.ToolCalls, q.IncludeToolCalls, q.IncludeToolCallResults),
		Instructions: []string{},
		Metadata: map[string]any{
			"investigation_id": inv.ID, "incident_id": st.incidentID, "deduplicated": st.deduplicated,
			"investigator": rep.Investigator, "root_cause": rep.RootCause,
		},
	}
	if rep.LLM != nil {
		if rep.LLM.Analysis != "" {
			res.Analysis = rep.LLM.Analysis
		}
		res.Metadata["llm"] = map[string]any{"model": rep.LLM.Model, "outcome": rep.LLM.Outcome, "partial": rep.LLM.Partial, "note": rep.LLM.Note}
		res.Metadata["usage"] = map[string]int{"prompt_tokens": rep.LLM.PromptTokens, "completion_tokens": rep.LLM.CompletionTokens, "total_tokens": rep.LLM.PromptTokens + rep.LLM.CompletionTokens}
	}
	for _, rb := range rep.Runbooks {
		if rb.Instructions != "" {
			res.Instructions = append(res.Instructions, rb.Instructions)
		}
	}
	return res, nil
}

// sections returns the requested sections (HolmesGPT's defaults when none
// were asked for), each with the report's text or null.
func sections(rep *report.Report, asked map[string]string) map[string]*string {
	names := report.SectionNames
	if len(asked) > 0 {
		names = names[:0:0]
		for k := range asked {
			names = append(names, k)
		}
		sort.Strings(names)
	}
	out := map[string]*string{}
	for _, n := range names {
		if v := rep.Sections[n]; v != "" {
			out[n] = &v
		} else {
			out[n] = nil
		}
	}
	return out
}

// toolCalls renders the report's calls as HolmesGPT's ToolCallResult:
// none unless include_tool_calls, and without their output unless
// include_tool_call_results (HolmesGPT ignores both flags).
func toolCalls(calls []toolcall.Call, include, withResults bool) []ToolCallResult {
	out := []ToolCallResult{}
	if !include {
		return out
	}
	for _, c := range calls {
		tr := ToolResult{SchemaVersion: "robusta:v1.0.0", Status: string(c.Status), Params: c.Args}
		if c.Error != "" {
			e := c.Error
			tr.Error = &e
		}
		if c.URL != "" {
			u := c.URL
			tr.URL = &u
		}
		inv := c.Description
		tr.Invocation = &inv
		if withResults {
			d := c.Excerpt
			tr.Data = &d
		}
		if tr.Params == nil {
			tr.Params = map[string]string{}
		}
		out = append(out, ToolCallResult{ToolCallID: c.ID, ToolName: c.Tool, Description: c.Description, Result: tr, Size: c.Bytes})
	}
	return out
}
