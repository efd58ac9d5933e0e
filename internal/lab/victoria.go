package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (l *Lab) startVictoria(ctx context.Context, o Options, bins map[string]string) error {
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	vmAddr, err := FreeAddr()
	if err != nil {
		return err
	}
	progress(o.Progress, "lab: starting VictoriaMetrics")
	vm, err := startProc(l.Dir, "victoria-metrics", bins["victoria-metrics"],
		"-storageDataPath", filepath.Join(l.Dir, "victoria-metrics"),
		"-httpListenAddr", vmAddr,
		// The default one-month retention silently drops backdated samples.
		"-retentionPeriod=100y",
		// The default 30s offset hides the newest points, which are the
		// ones an alert is about.
		"-search.latencyOffset=0s",
		// A reset deletes series and the next scenario writes new ones with
		// the same names: cached results of the old ones must not be served.
		"-search.disableCache",
	)
	if err != nil {
		return err
	}
	l.procs = append(l.procs, vm)
	l.URLs.VictoriaMetrics = "http://" + vmAddr
	if err := vm.waitHTTP(wctx, l.client, l.URLs.VictoriaMetrics+"/health"); err != nil {
		return err
	}

	vlAddr, err := FreeAddr()
	if err != nil {
		return err
	}
	progress(o.Progress, "lab: starting VictoriaLogs")
	vl, err := startProc(l.Dir, "victoria-logs", bins["victoria-logs"],
		"-storageDataPath", filepath.Join(l.Dir, "victoria-logs"),
		"-httpListenAddr", vlAddr,
		"-retentionPeriod=100y",
		// A reset deletes every line through the delete API.
		"-delete.enable",
	)
	if err != nil {
		return err
	}
	l.procs = append(l.procs, vl)
	l.URLs.VictoriaLogs = "http://" + vlAddr
	return vl.waitHTTP(wctx, l.client, l.URLs.VictoriaLogs+"/health")
}

// alerting holds how Alertmanager and vmalert were started, so that an
// end-to-end evaluation can restart them with empty state.
type alerting struct {
	amBin, amConfig, amStorage, amAddr string
	vmaBin, vmaAddr                    string
	ruleGlobs                          []string
	interval                           time.Duration
	am, vma                            *proc
}

func (l *Lab) startAlerting(ctx context.Context, o Options, bins map[string]string) error {
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	webhook := o.WebhookURL
	if webhook == "" {
		webhook = "http://" + o.SleuthListen + "/webhook"
	}
	l.SleuthListen = o.SleuthListen
	// The seed's route (critical|warning to sleuth), with short waits so
	// that a lab delivers within seconds.
	amConfig := fmt.Sprintf(`route:
  receiver: blackhole
  group_by: [alertname, namespace]
  group_wait: 1s
  group_interval: 10s
  repeat_interval: 4h
  routes:
    - receiver: sleuth
      matchers: ['severity=~"critical|warning"']
receivers:
  - name: blackhole
  - name: sleuth
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            credentials: %q
`, webhook, l.WebhookToken)
	a := &alerting{amBin: bins["alertmanager"], vmaBin: bins["vmalert"], interval: o.EvaluationInterval,
		amConfig: filepath.Join(l.Dir, "alertmanager.yml"), amStorage: filepath.Join(l.Dir, "alertmanager")}
	l.alerting = a
	if err := os.WriteFile(a.amConfig, []byte(amConfig), 0o600); err != nil {
		return err
	}
	var err error
	if a.amAddr, err = FreeAddr(); err != nil {
		return err
	}
	l.URLs.Alertmanager = "http://" + a.amAddr
	progress(o.Progress, "lab: starting Alertmanager")
	if err := l.startAlertmanager(wctx); err != nil {
		return err
	}
	if len(o.Rules) == 0 {
		return nil
	}
	dir := filepath.Join(l.Dir, "rules")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(o.Rules))
	for n := range o.Rules {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(n)), o.Rules[n], 0o644); err != nil {
			return err
		}
	}
	a.ruleGlobs = []string{filepath.Join(dir, "*.yaml"), filepath.Join(dir, "*.yml")}
	if a.vmaAddr, err = FreeAddr(); err != nil {
		return err
	}
	l.URLs.VMAlert = "http://" + a.vmaAddr
	progress(o.Progress, "lab: starting vmalert with %d rule files", len(names))
	return l.startVMAlert(wctx)
}

func (l *Lab) startAlertmanager(ctx context.Context) error {
	a := l.alerting
	am, err := startProc(l.Dir, "alertmanager", a.amBin,
		"--config.file", a.amConfig,
		"--storage.path", a.amStorage,
		"--web.listen-address", a.amAddr,
		"--cluster.listen-address=",
	)
	if err != nil {
		return err
	}
	a.am = am
	l.procs = append(l.procs, am)
	return am.waitHTTP(ctx, l.client, l.URLs.Alertmanager+"/-/ready")
}

