package ui_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// alertStart is when the fixture's OOM alert fired.
var alertStart = time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)

// XSS payloads an attacker controlling alert labels would try.
const (
	xssScript = `<script>alert("label")</script>`
	xssImg    = `"><img src=x onerror=alert(2)>`
)

func oomAlert() alert.Alert {
	return alert.Alert{
		Status: "firing",
		Labels: map[string]string{"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "checkout-7d9f8b6c5d-x2k4p",
			"container": "app", "severity": "critical", "deployment": "checkout"},
		Annotations:  map[string]string{"summary": "Pod shop/checkout-7d9f8b6c5d-x2k4p is crash looping"},
		StartsAt:     alertStart,
		GeneratorURL: "http://vmalert.monitoring.svc:8880/vmalert/alert?group_id=1&alert_id=2",
		Fingerprint:  "a1b2c3d4e5f60718",
	}
}

func xssAlert() alert.Alert {
	return alert.Alert{
		Status:      "firing",
		Labels:      map[string]string{"alertname": "XSSProbe", "namespace": "evil", "severity": "warning", "pod": xssImg, "team": xssScript},
		Annotations: map[string]string{"description": xssScript + " and " + xssImg},
		StartsAt:    alertStart.Add(time.Minute),
		// A javascript: URL must never become a live link.
		GeneratorURL: "javascript:alert(3)",
		Fingerprint:  "ffee0011ffee0011",
	}
}

