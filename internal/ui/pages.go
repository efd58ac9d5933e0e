package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// listLimit bounds the incidents the list reads: filters the store does
// not know (severity, category, text) apply to these.
const listLimit = 200

// listFilter is the incidents list's query.
type listFilter struct {
	State, Namespace, Severity, Category, Q string
}

func parseListFilter(q url.Values) listFilter {
	f := listFilter{State: q.Get("state"), Namespace: strings.TrimSpace(q.Get("namespace")), Severity: q.Get("severity"),
		Category: q.Get("category"), Q: strings.TrimSpace(q.Get("q"))}
	if f.State != store.IncidentOpen && f.State != store.IncidentResolved {
		f.State = ""
	}
	return f
}

func (f listFilter) query() string {
	v := url.Values{}
	for k, s := range map[string]string{"state": f.State, "namespace": f.Namespace, "severity": f.Severity, "category": f.Category, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

type incidentRow struct {
	store.Incident
	Category   string
	Object     string
	Confidence float64
	InvState   string
	InvError   string
}

type incidentsView struct {
	Filter     listFilter
	Rows       []incidentRow
	RowsURL    string
	Categories []string
	Severities []string
	Error      string
	Updated    time.Time
}

// rootCauseOnly decodes the part of a stored report the list shows.
type rootCauseOnly struct {
	RootCause report.RootCause `json:"root_cause"`
}

func (u *UI) listIncidents(ctx context.Context, f listFilter) ([]incidentRow, error) {
	incs, err := u.o.Store.Incidents(ctx, store.Filter{State: f.State, Namespace: f.Namespace, Limit: listLimit})
	if err != nil {
		return nil, err
	}
	var rows []incidentRow
	q := strings.ToLower(f.Q)
	for _, in := range incs {
		if f.Severity != "" && in.Severity != f.Severity {
			continue
		}
		row := incidentRow{Incident: in}
		if in.LastInvestigationID != 0 {
			inv, err := u.o.Store.Investigation(ctx, in.LastInvestigationID)
			if err == nil {
				row.InvState, row.InvError = inv.State, inv.Error
				var rc rootCauseOnly
				if len(inv.Report) > 0 && json.Unmarshal(inv.Report, &rc) == nil {
					row.Category, row.Object, row.Confidence = rc.RootCause.Category, rc.RootCause.Object.String(), rc.RootCause.Confidence
				}
			}
		}
		if f.Category != "" && row.Category != f.Category {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(in.AlertName+" "+in.Namespace+" "+in.Workload+" "+row.Object), q) {
			continue
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (u *UI) incidentsPage(w http.ResponseWriter, r *http.Request) {
	f := parseListFilter(r.URL.Query())
	v := incidentsView{Filter: f, Categories: report.Categories, Severities: []string{"critical", "warning", "info"}, Updated: u.o.Now()}
	v.RowsURL = "/ui/rows?" + f.query()
	rows, err := u.listIncidents(r.Context(), f)
	if err != nil {
		v.Error = "The store could not be read: " + err.Error()
	}
	v.Rows = rows
	u.render(w, r, "incidents", "Incidents", v)
}

// incidentRows is the list's rows alone, which the page's script fetches
// to update itself while investigations run.
func (u *UI) incidentRows(w http.ResponseWriter, r *http.Request) {
	rows, err := u.listIncidents(r.Context(), parseListFilter(r.URL.Query()))
	if err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	u.fragment(w, "incidents", "rows", incidentsView{Rows: rows})
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("not an id")
	}
	return id, nil
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request, what string) {
	w.WriteHeader(http.StatusNotFound)
	u.render(w, r, "error", "Not found", errorView{Title: "Not found", Message: what + " does not exist."})
}

type errorView struct{ Title, Message string }

func (u *UI) storeError(w http.ResponseWriter, r *http.Request, err error) {
	u.o.Log.Error("ui: store", "path", r.URL.Path, "err", err)
	w.WriteHeader(http.StatusServiceUnavailable)
	u.render(w, r, "error", "Store unavailable", errorView{Title: "Store unavailable", Message: err.Error()})
}

type incidentView struct {
	Incident *store.Incident
	Alerts   []store.Alert
}

func (u *UI) incidentPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		u.notFound(w, r, "This incident")
		return
	}
	in, err := u.o.Store.Incident(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, r, fmt.Sprintf("Incident %d", id))
		return
	} else if err != nil {
		u.storeError(w, r, err)
		return
	}
	alerts, err := u.o.Store.IncidentAlerts(r.Context(), id)
	if err != nil {
		u.storeError(w, r, err)
		return
	}
	u.render(w, r, "incident", fmt.Sprintf("Incident %d: %s", id, in.AlertName), incidentView{Incident: in, Alerts: alerts})
}

// investigationState answers the investigation page's script, which
// reloads the page when a running investigation finishes.
func (u *UI) investigationState(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	inv, err := u.o.Store.Investigation(r.Context(), id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"state": inv.State, "attempts": inv.Attempts})
}