func (l *Lab) vmalertArgs() []string {
	a := l.alerting
	var args []string
	for _, g := range a.ruleGlobs {
		args = append(args, "-rule", g)
	}
	return append(args,
		"-datasource.url", l.URLs.VictoriaMetrics,
		"-remoteWrite.url", l.URLs.VictoriaMetrics,
		"-evaluationInterval", a.interval.String(),
		// The lab's VictoriaMetrics shows the newest points at once.
		"-rule.evalDelay=0s",
	)
}

func (l *Lab) startVMAlert(ctx context.Context) error {
	a := l.alerting
	args := append(l.vmalertArgs(),
		"-notifier.url", l.URLs.Alertmanager,
		// Alerts restore their `for` state from ALERTS_FOR_STATE on start,
		// as far back as the replay wrote it.
		"-remoteRead.url", l.URLs.VictoriaMetrics,
		"-remoteRead.lookback", replayWindow.String(),
		"-httpListenAddr", a.vmaAddr,
	)
	va, err := startProc(l.Dir, "vmalert", a.vmaBin, args...)
	if err != nil {
		return err
	}
	a.vma = va
	l.procs = append(l.procs, va)
	return va.waitHTTP(ctx, l.client, l.URLs.VMAlert+"/health")
}

// replayWindow is how far before now ReplayAlerts evaluates the rules: an
// alert that started hours before the scenario's now keeps its real start
// (and so the investigation its real time window) only if the replay
// reaches back to it.
const replayWindow = 6 * time.Hour

// ReplayAlerts makes the shipped alert rules fire on the loaded scenario as
// they would have in a cluster that had been running it: vmalert replays
// the rules over the hours before now (writing ALERTS_FOR_STATE, so that
// `for` durations are already served), then vmalert and Alertmanager are
// restarted with empty state; the new vmalert restores the pending and
// firing alerts and Alertmanager delivers them to the webhook. Only a lab
// started by this process (not an attached one) can do this.
func (l *Lab) ReplayAlerts(ctx context.Context, now time.Time) error {
	a := l.alerting
	if a == nil || a.vma == nil {
		return fmt.Errorf("the lab has no vmalert of its own (it was attached to, or started without rules)")
	}
	a.vma.stop(10 * time.Second)
	a.am.stop(10 * time.Second)
	l.procs = slices.DeleteFunc(l.procs, func(p *proc) bool { return p == a.vma || p == a.am })
	if err := os.RemoveAll(a.amStorage); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	args := append(l.vmalertArgs(),
		"-replay.timeFrom", now.Add(-replayWindow).UTC().Format(time.RFC3339),
		"-replay.timeTo", now.UTC().Format(time.RFC3339),
		"-replay.disableProgressBar",
		"-replay.rulesDelay=0s",
	)
	replay, err := startProc(l.Dir, "vmalert-replay", a.vmaBin, args...)
	if err != nil {
		return err
	}
	select {
	case <-replay.done:
	case <-rctx.Done():
		replay.stop(time.Second)
		return fmt.Errorf("vmalert replay did not finish: %w (log %s)", rctx.Err(), replay.logPath)
	}
	if replay.err != nil {
		return fmt.Errorf("vmalert replay: %v (log %s):\n%s", replay.err, replay.logPath, replay.tail())
	}
	if _, err := l.do(rctx, http.MethodGet, l.URLs.VictoriaMetrics+"/internal/force_flush", "", nil); err != nil {
		return err
	}
	if err := l.startAlertmanager(rctx); err != nil {
		return err
	}
	return l.startVMAlert(rctx)
}

func (l *Lab) writeSleuthConfig(o Options) error {
	l.SleuthConfig = filepath.Join(l.Dir, "sleuth.yaml")
	cfg := fmt.Sprintf(`# Written by sleuth lab up: a sleuth pointed at this lab.
# Run: sleuth serve --config %s
listen: %q
store: %q
auth:
  webhook_token: %q
prometheus:
  url: %q
victorialogs:
  url: %q
kubernetes:
  kubeconfig: %q
  context: %q
`, l.SleuthConfig, o.SleuthListen, "sqlite://"+filepath.Join(l.Dir, "sleuth.db"), l.WebhookToken,
		l.URLs.VictoriaMetrics, l.URLs.VictoriaLogs, l.Kubeconfig, KubeContext)
	return os.WriteFile(l.SleuthConfig, []byte(cfg), 0o600)
}

