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
	vmAddr, err := freeAddr()
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

	vlAddr, err := freeAddr()
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

func (l *Lab) startAlerting(ctx context.Context, o Options, bins map[string]string) error {
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	webhook := o.WebhookURL
	if webhook == "" {
		webhook = "http://" + o.SleuthListen + "/webhook"
	}
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
	cfgPath := filepath.Join(l.Dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(amConfig), 0o600); err != nil {
		return err
	}
	amAddr, err := freeAddr()
	if err != nil {
		return err
	}
	progress(o.Progress, "lab: starting Alertmanager")
	am, err := startProc(l.Dir, "alertmanager", bins["alertmanager"],
		"--config.file", cfgPath,
		"--storage.path", filepath.Join(l.Dir, "alertmanager"),
		"--web.listen-address", amAddr,
		"--cluster.listen-address=",
	)
	if err != nil {
		return err
	}
	l.procs = append(l.procs, am)
	l.URLs.Alertmanager = "http://" + amAddr
	if err := am.waitHTTP(wctx, l.client, l.URLs.Alertmanager+"/-/ready"); err != nil {
		return err
	}
	if len(o.Rules) == 0 {
		return nil
	}
	return l.startVMAlert(wctx, o, bins["vmalert"])
}

func (l *Lab) startVMAlert(ctx context.Context, o Options, bin string) error {
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
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	progress(o.Progress, "lab: starting vmalert with %d rule files", len(names))
	va, err := startProc(l.Dir, "vmalert", bin,
		"-rule", filepath.Join(dir, "*.yaml"),
		"-rule", filepath.Join(dir, "*.yml"),
		"-datasource.url", l.URLs.VictoriaMetrics,
		"-notifier.url", l.URLs.Alertmanager,
		"-remoteWrite.url", l.URLs.VictoriaMetrics,
		// Alerts restore their `for` state from ALERTS_FOR_STATE on start.
		"-remoteRead.url", l.URLs.VictoriaMetrics,
		"-httpListenAddr", addr,
		"-evaluationInterval", o.EvaluationInterval.String(),
		// The lab's VictoriaMetrics shows the newest points at once.
		"-rule.evalDelay=0s",
	)
	if err != nil {
		return err
	}
	l.procs = append(l.procs, va)
	l.URLs.VMAlert = "http://" + addr
	return va.waitHTTP(ctx, l.client, l.URLs.VMAlert+"/health")
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