func (u *UI) investigationPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		u.notFound(w, r, "This investigation")
		return
	}
	inv, err := u.o.Store.Investigation(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		u.notFound(w, r, fmt.Sprintf("Investigation %d", id))
		return
	} else if err != nil {
		u.storeError(w, r, err)
		return
	}
	in, err := u.o.Store.Incident(r.Context(), inv.IncidentID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		u.storeError(w, r, err)
		return
	}
	v := u.investigationView(inv, in)
	title := fmt.Sprintf("Investigation %d", id)
	if in != nil {
		title += ": " + in.AlertName
	}
	u.render(w, r, "investigation", title, v)
}

type investigationView struct {
	Inv      *store.Investigation
	Incident *store.Incident
	Running  bool
	Report   *report.Report
	// ReportError says the stored report could not be read.
	ReportError  string
	Charts       []chartView
	Calls        []callView
	Conversation []messageView
	FirstStep    string
	OtherSteps   []string
	Alerts       []alertView
	Grafana      bool
}

type callView struct {
	toolcall.Call
	ArgList    []kv
	ExploreURL string
}

type kv struct{ K, V string }

type alertView struct {
	report.Alert
	LabelList      []kv
	AnnotationList []kv
}

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

func (u *UI) investigationView(inv *store.Investigation, in *store.Incident) investigationView {
	v := investigationView{Inv: inv, Incident: in, Running: inv.State == store.StateQueued || inv.State == store.StateRunning,
		Grafana: u.o.Config.UI.GrafanaURL != ""}
	if len(inv.Report) == 0 {
		return v
	}
	var rep report.Report
	if err := json.Unmarshal(inv.Report, &rep); err != nil {
		v.ReportError = err.Error()
		return v
	}
	v.Report = &rep
	if len(rep.Remediation) > 0 {
		v.FirstStep, v.OtherSteps = rep.Remediation[0], rep.Remediation[1:]
	}
	alertStart := time.Time{}
	for _, a := range rep.Alerts {
		if alertStart.IsZero() || (!a.StartsAt.IsZero() && a.StartsAt.Before(alertStart)) {
			alertStart = a.StartsAt
		}
		v.Alerts = append(v.Alerts, alertView{Alert: a, LabelList: sortedKV(a.Labels), AnnotationList: sortedKV(a.Annotations)})
	}
	from, to := seriesWindow(rep.Series)
	for _, c := range buildCharts(rep.Series, alertStart) {
		c.ExploreURL = u.exploreURL(u.o.Config.UI.GrafanaDatasource, c.Query, from, to)
		v.Charts = append(v.Charts, c)
	}
	for _, c := range rep.ToolCalls {
		cv := callView{Call: c, ArgList: sortedKV(c.Args)}
		if q := c.Args["query"]; q != "" {
			switch c.Backend {
			case "prometheus":
				cv.ExploreURL = u.exploreURL(u.o.Config.UI.GrafanaDatasource, q, from, to)
			case "victorialogs":
				cv.ExploreURL = u.exploreURL(u.o.Config.UI.GrafanaLogsDatasource, q, from, to)
			}
		}
		v.Calls = append(v.Calls, cv)
	}
	v.Conversation = conversation(inv.Report)
	return v
}

