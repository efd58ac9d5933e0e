package custom

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// TestSeedVictoriaLogsToolsetAgainstVictoriaLogs runs the seed's toolset,
// unchanged, against a real VictoriaLogs: the prerequisite passes, the
// single-quoted ${VLOGS_URL} reaches curl, and a LogsQL query with quotes
// and a pipe (which HolmesGPT's quoting would break inside the script's
// single quotes) arrives intact.
func TestSeedVictoriaLogsToolsetAgainstVictoriaLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts VictoriaLogs")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("the seed's toolset runs curl, which is not installed")
	}
	vl := testbackend.StartVictoriaLogs(t)
	now := time.Now().UTC()
	vl.Ingest(t, []map[string]string{
		{"_time": now.Add(-time.Minute).Format(time.RFC3339Nano), "_msg": `dial tcp 10.0.0.7:5432: connection refused`, "kubernetes.pod_namespace": "shop", "kubernetes.pod_name": "checkout-1", "kubernetes.container_name": "app"},
		{"_time": now.Add(-time.Minute).Format(time.RFC3339Nano), "_msg": `GET /healthz 200`, "kubernetes.pod_namespace": "shop", "kubernetes.pod_name": "checkout-1", "kubernetes.container_name": "app"},
	})
	o := opts("VLOGS_URL=" + vl.URL)
	sets, err := Load([]string{"testdata/victorialogs.yaml"}, o)
	if err != nil {
		t.Fatal(err)
	}
	ts := sets[0].Check(context.Background())
	if !ts.Enabled {
		t.Fatalf("disabled: %s", ts.Reason)
	}
	query := `kubernetes.pod_namespace:"shop" "connection refused" | fields _msg`
	res, err := sets[0].Tools[0].Run(context.Background(), map[string]any{"query": query, "limit": float64(10)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Text, "connection refused") || strings.Contains(res.Text, "healthz") {
		t.Errorf("logsql_query = %q", res.Text)
	}
	if strings.Contains(res.Text, vl.URL) || strings.Contains(res.Description, vl.URL) {
		t.Errorf("the VictoriaLogs URL reached the model: %q / %q", res.Text, res.Description)
	}
	res, err = sets[0].Tools[1].Run(context.Background(), map[string]any{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Text, `"hits"`) {
		t.Errorf("logsql_hits = %q", res.Text)
	}
}
