// Command llmtokens measures the LLM stage's prompt tokens per model call
// and per investigation over the scenario set. No model runs: a scripted
// OpenAI-compatible stand-in (not a model) answers on loopback. It counts
// each prompt as a Qwen3 server does (Qwen3's chat template rendered, then
// tokenized with the real Qwen3 tokenizer), calls up to three tools about
// the alert's object (describe it, the pod's logs, the namespace's events),
// each on its own step, then answers the final JSON.
//
// It starts the lab (internal/lab: kube-apiserver, etcd, VictoriaMetrics,
// VictoriaLogs from bin/) and runs `sleuth eval`'s loop (internal/eval) for
// each scenario with llm.url pointing at the stand-in, once per -models
// entry: a Qwen model name gets sleuth's exact Qwen3 counter, any other
// the estimator (the stand-in counts with Qwen3's tokenizer either way).
//
//	go run ./bench/llmtokens                       # every scenario, both counters
//	go run ./bench/llmtokens -json /tmp/llm.json scenarios/checkout-oomkilled.yaml
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/eval"
	"github.com/sleuth-sre/sleuth/internal/lab"
	"github.com/sleuth-sre/sleuth/internal/llm/tokenizer/qwen3"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/scenario"
)

func main() {
	models := flag.String("models", "qwen3-coder-30b-a3b-instruct-mlx,llama-3.1-8b-instruct", "comma-separated model names to run the set with (a Qwen name: exact counter; others: estimator)")
	ctxTokens := flag.Int("context", 8192, "llm.context_tokens")
	maxOut := flag.Int("max-output", 1024, "llm.max_output_tokens")
	calls := flag.Int("tool-calls", 3, "tool calls the stand-in makes before answering (at most 3)")
	jsonPath := flag.String("json", "", "write every call and investigation as JSON to `file`")
	dump := flag.String("dump", "", "write each prompt as the stand-in rendered it into `dir`")
	timeout := flag.Duration("timeout", 30*time.Minute, "overall limit")
	flag.Parse()
	paths := flag.Args()
	if len(paths) == 0 {
		paths = []string{"scenarios"}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := run(ctx, strings.Split(*models, ","), *ctxTokens, *maxOut, *calls, *jsonPath, *dump, paths); err != nil {
		fmt.Fprintln(os.Stderr, "llmtokens:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, models []string, ctxTokens, maxOut, calls int, jsonPath, dump string, paths []string) error {
	files, err := eval.Files(paths)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no scenarios in %v", paths)
	}
	tk, err := qwen3.NewCounter()
	if err != nil {
		return err
	}
	si := &standIn{count: tk.Count, calls: min(calls, 3), dump: dump}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: si}
	go srv.Serve(ln)
	defer srv.Close()

	l, err := lab.Start(ctx, lab.Options{Progress: os.Stderr})
	if err != nil {
		return err
	}
	defer l.Stop()

	var all []investigation
	for _, model := range models {
		cfg, err := config.Load("", nil)
		if err != nil {
			return err
		}
		cfg.LLM.URL = "http://" + ln.Addr().String() + "/v1"
		cfg.LLM.Model = model
		cfg.LLM.ContextTokens = ctxTokens
		cfg.LLM.MaxOutputTokens = maxOut
		for _, f := range files {
			s, err := scenario.ReadFile(f)
			if err == nil {
				s, err = s.Resolve(time.Now())
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
				continue
			}
			si.reset(s, model)
			var stage *report.LLMStage
			opts := eval.Options{Lab: l, Config: cfg, Timeout: 3 * time.Minute,
				OnReport: func(_ *scenario.Scenario, r *report.Report) {
					if r.LLM != nil {
						st := *r.LLM
						st.Steps, st.Analysis, st.Commentary = nil, "", ""
						stage = &st
					}
				}}
			if _, err := eval.Run(ctx, opts, []string{f}); err != nil {
				return err
			}
			for k, conv := range si.taken() {
				inv := investigation{Model: model, Scenario: s.Name, Incident: k + 1, Calls: conv}
				// The report the eval scored (the first alert's incident)
				// adds up the counts this stand-in reported.
				if stage != nil && stage.PromptTokens == sum(conv) && stage.Calls == len(conv) {
					inv.Stage, stage = stage, nil
				}
				all = append(all, inv)
			}
			last := all[len(all)-1]
			outcome, counter := "", ""
			for _, inv := range all {
				if inv.Stage != nil && inv.Scenario == s.Name && inv.Model == model {
					outcome, counter = inv.Stage.Outcome, inv.Stage.Counter
				}
			}
			fmt.Fprintf(os.Stderr, "%-34s %-44s counter %-8s investigations %d, calls of the last %d, its prompt tokens %6d, largest %5d; scored report: %s\n",
				model, s.Name, counter, len(si.taken()), len(last.Calls), sum(last.Calls), slices.Max(append(last.Calls, 0)), outcome)
		}
	}
	printSummary(os.Stdout, all, ctxTokens-maxOut)
	if jsonPath != "" {
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(jsonPath, append(b, '\n'), 0o644)
	}
	return nil
}

// investigation is one scenario's LLM stage as sleuth recorded it, and the
// stand-in's own count of each request's prompt.
type investigation struct {
	Model    string `json:"model"`
	Scenario string `json:"scenario"`
	// Incident numbers the scenario's investigations in the order the
	// stand-in saw them (a scenario's alerts can make several incidents).
	Incident int   `json:"incident"`
	Calls    []int `json:"prompt_tokens_by_call"`
	// Stage is sleuth's record of the LLM stage of the report the eval
	// scored (the first alert's incident), when this is it.
	Stage *report.LLMStage `json:"llm,omitempty"`
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// pct is the nearest-rank percentile.
func pct(xs []int, p float64) int {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Ints(s)
	k := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(k, len(s)-1))]
}