// exploreURL links to Grafana Explore with the query over the window, in
// the panes format of Grafana 10 and later.
func (u *UI) exploreURL(datasource, query string, from, to time.Time) string {
	base := strings.TrimRight(u.o.Config.UI.GrafanaURL, "/")
	if base == "" || query == "" {
		return ""
	}
	rng := map[string]string{"from": "now-1h", "to": "now"}
	if !from.IsZero() && !to.IsZero() {
		rng = map[string]string{"from": strconv.FormatInt(from.UnixMilli(), 10), "to": strconv.FormatInt(to.UnixMilli(), 10)}
	}
	q := map[string]any{"refId": "A", "expr": query}
	pane := map[string]any{"queries": []any{q}, "range": rng}
	if datasource != "" {
		q["datasource"] = map[string]string{"uid": datasource}
		pane["datasource"] = datasource
	}
	panes, _ := json.Marshal(map[string]any{"a": pane})
	return base + "/explore?schemaVersion=1&orgId=1&panes=" + url.QueryEscape(string(panes))
}

// messageView is one message of an LLM conversation.
type messageView struct {
	Role    string
	Name    string
	Content string
	Calls   []string
}

// conversation finds the model conversation in a stored report, when the
// LLM stage kept one: OpenAI-format messages under "conversation" (or
// "messages"), at the top level or inside "llm".
func conversation(raw json.RawMessage) []messageView {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return nil
	}
	var candidates []json.RawMessage
	for _, k := range []string{"conversation", "llm_conversation", "messages", "conversation_history"} {
		if m, ok := top[k]; ok {
			candidates = append(candidates, m)
		}
	}
	var llm map[string]json.RawMessage
	if m, ok := top["llm"]; ok && json.Unmarshal(m, &llm) == nil {
		for _, k := range []string{"conversation", "messages", "conversation_history"} {
			if m, ok := llm[k]; ok {
				candidates = append(candidates, m)
			}
		}
	}
	for _, c := range candidates {
		var msgs []struct {
			Role      string          `json:"role"`
			Name      string          `json:"name"`
			Content   json.RawMessage `json:"content"`
			ToolCalls []struct {
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		}
		if json.Unmarshal(c, &msgs) != nil || len(msgs) == 0 {
			continue
		}
		var out []messageView
		for _, m := range msgs {
			mv := messageView{Role: m.Role, Name: m.Name, Content: contentText(m.Content)}
			for _, tc := range m.ToolCalls {
				mv.Calls = append(mv.Calls, tc.Function.Name+"("+tc.Function.Arguments+")")
			}
			out = append(out, mv)
		}
		return out
	}
	return nil
}

// contentText renders a message content: a string, or OpenAI's list of
// parts, whose text parts are joined.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

type chatView struct {
	// Context introduces the investigation the chat starts from.
	Context         string
	InvestigationID int64
}

func (u *UI) chatPage(w http.ResponseWriter, r *http.Request) {
	var v chatView
	if s := r.URL.Query().Get("investigation"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			if inv, err := u.o.Store.Investigation(r.Context(), id); err == nil {
				v.InvestigationID = id
				v.Context = chatContext(inv)
			}
		}
	}
	u.render(w, r, "chat", "Chat", v)
}

