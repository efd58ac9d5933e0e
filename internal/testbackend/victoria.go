package testbackend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a Victoria backend may take to answer its
// health check; they are ready in well under a second on an idle machine,
// but parallel test packages on two cores can starve them.
const startTimeout = 30 * time.Second

// VM is a single-node VictoriaMetrics started for one test.
type VM struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234; the Prometheus
	// query API is under URL/api/v1/.
	URL  string
	Proc *Process
}

// StartVictoriaMetrics starts VictoriaMetrics on a free loopback port with
// an empty data directory, and returns once it answers /health. It keeps
// samples of any age (the default one-month retention silently drops
// backdated samples) and shows the newest points at once
// (-search.latencyOffset=0s; the default 30s hides them). extraFlags are
// appended, e.g. "-vmalert.proxyURL=http://...". It is stopped when the
// test ends.
func StartVictoriaMetrics(t testing.TB, extraFlags ...string) *VM {
	t.Helper()
	bin := Binary(t, "victoria-metrics")
	addr := FreeAddr(t)
	args := append([]string{
		"-storageDataPath", filepath.Join(t.TempDir(), "vm-data"),
		"-httpListenAddr", addr,
		"-retentionPeriod=100y",
		"-search.latencyOffset=0s",
	}, extraFlags...)
	p := Start(t, "victoria-metrics", bin, args...)
	vm := &VM{URL: "http://" + addr, Proc: p}
	p.WaitHTTP(t, vm.URL+"/health", startTimeout)
	return vm
}

// Import stores samples given in the Prometheus text exposition format
// with millisecond timestamps, one sample a line:
//
//	http_requests_total{job="api",code="500"} 17 1767225600000
//
// and makes them visible to queries before it returns: it flushes the
// in-memory buffers and drops the rollup result cache, which would
// otherwise keep answering with what an earlier query saw before a
// backfill.
func (vm *VM) Import(t testing.TB, text string) {
	t.Helper()
	post(t, vm.URL+"/api/v1/import/prometheus", "text/plain", []byte(text))
	get(t, vm.URL+"/internal/force_flush")
	get(t, vm.URL+"/internal/resetRollupResultCache")
}

// VMAlert is a vmalert started for one test.
type VMAlert struct {
	URL  string
	Proc *Process
}

// VMAlertConfig configures StartVMAlert.
type VMAlertConfig struct {
	// Datasource is the Prometheus API it evaluates rules against (a VM's URL).
	Datasource string
	// Rules is the content of a rule file (Prometheus rule format).
	Rules string
	// Addr is the listen address; empty: a free loopback port. Set it to
	// start a VM with -vmalert.proxyURL before vmalert itself.
	Addr string
	// EvaluationInterval defaults to 1s so that tests see alerts quickly.
	EvaluationInterval time.Duration
	// RemoteWrite is where recording rules' results go; empty: Datasource.
	RemoteWrite string
}

// StartVMAlert starts vmalert with cfg.Rules, notifications sent nowhere
// (-notifier.blackhole) and no evaluation delay, and returns once it is
// ready. It is stopped when the test ends.
func StartVMAlert(t testing.TB, cfg VMAlertConfig) *VMAlert {
	t.Helper()
	bin := Binary(t, "vmalert")
	if cfg.Addr == "" {
		cfg.Addr = FreeAddr(t)
	}
	if cfg.EvaluationInterval <= 0 {
		cfg.EvaluationInterval = time.Second
	}
	if cfg.RemoteWrite == "" {
		cfg.RemoteWrite = cfg.Datasource
	}
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(cfg.Rules), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, "vmalert", bin,
		"-rule", rules,
		"-datasource.url", cfg.Datasource,
		"-remoteWrite.url", cfg.RemoteWrite,
		"-notifier.blackhole",
		"-httpListenAddr", cfg.Addr,
		"-evaluationInterval", cfg.EvaluationInterval.String(),
		// The default 30s delay compensates VictoriaMetrics'
		// -search.latencyOffset, which StartVictoriaMetrics turns off.
		"-rule.evalDelay=0s",
	)
	va := &VMAlert{URL: "http://" + cfg.Addr, Proc: p}
	p.WaitHTTP(t, va.URL+"/health", startTimeout)
	return va
}