func printSummary(w io.Writer, all []investigation, budget int) {
	fmt.Fprintf(w, "\n| model (counter) | investigations | calls: median / p95 / max | prompt tokens per call: median / p95 / max | per investigation: median / p95 / max | over %d | outcomes of the scored reports |\n|---|---|---|---|---|---|---|\n", budget)
	var models []string
	for _, inv := range all {
		if !slices.Contains(models, inv.Model) {
			models = append(models, inv.Model)
		}
	}
	for _, m := range models {
		var steps, perCall, perInv []int
		over := 0
		outcomes := map[string]int{}
		counter := ""
		for _, inv := range all {
			if inv.Model != m {
				continue
			}
			steps = append(steps, len(inv.Calls))
			perCall = append(perCall, inv.Calls...)
			perInv = append(perInv, sum(inv.Calls))
			for _, c := range inv.Calls {
				if c > budget {
					over++
				}
			}
			if inv.Stage != nil {
				counter = inv.Stage.Counter
				o := inv.Stage.Outcome
				if inv.Stage.Partial {
					o += " (partial)"
				}
				outcomes[o]++
			}
		}
		var os []string
		for o, n := range outcomes {
			os = append(os, fmt.Sprintf("%s %d", o, n))
		}
		sort.Strings(os)
		fmt.Fprintf(w, "| %s (%s) | %d | %d / %d / %d | %d / %d / %d | %d / %d / %d | %d | %s |\n", m, counter, len(steps),
			pct(steps, 50), pct(steps, 95), pct(steps, 100), pct(perCall, 50), pct(perCall, 95), pct(perCall, 100),
			pct(perInv, 50), pct(perInv, 95), pct(perInv, 100), over, strings.Join(os, ", "))
	}
}

// standIn is the scripted OpenAI-compatible server: not a model.
type standIn struct {
	count func(string) int
	calls int
	dump  string // a directory for the rendered prompts, or ""
	name  string // model and scenario, for the dump's file names

	mu     sync.Mutex
	plan   []toolCall // the calls for the current scenario
	answer string
	// convs are the prompt sizes of each conversation (investigation)
	// since reset.
	convs [][]int
	keys  []string
}

type toolCall struct{ name, args string }