// chatContext is the text a chat started from an investigation sends
// ahead of the first question, so that any /api/chat implementation knows
// what is being asked about.
func chatContext(inv *store.Investigation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Context: sleuth investigation %d of incident %d (%s", inv.ID, inv.IncidentID, inv.State)
	if inv.AlertName != "" {
		fmt.Fprintf(&b, ", alert %s", inv.AlertName)
	}
	if inv.Namespace != "" {
		fmt.Fprintf(&b, " in namespace %s", inv.Namespace)
	}
	b.WriteString(").")
	var rep report.Report
	if len(inv.Report) > 0 && json.Unmarshal(inv.Report, &rep) == nil {
		fmt.Fprintf(&b, " Root cause: %s", rep.RootCause.Category)
		if o := rep.RootCause.Object.String(); o != "" {
			fmt.Fprintf(&b, " on %s", o)
		}
		fmt.Fprintf(&b, ". Summary: %s", rep.Summary)
		if len(rep.Remediation) > 0 {
			fmt.Fprintf(&b, " First step: %s", rep.Remediation[0])
		}
	}
	return b.String()
}

type runbookView struct {
	Kind, Name, Selector, Source string
	Line                         int
	Categories                   []string
	Instructions                 string
	Steps                        []string
}

type runbooksView struct {
	Runbooks []runbookView
	Files    []runbook.File
	Errors   []runbook.LoadError
	Test     *matchTest
}

type matchTest struct {
	AlertName string
	Labels    string
	Parsed    []kv
	Error     string
	Matches   []runbookView
}

func viewRunbook(rb *runbook.Runbook) runbookView {
	v := runbookView{Kind: string(rb.Kind), Name: rb.String(), Selector: rb.Selector(), Source: rb.Source, Line: rb.Line,
		Categories: rb.Categories, Instructions: rb.Instructions}
	for _, s := range rb.Steps {
		args := sortedKV(s.Args())
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = a.K + "=" + a.V
		}
		v.Steps = append(v.Steps, s.Tool+" "+strings.Join(parts, " "))
	}
	return v
}

func (u *UI) runbooksPage(w http.ResponseWriter, r *http.Request) {
	v := runbooksView{Files: u.o.Runbooks.Files(), Errors: u.o.RunbookErrors}
	for _, rb := range u.o.Runbooks.Runbooks() {
		v.Runbooks = append(v.Runbooks, viewRunbook(rb))
	}
	q := r.URL.Query()
	if q.Has("alertname") || q.Has("labels") {
		t := &matchTest{AlertName: strings.TrimSpace(q.Get("alertname")), Labels: q.Get("labels")}
		labels, err := parseLabels(t.Labels)
		if err != nil {
			t.Error = err.Error()
		} else {
			if t.AlertName != "" {
				labels["alertname"] = t.AlertName
			}
			t.Parsed = sortedKV(labels)
			for _, m := range u.o.Runbooks.Match(runbook.Alert{Labels: labels}) {
				t.Matches = append(t.Matches, viewRunbook(m.Runbook))
			}
		}
		v.Test = t
	}
	u.render(w, r, "runbooks", "Runbooks", v)
}

// parseLabels reads labels written one per line or comma-separated, as
// name=value, name="value" or a whole {name="value", ...} selector.
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q: want name=value", line)
		}
		v = strings.TrimSpace(v)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

type healthView struct {
	Checks []Check
	Stats  *store.Stats
	Oldest time.Duration
	OK     bool
}

func (u *UI) healthPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var v healthView
	start := time.Now()
	if err := u.o.Store.Ping(ctx); err != nil {
		v.Checks = append(v.Checks, Check{Group: "store", Name: "store", Status: "failing", Detail: err.Error(), Latency: time.Since(start)})
	} else {
		v.Checks = append(v.Checks, Check{Group: "store", Name: "store", OK: true, Status: "ok", Detail: "accepts writes", Latency: time.Since(start)})
	}
	now := u.o.Now()
	if st, err := u.o.Store.Stats(ctx, now); err == nil {
		v.Stats = &st
		if !st.OldestQueued.IsZero() {
			v.Oldest = now.Sub(st.OldestQueued).Truncate(time.Second)
		}
		v.Checks = append(v.Checks, Check{Group: "queue", Name: "queue", OK: true, Status: "ok",
			Detail: fmt.Sprintf("%d queued (%d ready), %d running, %d open incidents", st.Investigations[store.StateQueued], st.Ready, st.Investigations[store.StateRunning], st.OpenIncidents)})
	} else {
		v.Checks = append(v.Checks, Check{Group: "queue", Name: "queue", Status: "failing", Detail: err.Error()})
	}
	if u.o.Health != nil {
		v.Checks = append(v.Checks, u.o.Health(ctx)...)
	}
	v.OK = !slices.ContainsFunc(v.Checks, func(c Check) bool { return !c.OK && c.Status != "not configured" })
	u.render(w, r, "health", "Health", v)
}
