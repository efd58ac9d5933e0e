package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

const (
	webhookToken = "am-to-sleuth"
	apiToken     = "reader"
)

// sleuth is a running sleuth child process.
type sleuth struct {
	*testbackend.Process
	URL   string
	Store string
}

// startSleuth runs `sleuth serve` on a free port with the store file given,
// the webhook and API tokens coming from the environment as a deployment
// would pass them from a Secret.
func startSleuth(t *testing.T, storePath string, extraYAML string) *sleuth {
	t.Helper()
	addr := testbackend.FreeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "sleuth.yaml")
	cfg := fmt.Sprintf("listen: %s\nstore: sqlite://%s\nlog:\n  level: debug\n%s", addr, storePath, extraYAML)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startWithEnv(t, cfgPath)
	s := &sleuth{Process: p, URL: "http://" + addr, Store: storePath}
	p.WaitHTTP(t, s.URL+"/readyz", 30*time.Second)
	return s
}

func startWithEnv(t *testing.T, cfgPath string) *testbackend.Process {
	t.Helper()
	return testbackend.StartEnv(t, "sleuth", append(os.Environ(),
		"SLEUTH_AUTH_WEBHOOK_TOKEN="+webhookToken,
		"SLEUTH_AUTH_API_TOKEN="+apiToken,
	), testbackend.Sleuth(t), "serve", "--config", cfgPath)
}

// get decodes a JSON answer of sleuth's API into v.
func (s *sleuth) get(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	req.Header.Set("X-API-Key", apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// post sends a webhook payload; it returns the status code, or 0 when the
// request did not get an answer.
func post(client *http.Client, url string, body []byte) int {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+webhookToken)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type incidentJSON struct {
	ID       int64  `json:"id"`
	State    string `json:"state"`
	Workload string `json:"workload"`
	Alerts   int    `json:"alerts"`
	Firing   int    `json:"firing_alerts"`
}

type investigationJSON struct {
	ID         int64  `json:"id"`
	IncidentID int64  `json:"incident_id"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
}

type list[T any] struct {
	Items []T `json:"items"`
}