// reset plans the calls for scenario s from its first alert's labels.
func (si *standIn) reset(s *scenario.Scenario, model string) {
	var labels map[string]string
	if len(s.Alerts) > 0 {
		labels = s.Alerts[0].Labels
	}
	ns, pod := labels["namespace"], labels["pod"]
	kind, name := "", ""
	for _, k := range []struct{ label, kind string }{{"pod", "Pod"}, {"deployment", "Deployment"}, {"statefulset", "StatefulSet"},
		{"daemonset", "DaemonSet"}, {"job_name", "Job"}, {"cronjob", "CronJob"}, {"persistentvolumeclaim", "PersistentVolumeClaim"},
		{"horizontalpodautoscaler", "HorizontalPodAutoscaler"}, {"node", "Node"}} {
		if v := labels[k.label]; v != "" {
			kind, name = k.kind, v
			break
		}
	}
	arg := func(kv ...string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				m[kv[i]] = kv[i+1]
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	var plan []toolCall
	if kind != "" {
		plan = append(plan, toolCall{"kubectl_describe", arg("kind", kind, "name", name, "namespace", ns)})
	}
	if pod != "" && ns != "" {
		plan = append(plan, toolCall{"kubectl_logs", arg("pod_name", pod, "namespace", ns)})
	}
	if ns != "" {
		plan = append(plan, toolCall{"kubectl_events", arg("namespace", ns)})
	}
	if len(plan) > si.calls {
		plan = plan[:si.calls]
	}
	culprit := map[string]string{"kind": kind, "namespace": ns, "name": name}
	if kind == "Node" {
		delete(culprit, "namespace")
	}
	answer, _ := json.Marshal(map[string]any{
		"category": report.Unknown, "culprit": culprit, "confidence": 0.3,
		"summary":     "Scripted stand-in answer: the alert's object, as the alert names it.",
		"findings":    []string{"the stand-in read the tool results without judging them"},
		"remediation": []string{"none: this is a benchmark"}, "app_or_infra": "app",
	})
	si.mu.Lock()
	si.plan, si.answer, si.convs, si.keys, si.name = plan, string(answer), nil, nil, model+"-"+s.Name
	si.mu.Unlock()
}

// taken returns the prompt sizes of each conversation since reset.
func (si *standIn) taken() [][]int {
	si.mu.Lock()
	defer si.mu.Unlock()
	return slices.Clone(si.convs)
}

type message struct {
	Role      string `json:"role"`
	Content   any    `json:"content"`
	ToolCalls []struct {
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

func (m message) text() string {
	switch c := m.Content.(type) {
	case string:
		return c
	case nil:
		return ""
	default: // content parts
		var b strings.Builder
		if parts, ok := c.([]any); ok {
			for _, p := range parts {
				if pm, ok := p.(map[string]any); ok {
					if s, ok := pm["text"].(string); ok {
						b.WriteString(s)
					}
				}
			}
		}
		return b.String()
	}
}

type chatRequest struct {
	Model      string            `json:"model"`
	Messages   []message         `json:"messages"`
	Tools      []json.RawMessage `json:"tools"`
	ToolChoice any               `json:"tool_choice"`
}

func (si *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/models" {
		writeJSON(w, map[string]any{"object": "list", "data": []any{}})
		return
	}
	if r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	rendered := renderQwen3(req)
	prompt := si.count(rendered)
	// A conversation is told apart by the start of its first user message
	// (the task digest, whose end the loop may trim to fit).
	key := ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			key = m.text()
			key = key[:min(len(key), 400)]
			break
		}
	}
	si.mu.Lock()
	if k := slices.Index(si.keys, key); k >= 0 {
		si.convs[k] = append(si.convs[k], prompt)
	} else {
		si.keys = append(si.keys, key)
		si.convs = append(si.convs, []int{prompt})
	}
	step := 0
	for _, m := range req.Messages {
		if m.Role == "assistant" && len(m.ToolCalls) > 0 {
			step++
		}
	}
	var call *toolCall
	if step < len(si.plan) && req.ToolChoice != "none" && len(req.Tools) > 0 {
		c := si.plan[step]
		call = &c
	}
	answer := si.answer
	if si.dump != "" {
		k := slices.Index(si.keys, key)
		os.WriteFile(fmt.Sprintf("%s/%s-%d-%d.txt", si.dump, si.name, k+1, len(si.convs[k])), []byte(rendered), 0o644)
	}
	si.mu.Unlock()

	msg := map[string]any{"role": "assistant", "content": answer}
	finish := "stop"
	completion := si.count(answer)
	if call != nil {
		msg["content"] = ""
		msg["tool_calls"] = []any{map[string]any{"id": fmt.Sprintf("call_%d", step), "type": "function",
			"function": map[string]string{"name": call.name, "arguments": call.args}}}
		finish = "tool_calls"
		completion = 10 + si.count(call.name+call.args)
	}
	writeJSON(w, map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", step), "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]int{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
