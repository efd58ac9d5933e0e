package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// The seed's route (critical|warning to the investigator, bearer auth),
// with its timers shortened so that re-sends happen within the test:
// group_interval re-sends a group when it changes, repeat_interval re-sends
// it unchanged.
const amConfig = `
route:
  receiver: blackhole
  group_by: [alertname, namespace]
  routes:
    - receiver: sleuth
      matchers:
        - severity =~ "critical|warning"
      group_wait: 1s
      group_interval: 2s
      repeat_interval: 3s
receivers:
  - name: blackhole
  - name: sleuth
    webhook_configs:
      - url: %s/webhook
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

func startAlertmanager(t *testing.T, sleuthURL string) string {
	t.Helper()
	bin := testbackend.Binary(t, "alertmanager")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(amConfig, sleuthURL, webhookToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := testbackend.FreeAddr(t)
	p := testbackend.Start(t, "alertmanager", bin,
		"--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=debug")
	url := "http://" + addr
	p.WaitHTTP(t, url+"/-/ready", 30*time.Second)
	return url
}

func postToAlertmanager(t *testing.T, amURL string, alerts []amAlert) {
	t.Helper()
	body, _ := json.Marshal(alerts)
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST alerts to Alertmanager: %d", resp.StatusCode)
	}
}

// TestAlertmanagerRoutesToSleuth runs the seed's topology with the real
// Alertmanager: alerts posted to Alertmanager reach sleuth through the
// webhook with bearer auth, re-sends are deduplicated, each broken workload
// is one incident with one investigation, and resolution closes incidents.
func TestAlertmanagerRoutesToSleuth(t *testing.T) {
	storePath := filepath.Join(t.TempDir(), "sleuth.db")
	sl := startSleuth(t, storePath, "")
	amURL := startAlertmanager(t, sl.URL)

	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	var alerts []amAlert
	// Three broken workloads in two namespaces, four pods each, two alert
	// kinds: Alertmanager groups by alertname and namespace, sleuth must
	// split by workload.
	workloads := []struct{ ns, deploy, hash string }{
		{"shop", "checkout", "7d9f8b6c5d"}, {"shop", "cart", "6f7d8c9b5"}, {"payments", "ledger", "5c6b7d8f9"},
	}
	for _, w := range workloads {
		for _, pod := range []string{"x2k4p", "q8z7m", "bb2pq", "kx2pq"} {
			alerts = append(alerts, amAlert{
				Labels: map[string]string{
					"alertname": "KubePodCrashLooping", "severity": "critical", "namespace": w.ns,
					"pod": w.deploy + "-" + w.hash + "-" + pod, "container": w.deploy, "job": "kube-state-metrics",
				},
				Annotations:  map[string]string{"summary": "Pod is crash looping."},
				StartsAt:     start,
				EndsAt:       time.Now().Add(time.Hour),
				GeneratorURL: "http://vmalert:8880/vmalert/alert?group_id=1",
			})
		}
	}
	// Noise the route must keep away from sleuth.
	alerts = append(alerts, amAlert{
		Labels:   map[string]string{"alertname": "Watchdog", "severity": "none"},
		StartsAt: start, EndsAt: time.Now().Add(time.Hour),
	}, amAlert{
		Labels:   map[string]string{"alertname": "KubeHpaMaxedOut", "severity": "info", "namespace": "shop"},
		StartsAt: start, EndsAt: time.Now().Add(time.Hour),
	})
	postToAlertmanager(t, amURL, alerts)

	var incidents list[incidentJSON]
	testbackend.Eventually(t, 60*time.Second, func() error {
		sl.get(t, "/api/incidents", &incidents)
		if n := len(incidents.Items); n != 3 {
			return fmt.Errorf("%d incidents, want 3", n)
		}
		for _, in := range incidents.Items {
			if in.Alerts != 4 {
				return fmt.Errorf("incident %+v has %d alerts, want 4", in, in.Alerts)
			}
		}
		return nil
	})
	// Wait for Alertmanager's repeat_interval re-sends and for them to be
	// counted as duplicates.
	testbackend.Eventually(t, 60*time.Second, func() error {
		if n := metric(t, sl.URL, "sleuth_alerts_deduplicated_total"); n < 12 {
			return fmt.Errorf("deduplicated = %v, want at least one full re-send (12)", n)
		}
		return nil
	})
	var invs list[investigationJSON]
	testbackend.Eventually(t, 30*time.Second, func() error {
		sl.get(t, "/api/investigations?state=done", &invs)
		if len(invs.Items) != 3 {
			return fmt.Errorf("%d investigations done, want 3", len(invs.Items))
		}
		return nil
	})
	sl.get(t, "/api/investigations", &invs)
	if len(invs.Items) != 3 {
		t.Fatalf("investigations = %+v, want exactly 3 after the re-sends", invs.Items)
	}
	got := map[string]bool{}
	for _, in := range incidents.Items {
		got[in.Workload] = true
	}
	for _, w := range workloads {
		if !got[w.deploy] {
			t.Errorf("no incident for workload %s: %+v", w.deploy, incidents.Items)
		}
	}

	// Resolve the checkout pods: Alertmanager sends them resolved, sleuth
	// closes that incident only.
	var resolved []amAlert
	for _, a := range alerts[:4] {
		a.EndsAt = time.Now().Add(-time.Second)
		resolved = append(resolved, a)
	}
	postToAlertmanager(t, amURL, resolved)
	testbackend.Eventually(t, 60*time.Second, func() error {
		sl.get(t, "/api/incidents?state=resolved", &incidents)
		if len(incidents.Items) != 1 || incidents.Items[0].Workload != "checkout" {
			return fmt.Errorf("resolved incidents = %+v, want checkout's", incidents.Items)
		}
		return nil
	})
	sl.Stop(30 * time.Second)

	// What Alertmanager sent, straight from the store: no noise, each alert
	// once, and fingerprints equal to ours (so hand-made payloads dedupe
	// against Alertmanager's).
	st, err := sqlite.Open(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.Incidents(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, in := range all {
		as, err := st.IncidentAlerts(context.Background(), in.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			seen++
			if a.Fingerprint != alert.Fingerprint(a.Labels) {
				t.Errorf("alert %v: Alertmanager's fingerprint %s, ours %s", a.Labels, a.Fingerprint, alert.Fingerprint(a.Labels))
			}
			if strings.Contains(a.Labels["severity"], "info") || a.Labels["alertname"] == "Watchdog" {
				t.Errorf("alert %v passed the route's severity matcher", a.Labels)
			}
			if !a.StartsAt.Equal(start) {
				t.Errorf("alert startsAt = %v, want %v", a.StartsAt, start)
			}
		}
	}
	if seen != 12 {
		t.Fatalf("stored alerts = %d, want 12", seen)
	}
}

// metric reads one sample of sleuth's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}
