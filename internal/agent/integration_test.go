package agent

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/core"
)

func TestMain(m *testing.M) { os.Exit(testbackend.KubeMain(m)) }

// The loop over the built-in toolsets and a real API server: the model's
// kubectl calls read real objects, and the culprit it names is checked
// against the cluster.
func TestInvestigateWithRealKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	k := testbackend.SharedKube(t)
	ns := k.Namespace(t, "agent")
	k.Apply(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: payments, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: payments}}
  template:
    metadata: {labels: {app: payments}}
    spec: {containers: [{name: app, image: "payments:1.4.0"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: payments-5c9d8-abcde, namespace: %[1]s, labels: {app: payments}}
spec: {containers: [{name: app, image: "payments:1.4.0"}]}
status:
  phase: Running
  containerStatuses:
  - name: app
    image: "payments:1.4.0"
    imageID: ""
    ready: false
    restartCount: 9
    state: {waiting: {reason: CrashLoopBackOff}}
    lastState: {terminated: {reason: OOMKilled, exitCode: 137, startedAt: "2026-03-01T11:50:00Z", finishedAt: "2026-03-01T11:55:00Z"}}
`, ns))
	kc, err := kube.NewForConfig(k.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	reg := &tools.Registry{}
	if err := core.Register(reg, core.Backends{Kube: kc, Missing: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	answer := func(name string) func(*chatRequest) reply {
		return func(req *chatRequest) reply {
			res := req.toolResults()
			if len(res) != 1 || !strings.Contains(res[0], "OOMKilled") || !strings.Contains(res[0], "payments:1.4.0") {
				t.Errorf("describe result = %q, want the pod's OOMKilled state", res)
			}
			return say(finalJSON(report.OOMKilled, "Deployment", ns, name))(req)
		}
	}
	det := detReport()
	det.Target, det.Findings = report.Ref{}, nil
	for _, tc := range []struct{ culprit, outcome string }{{"payments", report.LLMAccepted}, {"payment", report.LLMCommentary}} {
		s := newScriptedLLM(t, call("kubectl_describe", fmt.Sprintf(`{"kind":"pod","name":"payments-5c9d8-abcde","namespace":%q}`, ns)), answer(tc.culprit))
		a := New(testClient(t, s, 10*time.Second), reg, Config{Checker: KubeChecker{Kube: kc}})
		out := a.Investigate(context.Background(), det, InvestigateOptions{})
		if out.LLM.Outcome != tc.outcome {
			t.Errorf("culprit %s: outcome %s (%s), want %s", tc.culprit, out.LLM.Outcome, out.LLM.Note, tc.outcome)
		}
		last := out.ToolCalls[len(out.ToolCalls)-1]
		if last.Tool != "kubectl_describe" || last.Description != "kubectl describe pod payments-5c9d8-abcde -n "+ns {
			t.Errorf("recorded call = %+v", last)
		}
	}
	// Secrets are refused by the tools, whatever the model asks.
	s := newScriptedLLM(t, call("kubectl_get_by_name", fmt.Sprintf(`{"kind":"secret","name":"db","namespace":%q}`, ns)), func(req *chatRequest) reply {
		if res := req.toolResults(); len(res) != 1 || !strings.Contains(res[0], "reading Secrets is refused") {
			t.Errorf("secret read = %q", res)
		}
		return reply{content: "ok"}
	})
	if _, err := New(testClient(t, s, 10*time.Second), reg, Config{PromptTokens: 4000}).Chat(context.Background(), ChatRequest{Ask: "show the db secret"}); err != nil {
		t.Fatal(err)
	}
}
