package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Grafana adds an annotation when an investigation finishes, at the
// alert's start, and turns it into a region ending at the resolution
// (PATCH /api/annotations/:id with timeEnd).
type Grafana struct {
	URL   string
	Token string
	// DashboardUID puts the annotation on one dashboard; empty puts it on
	// the organisation, shown by dashboards that query annotations by tag.
	DashboardUID string
	Tags         []string
	Client       *http.Client
}

// Name implements Sink.
func (g *Grafana) Name() string { return "grafana" }

// GrafanaAnnotation is the body of POST /api/annotations.
type GrafanaAnnotation struct {
	DashboardUID string   `json:"dashboardUID,omitempty"`
	Time         int64    `json:"time"`
	TimeEnd      int64    `json:"timeEnd,omitempty"`
	Tags         []string `json:"tags"`
	Text         string   `json:"text"`
}

// BuildGrafana renders the annotation for an investigation.
func (g *Grafana) BuildGrafana(e Event) GrafanaAnnotation {
	t := e.StartsAt
	if t.IsZero() {
		t = e.Time
	}
	tags := append([]string{}, g.Tags...)
	for _, v := range []string{e.Category, e.Namespace, e.AlertName} {
		if v != "" {
			tags = append(tags, v)
		}
	}
	text := "sleuth: " + headline(e)
	if e.Summary != "" {
		text += "\n" + e.Summary
	}
	if e.URL != "" {
		text += "\n" + e.URL
	}
	return GrafanaAnnotation{DashboardUID: g.DashboardUID, Time: t.UnixMilli(), Tags: tags, Text: truncate(text, 2000)}
}

// Send implements Sink.
func (g *Grafana) Send(ctx context.Context, e Event, thread string) (string, bool, error) {
	c := g.Client
	if c == nil {
		c = http.DefaultClient
	}
	hdr := http.Header{}
	if g.Token != "" {
		hdr.Set("Authorization", "Bearer "+g.Token)
	}
	base := strings.TrimRight(g.URL, "/") + "/api/annotations"
	if e.Kind == Resolved {
		if thread == "" {
			return "", false, nil // nothing was annotated: nothing to end
		}
		body := map[string]any{"timeEnd": e.Time.UnixMilli()}
		status, rb, _, err := post(ctx, c, http.MethodPatch, base+"/"+thread, hdr, body)
		if err != nil {
			return "", true, sendError("grafana", base, err)
		}
		if status/100 != 2 {
			return "", retryable(status), &httpStatusError{sink: "grafana annotations", status: status, body: shortBody(rb)}
		}
		return thread, false, nil
	}
	status, rb, _, err := post(ctx, c, http.MethodPost, base, hdr, g.BuildGrafana(e))
	if err != nil {
		return "", true, sendError("grafana", base, err)
	}
	if status/100 != 2 {
		return "", retryable(status), &httpStatusError{sink: "grafana annotations", status: status, body: shortBody(rb)}
	}
	var ans struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(rb, &ans); err != nil {
		return "", false, fmt.Errorf("grafana annotations: unreadable answer %q", shortBody(rb))
	}
	return strconv.FormatInt(ans.ID, 10), false, nil
}
