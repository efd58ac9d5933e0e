package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// BenchmarkInvestigationSteps runs a six-step investigation against the
// scripted model (chatty logs and describes every step, 8K context) and
// reports sleuth's own time per step (wall time minus the time spent
// waiting for the model's HTTP answers) and the prompt sizes.
func BenchmarkInvestigationSteps(b *testing.B) {
	t := &testing.T{}
	logs := bigTool("kubectl_logs", 2000)
	desc := bigTool("kubectl_describe", 300)
	var own, steps, maxPrompt, total float64
	for range b.N {
		n := 0
		s := newScriptedLLM(t, func(req *chatRequest) reply {
			n++
			if n > 5 {
				return reply{content: finalJSON(report.DependencyFailure, "Deployment", "shop", "checkout")}
			}
			if n%2 == 0 {
				return call("kubectl_describe", fmt.Sprintf(`{"name":"pod-%d"}`, n))(req)
			}
			return call("kubectl_logs", fmt.Sprintf(`{"name":"pod-%d"}`, n))(req)
		})
		a := New(testClient(t, s, 10*time.Second), registry(t, logs, desc), Config{})
		out := a.Investigate(context.Background(), detReport(), InvestigateOptions{})
		own += out.LLM.WallMS - out.LLM.ModelMS
		steps += float64(out.LLM.Calls)
		maxPrompt = max(maxPrompt, float64(out.LLM.MaxPromptTokens))
		total += float64(out.LLM.PromptTokens)
		s.srv.Close()
	}
	b.ReportMetric(own/steps, "ms-own/step")
	b.ReportMetric(maxPrompt, "max-prompt-tokens")
	b.ReportMetric(total/float64(b.N), "prompt-tokens/investigation")
	b.ReportMetric(total/steps, "prompt-tokens/call")
}