// ingest records alerts as the webhook would.
func ingest(t *testing.T, st store.Store, now time.Time, alerts ...alert.Alert) store.IngestResult {
	t.Helper()
	in := store.Ingest{Now: now, Receiver: "sleuth", Cooldown: time.Hour}
	for _, a := range alerts {
		in.Alerts = append(in.Alerts, store.KeyedAlert{Alert: a, Key: incident.Key([]string{"alertname", "namespace", "workload"}, a.Labels), Workload: incident.Workload(a.Labels)})
	}
	res, err := st.Ingest(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// finishNext claims the next queued investigation and stores rep for it.
func finishNext(t *testing.T, st store.Store, now time.Time, rep func(inv *store.Investigation) *report.Report) *store.Investigation {
	t.Helper()
	ctx := context.Background()
	inv, err := st.Claim(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	r := rep(inv)
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx, store.Finish{ID: inv.ID, Attempt: inv.Attempts, Now: now, State: store.StateDone, Report: body}); err != nil {
		t.Fatal(err)
	}
	return inv
}

func ptr(f float64) *float64 { return &f }

// oomReport is a report as the engine and the LLM stage would write it for
// a container killed at its memory limit after a rollout.
func oomReport(incidentID int64) *report.Report {
	start := alertStart.Add(-time.Hour)
	var mem, mem2, cpu [][2]float64
	for i := 0; i <= 90; i++ {
		t := float64(start.Add(time.Duration(i) * 45 * time.Second).Unix())
		// The memory climbs after the rollout (at 40 minutes) to the limit.
		v := 120.0
		if i > 53 {
			v += float64(i-53) * 4.5
		}
		if v > 256 {
			v = 80 // killed and restarted
		}
		mem = append(mem, [2]float64{t, v * (1 << 20)})
		mem2 = append(mem2, [2]float64{t, (60 + float64(i%7)) * (1 << 20)})
		cpu = append(cpu, [2]float64{t, 0.05 + 0.002*float64(i%11)})
	}
	q := `max by (pod, container) (container_memory_working_set_bytes{namespace="shop",pod=~"checkout-7d9f8b6c5d-x2k4p",container!="",container!="POD"})`
	calls := []toolcall.Call{
		{ID: "call-1", Tool: "kubernetes.get", Backend: "kubernetes", Args: map[string]string{"kind": "pod", "namespace": "shop", "name": "checkout-7d9f8b6c5d-x2k4p"},
			Description: "kubectl get pod -n shop checkout-7d9f8b6c5d-x2k4p", Status: toolcall.Success, Started: alertStart.Add(time.Minute), DurationMS: 12.5,
			Excerpt: "status:\n  containerStatuses:\n  - lastState:\n      terminated:\n        reason: OOMKilled\n        exitCode: 137", Bytes: 4211},
		{ID: "call-2", Tool: "metrics.query_range", Backend: "prometheus", Args: map[string]string{"query": q, "step": "45s"},
			Description: "query_range " + q, Status: toolcall.Success, Started: alertStart.Add(time.Minute), DurationMS: 41.2, Bytes: 9000,
			URL: "http://vmsingle.monitoring.svc:8428/vmui/#/?g0.expr=x"},
		{ID: "call-3", Tool: "logs.query", Backend: "victorialogs", Args: map[string]string{"query": `kubernetes.pod_namespace:"shop" kubernetes.pod_name:"checkout-7d9f8b6c5d-x2k4p"`},
			Description: "LogsQL kubernetes.pod_namespace:shop", Status: toolcall.Success, Started: alertStart.Add(time.Minute), DurationMS: 18, Bytes: 2048,
			Excerpt: "2026-03-02T10:28:58Z java.lang.OutOfMemoryError: Java heap space"},
		{ID: "call-4", Tool: "kubernetes.events", Backend: "kubernetes", Args: map[string]string{"namespace": "shop"},
			Description: "kubectl get events -n shop", Status: toolcall.Error, Error: "the server could not find the requested resource", Started: alertStart.Add(time.Minute), DurationMS: 3.1},
	}
	return &report.Report{
		Investigator: "sleuth-engine", IncidentID: incidentID, Generated: alertStart.Add(2 * time.Minute),
		RootCause: report.RootCause{Category: report.OOMKilled, Object: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "checkout"}, Confidence: 0.92},
		Summary:   "Container app of checkout-7d9f8b6c5d-x2k4p was OOMKilled 4 times: its working set reached the 256 MiB limit 12 minutes after revision 7 rolled out.",
		Target:    report.Ref{Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f8b6c5d-x2k4p"},
		Findings: []report.Finding{{Analyzer: "oom", Category: report.OOMKilled, Object: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "checkout"},
			Score: 0.92, Title: "Container app was OOMKilled (exit 137) 4 times", Detail: "working set peaked at 256 MiB of a 256 MiB limit", Evidence: []string{"call-1", "call-2"}}},
		Remediation: []string{"Raise the memory limit of container app in Deployment shop/checkout to 384Mi, or roll back to revision 6.", "Check the heap settings (-Xmx) against the limit."},
		Checked:     []report.Check{{Analyzer: "node", Note: "node worker-2 is Ready with no pressure"}},
		Unchecked:   []report.Unchecked{{What: "events", Why: "the server could not find the requested resource"}},
		Runbooks:    []report.Runbook{{Name: "oom-killed", Source: "builtin:pods.yaml", Instructions: "Compare the working set with the limit."}},
		Alerts: []report.Alert{{Name: "KubePodCrashLooping", Status: "firing", Fingerprint: "a1b2c3d4e5f60718", StartsAt: alertStart,
			Labels: oomAlert().Labels, Annotations: oomAlert().Annotations, GeneratorURL: oomAlert().GeneratorURL}},
		ToolCalls: calls,
		Series: []report.Series{
			{Name: "memory_working_set", Query: q, Labels: map[string]string{"pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app"}, Unit: report.UnitBytes, Limit: ptr(256 << 20), Points: mem},
			{Name: "memory_working_set", Query: q, Labels: map[string]string{"pod": "checkout-7d9f8b6c5d-x2k4p", "container": "istio-proxy"}, Unit: report.UnitBytes, Limit: ptr(128 << 20), Points: mem2},
			{Name: "cpu_usage", Query: `sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{namespace="shop"}[5m]))`, Labels: map[string]string{"pod": "checkout-7d9f8b6c5d-x2k4p", "container": "app"}, Unit: report.UnitCores, Limit: ptr(0.5), Points: cpu},
		},
		Logs: []report.LogGroup{
			{Template: "java.lang.OutOfMemoryError: Java heap space", Count: 4, Example: "java.lang.OutOfMemoryError: Java heap space", Pod: "checkout-7d9f8b6c5d-x2k4p", First: alertStart.Add(-9 * time.Minute), Last: alertStart.Add(-time.Minute), Previous: true},
			{Template: "GET /api/cart/<*> took <*>", Count: 312, Example: "GET /api/cart/8812 took 41ms", Pod: "checkout-7d9f8b6c5d-x2k4p", First: start, Last: alertStart},
		},
		Timeline: []report.TimelineEntry{
			{Time: alertStart.Add(-20 * time.Minute), Kind: report.TimelineRollout, Object: report.Ref{Kind: "ReplicaSet", Namespace: "shop", Name: "checkout-7d9f8b6c5d"}, Text: "revision 7 rolled out: registry.example.com/checkout:1.8.0"},
			{Time: alertStart.Add(-8 * time.Minute), Kind: report.TimelineRestart, Warning: true, Object: report.Ref{Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f8b6c5d-x2k4p"}, Text: "container app terminated: OOMKilled, exit code 137 (restarts: 4)"},
			{Time: alertStart.Add(-7 * time.Minute), Kind: report.TimelineEvent, Warning: true, Object: report.Ref{Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f8b6c5d-x2k4p"}, Text: "BackOff: Back-off restarting failed container app (x12)"},
			{Time: alertStart, Kind: report.TimelineAlert, Warning: true, Text: "KubePodCrashLooping firing"},
		},
		Timing: report.Timing{TotalMS: 184, CollectMS: 170, AnalyzeMS: 14, Calls: len(calls)},
	}
}

// withConversation adds the LLM stage's conversation to a report's JSON.
func withConversation(t *testing.T, rep *report.Report) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["conversation"] = []map[string]any{
		{"role": "user", "content": "Alert KubePodCrashLooping in shop. Findings: OOMKilled x4."},
		{"role": "assistant", "content": "", "tool_calls": []map[string]any{{"id": "c1", "type": "function", "function": map[string]string{"name": "execute_prometheus_range_query", "arguments": `{"query":"container_memory_working_set_bytes"}`}}}},
		{"role": "tool", "tool_call_id": "c1", "content": "peak 268435456 at 10:22"},
		{"role": "assistant", "content": "The working set grows steadily after revision 7: a leak in 1.8.0 " + xssScript},
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// seed fills a SQLite store at path: the OOM incident investigated (with a
// model conversation) and a second incident still queued.
func seed(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := alertStart.Add(time.Minute)
	ingest(t, st, now, oomAlert())
	inv, err := st.Claim(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	body := withConversation(t, oomReport(inv.IncidentID))
	if err := st.Finish(ctx, store.Finish{ID: inv.ID, Attempt: inv.Attempts, Now: now, State: store.StateDone, Report: body}); err != nil {
		t.Fatal(err)
	}
	disk := alert.Alert{Status: "firing", Labels: map[string]string{"alertname": "KubePersistentVolumeFillingUp", "namespace": "payments",
		"persistentvolumeclaim": "data-ledger-0", "severity": "warning"}, StartsAt: alertStart.Add(5 * time.Minute), Fingerprint: "0badc0de0badc0de"}
	ingest(t, st, now.Add(5*time.Minute), disk)
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "sleuth.db") }
