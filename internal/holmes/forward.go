package holmes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Deterministic is the stage that answers first: the engine.
type Deterministic interface {
	Investigate(ctx context.Context, job investigate.Job) (*report.Report, error)
}

// Forwarder is the queue's investigator in forward mode, the seed's
// topology: sleuth takes the alerts in (durably, deduplicated, queued),
// runs its deterministic stage, then sends the incident to an external
// HolmesGPT's /api/investigate, as the seed's bridge did, and stores
// HolmesGPT's answer as the report's analysis next to its own findings.
type Forwarder struct {
	Engine Deterministic
	// URL is HolmesGPT's base URL (http://holmesgpt-holmes.holmesgpt.svc:80).
	URL string
	// APIKey is sent as X-API-Key when set (HolmesGPT 2026 requires one).
	APIKey string
	// Timeout bounds one request (0: the investigation's deadline).
	Timeout time.Duration
	// MaxAttempts is the queue's: on the last attempt a failed forward
	// keeps the deterministic report instead of failing the investigation.
	MaxAttempts int
	Client      *http.Client
}

// maxForwardBody bounds HolmesGPT's answer.
const maxForwardBody = 8 << 20

// Investigate implements the queue's Investigator.
func (f *Forwarder) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	det, err := f.Engine.Investigate(ctx, job)
	if err != nil || det == nil {
		return det, err
	}
	start := time.Now()
	res, err := f.forward(ctx, job)
	st := &report.LLMStage{Model: "holmesgpt " + f.URL, WallMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		var pe *investigate.PermanentError
		if !errors.As(err, &pe) && job.Investigation.Attempts < f.MaxAttempts && ctx.Err() == nil {
			// HolmesGPT may be back on the next attempt: let the queue retry.
			return nil, fmt.Errorf("forward to HolmesGPT: %w", err)
		}
		st.Outcome, st.Note = report.LLMFailed, "forwarding to HolmesGPT failed, the deterministic report stands: "+err.Error()
		det.LLM = st
		return det, nil
	}
	st.Outcome = report.LLMCommentary
	st.Analysis = res.Analysis
	st.Note = "answered by the external HolmesGPT (forward.url); sleuth's deterministic root cause stands beside it"
	det.LLM = st
	for i, tc := range res.ToolCalls {
		c := toolcall.Call{ID: fmt.Sprintf("holmes-%d", i+1), Tool: tc.ToolName, Backend: "holmesgpt", Description: tc.Description,
			Status: toolcall.Status(tc.Result.Status), Args: tc.Result.Params, Bytes: tc.Size}
		if tc.Result.Data != nil {
			c.Excerpt, c.Truncated = toolcall.Truncate(*tc.Result.Data, toolcall.DefaultExcerptBytes)
		}
		if tc.Result.Error != nil {
			c.Error = *tc.Result.Error
		}
		det.ToolCalls = append(det.ToolCalls, c)
	}
	det.Timing.Calls = len(det.ToolCalls)
	return det, nil
}

func (f *Forwarder) forward(ctx context.Context, job investigate.Job) (*InvestigationResult, error) {
	if f.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.Timeout)
		defer cancel()
	}
	body, err := json.Marshal(BridgeRequest(job.Incident, job.Alerts))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(f.URL, "/")+"/api/investigate", bytes.NewReader(body))
	if err != nil {
		return nil, investigate.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if f.APIKey != "" {
		req.Header.Set("X-API-Key", f.APIKey)
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, clip(string(raw), 500))
		// A 4xx will not change on a retry; 429 and 5xx may.
		if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests {
			return nil, investigate.Permanent(err)
		}
		return nil, err
	}
	var res InvestigationResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("decode the answer: %w", err)
	}
	return &res, nil
}

// BridgeRequest is the request the seed's bridge sent for an alert: the
// alertname as the title, the description, the labels; here for the
// incident's most urgent alert, with the others' names in the context.
func BridgeRequest(inc store.Incident, alerts []store.Alert) map[string]any {
	primary := store.Alert{Labels: map[string]string{"alertname": inc.AlertName, "namespace": inc.Namespace}}
	if len(alerts) > 0 {
		primary = alerts[0]
		for _, a := range alerts {
			if a.Status == "firing" && primary.Status != "firing" {
				primary = a
			}
		}
	}
	desc := primary.Annotations["description"]
	if desc == "" {
		desc = primary.Annotations["summary"]
	}
	subject := map[string]any{"namespace": primary.Labels["namespace"], "labels": primary.Labels}
	for _, k := range []string{"pod", "deployment", "statefulset", "daemonset", "node"} {
		if v := primary.Labels[k]; v != "" {
			subject["name"], subject["subject_type"] = v, k
			break
		}
	}
	var names []string
	for _, a := range alerts {
		names = append(names, a.Labels["alertname"])
	}
	return map[string]any{
		"source": "prometheus", "title": primary.Labels["alertname"], "description": desc, "subject": subject,
		"context": map[string]any{"labels": primary.Labels, "annotations": primary.Annotations, "fingerprint": primary.Fingerprint,
			"starts_at": primary.StartsAt.UTC().Format(time.RFC3339), "incident_id": inc.ID, "alerts": names},
		"source_instance_id": "sleuth", "include_tool_calls": true, "include_tool_call_results": true,
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
