package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInvestigateCmd(t *testing.T) {
	// No backends at all: the report must still come, say what it could
	// not check, and the exit code must be 0.
	t.Setenv("SLEUTH_KUBERNETES_ENABLED", "false")
	dir := t.TempDir()
	single := filepath.Join(dir, "alert.json")
	os.WriteFile(single, []byte(`{"labels":{"alertname":"KubePodCrashLooping","namespace":"shop","pod":"checkout-7d9f8b6c5d-x2k4p","severity":"warning"},"startsAt":"2026-11-25T10:00:00Z"}`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"alerts":[{"status":"firing","labels":{}}]}`), 0o600)

	var stdout, stderr bytes.Buffer
	if code := investigateCmd(context.Background(), []string{"--alert", single}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"ROOT CAUSE  unknown", "COULD NOT CHECK", "prometheus.url is not configured", "kubernetes.enabled is false"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}

	stdout.Reset()
	payload := `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"KubeJobFailed","namespace":"ops","job_name":"backup-29001234"}}]}`
	if code := investigateCmd(context.Background(), []string{"--alert", "-", "--json"}, strings.NewReader(payload), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var r struct {
		RootCause struct{ Category string }    `json:"root_cause"`
		Alerts    []struct{ Alertname string } `json:"alerts"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.RootCause.Category == "" || len(r.Alerts) != 1 || r.Alerts[0].Alertname != "KubeJobFailed" {
		t.Fatalf("JSON report = %s (%v)", stdout.String(), err)
	}

	stderr.Reset()
	if code := investigateCmd(context.Background(), []string{"--alert", bad}, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "alerts[0].labels.alertname") {
		t.Errorf("bad alert: exit %d, %s", code, stderr.String())
	}
	if code := investigateCmd(context.Background(), nil, nil, &stdout, &stderr); code != 2 {
		t.Errorf("no --alert: exit %d, want 2", code)
	}
}
