package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/store"
)

// TestInvestigationAndToolCallMetrics checks the /metrics lines the
// dashboard's category and tool panels read.
func TestInvestigationAndToolCallMetrics(t *testing.T) {
	m := New()
	m.InvestigationFinished("oom-killed")
	m.InvestigationFinished("oom-killed")
	m.InvestigationFinished("")
	m.ToolCall("prometheus", "success", 30*time.Millisecond)
	m.ToolCall("prometheus", "error", 12*time.Second)
	var b strings.Builder
	m.WritePrometheus(&b, store.Stats{}, time.Now())
	f := func(line string) {
		t.Helper()
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	f(`sleuth_investigations_finished_total{category="oom-killed"} 2`)
	f(`sleuth_investigations_finished_total{category="unknown"} 1`)
	f(`sleuth_tool_calls_total{backend="prometheus",status="success"} 1`)
	f(`sleuth_tool_calls_total{backend="prometheus",status="error"} 1`)
	f(`sleuth_tool_call_duration_seconds_bucket{backend="prometheus",le="0.05"} 1`)
	f(`sleuth_tool_call_duration_seconds_bucket{backend="prometheus",le="10"} 1`)
	f(`sleuth_tool_call_duration_seconds_bucket{backend="prometheus",le="30"} 2`)
	f(`sleuth_tool_call_duration_seconds_count{backend="prometheus"} 2`)
}