// VL is a single-node VictoriaLogs started for one test.
type VL struct {
	// URL is the base URL; the LogsQL API is under URL/select/logsql/.
	URL  string
	Proc *Process

	mu       sync.Mutex
	ingested int
}

// StartVictoriaLogs starts VictoriaLogs on a free loopback port with an
// empty data directory and a retention that keeps backdated lines, and
// returns once it answers /health. extraFlags are appended. It is stopped
// when the test ends.
func StartVictoriaLogs(t testing.TB, extraFlags ...string) *VL {
	t.Helper()
	bin := Binary(t, "victoria-logs")
	addr := FreeAddr(t)
	args := append([]string{
		"-storageDataPath", filepath.Join(t.TempDir(), "vl-data"),
		"-httpListenAddr", addr,
		"-retentionPeriod=100y",
	}, extraFlags...)
	p := Start(t, "victoria-logs", bin, args...)
	vl := &VL{URL: "http://" + addr, Proc: p}
	p.WaitHTTP(t, vl.URL+"/health", startTimeout)
	return vl
}

// StreamFields are the stream fields Ingest declares: those vlagent
// writes for Kubernetes container logs.
const StreamFields = "kubernetes.pod_namespace,kubernetes.pod_name,kubernetes.container_name"

// Ingest stores log lines, each a map of fields, the way vlagent ships
// container logs: "_time" (RFC 3339; missing: now) and "_msg" are the time
// and message, and kubernetes.pod_namespace, kubernetes.pod_name and
// kubernetes.container_name make the stream. Other fields are stored as
// they are (kubernetes.pod_node_name, kubernetes.pod_labels.app, level...).
//
// It returns once every line ingested so far is visible to queries: it
// flushes, then polls a count of all lines. That count assumes lines reach
// this VictoriaLogs only through Ingest.
func (vl *VL) Ingest(t testing.TB, lines []map[string]string) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
	}
	q := url.Values{
		"_stream_fields": {StreamFields},
		"_time_field":    {"_time"},
		"_msg_field":     {"_msg"},
	}
	// With any other content type (curl's default form type, say)
	// VictoriaLogs answers 200 and stores nothing.
	post(t, vl.URL+"/insert/jsonline?"+q.Encode(), "application/x-ndjson", body.Bytes())
	vl.mu.Lock()
	vl.ingested += len(lines)
	want := vl.ingested
	vl.mu.Unlock()
	get(t, vl.URL+"/internal/force_flush")
	Eventually(t, startTimeout, func() error {
		n, err := vl.count()
		if err != nil {
			return err
		}
		if n < want {
			return fmt.Errorf("%d of %d ingested lines visible", n, want)
		}
		return nil
	})
}

// count returns how many lines VictoriaLogs holds over all time.
func (vl *VL) count() (int, error) {
	form := url.Values{"query": {"* | stats count() as n"}, "start": {"0"}}
	resp, err := http.PostForm(vl.URL+"/select/logsql/query", form)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("count lines: HTTP %d: %s", resp.StatusCode, raw)
	}
	var row struct {
		N string `json:"n"`
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return 0, nil
	}
	if err := json.Unmarshal(raw, &row); err != nil {
		return 0, fmt.Errorf("count lines: %q: %w", raw, err)
	}
	return strconv.Atoi(row.N)
}

func post(t testing.TB, u, contentType string, body []byte) {
	t.Helper()
	resp, err := http.Post(u, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: HTTP %d: %s", u, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
}

func get(t testing.TB, u string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("GET %s: HTTP %d: %s", u, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
}