func (l *Lab) do(ctx context.Context, method, u, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return raw, fmt.Errorf("%s %s: HTTP %d: %s", method, redactQuery(u), resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return raw, nil
}

func redactQuery(u string) string {
	before, _, _ := strings.Cut(u, "?")
	return before
}

// importMetrics writes samples in the Prometheus text format with
// millisecond timestamps and makes them visible to queries.
func (l *Lab) importMetrics(ctx context.Context, text []byte) error {
	if len(text) == 0 {
		return nil
	}
	if _, err := l.do(ctx, http.MethodPost, l.URLs.VictoriaMetrics+"/api/v1/import/prometheus", "text/plain", text); err != nil {
		return fmt.Errorf("import samples into VictoriaMetrics: %w", err)
	}
	if _, err := l.do(ctx, http.MethodGet, l.URLs.VictoriaMetrics+"/internal/force_flush", "", nil); err != nil {
		return err
	}
	return nil
}

// resetMetrics deletes every series.
func (l *Lab) resetMetrics(ctx context.Context) error {
	q := url.Values{"match[]": {`{__name__=~".+"}`}}
	if _, err := l.do(ctx, http.MethodPost, l.URLs.VictoriaMetrics+"/api/v1/admin/tsdb/delete_series", "application/x-www-form-urlencoded", []byte(q.Encode())); err != nil {
		return fmt.Errorf("delete series in VictoriaMetrics: %w", err)
	}
	_, err := l.do(ctx, http.MethodGet, l.URLs.VictoriaMetrics+"/internal/resetRollupResultCache", "", nil)
	return err
}

// ingestLogs stores records the way vlagent ships container logs and waits
// until the lab holds want lines in all.
func (l *Lab) ingestLogs(ctx context.Context, recs []map[string]string, want int) error {
	if len(recs) == 0 {
		return nil
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	q := url.Values{
		"_stream_fields": {"kubernetes.pod_namespace,kubernetes.pod_name,kubernetes.container_name"},
		"_time_field":    {"_time"},
		"_msg_field":     {"_msg"},
	}
	// With any other content type (curl's default form type, say)
	// VictoriaLogs answers 200 and stores nothing.
	if _, err := l.do(ctx, http.MethodPost, l.URLs.VictoriaLogs+"/insert/jsonline?"+q.Encode(), "application/x-ndjson", body.Bytes()); err != nil {
		return fmt.Errorf("ingest log lines into VictoriaLogs: %w", err)
	}
	if _, err := l.do(ctx, http.MethodGet, l.URLs.VictoriaLogs+"/internal/force_flush", "", nil); err != nil {
		return err
	}
	return l.waitLogCount(ctx, func(n int) bool { return n >= want }, fmt.Sprintf("%d lines", want))
}

// resetLogs deletes every line and waits until none is left.
func (l *Lab) resetLogs(ctx context.Context) error {
	n, err := l.logCount(ctx)
	if err != nil || n == 0 {
		return err
	}
	q := url.Values{"filter": {"*"}}
	if _, err := l.do(ctx, http.MethodPost, l.URLs.VictoriaLogs+"/delete/run_task", "application/x-www-form-urlencoded", []byte(q.Encode())); err != nil {
		return fmt.Errorf("delete log lines in VictoriaLogs: %w", err)
	}
	return l.waitLogCount(ctx, func(n int) bool { return n == 0 }, "no lines")
}

func (l *Lab) waitLogCount(ctx context.Context, ok func(int) bool, want string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		n, err := l.logCount(ctx)
		if err == nil && ok(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("VictoriaLogs: waiting for %s, have %d (%v): %w", want, n, err, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// logCount returns how many lines VictoriaLogs holds over all time.
func (l *Lab) logCount(ctx context.Context) (int, error) {
	form := url.Values{"query": {"* | stats count() as n"}, "start": {"0"}}
	raw, err := l.do(ctx, http.MethodPost, l.URLs.VictoriaLogs+"/select/logsql/query", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return 0, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return 0, nil
	}
	var row struct {
		N string `json:"n"`
	}
	if err := json.Unmarshal(raw, &row); err != nil {
		return 0, fmt.Errorf("count lines: %q: %w", raw, err)
	}
	return strconv.Atoi(row.N)
}

// RuleAlert is an alert vmalert holds, pending or firing.
type RuleAlert struct {
	Name   string            `json:"name"`
	State  string            `json:"state"`
	Labels map[string]string `json:"labels"`
}

// RuleAlerts returns the alerts vmalert holds now.
func (l *Lab) RuleAlerts(ctx context.Context) ([]RuleAlert, error) {
	if l.URLs.VMAlert == "" {
		return nil, fmt.Errorf("the lab runs no vmalert")
	}
	raw, err := l.do(ctx, http.MethodGet, l.URLs.VMAlert+"/api/v1/alerts", "", nil)
	if err != nil {
		return nil, err
	}
	var body struct {
		Data struct {
			Alerts []RuleAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("vmalert alerts: %w", err)
	}
	return body.Data.Alerts, nil
}

// WaitFiring waits until vmalert has evaluated every group at least twice
// since it started and returns the firing alerts then (none is an answer,
// not an error: the rules did not fire on the data).
func (l *Lab) WaitFiring(ctx context.Context) ([]RuleAlert, error) {
	a := l.alerting
	if a == nil || a.vma == nil {
		return nil, fmt.Errorf("the lab has no vmalert of its own")
	}
	// vmalert spreads its groups' first evaluations over one interval.
	deadline := time.Now().Add(2*a.interval + 2*time.Second)
	for {
		alerts, err := l.RuleAlerts(ctx)
		if err != nil {
			return nil, err
		}
		var firing []RuleAlert
		for _, al := range alerts {
			if al.State == "firing" {
				firing = append(firing, al)
			}
		}
		if len(firing) > 0 || time.Now().After(deadline) {
			return firing, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
