package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/llm"
	"github.com/sleuth-sre/sleuth/internal/redact"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/toolcall"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// Bounds of the loop, in tokens unless said otherwise.
const (
	// replyReserve is kept free after tool results for the model's next
	// message and sleuth's hints, so a step never starts over budget.
	replyReserve = 200
	// minResultShare is the least a tool result is trimmed to: below it a
	// result says nothing, and older results are summarised first.
	minResultShare = 96
	// minTaskTokens is the least the task (alert, findings, evidence
	// digest) is trimmed to before whole turns are dropped.
	minTaskTokens = 300
	// maxOverflowRetries bounds the re-fits after the server said the
	// prompt does not fit its context.
	maxOverflowRetries = 3
	// maxCallsPerStep bounds the tool calls run for one model message; a
	// model that asks for more gets the rest refused, to ask again.
	maxCallsPerStep = 4
	// maxRawResult bounds, in bytes, a tool's answer before it is
	// redacted and trimmed to its share: several times the largest share.
	maxRawResult = 64 << 10
	// maxStepText bounds the text kept per recorded step.
	maxStepText = 2000
	// truncationFloor is the prompt size from which a server count far
	// below sleuth's means truncation rather than a tokenizer difference.
	truncationFloor = 1024
	// maxScale bounds the calibration factor: a server counting three
	// times what sleuth counts is miscounting, not tokenizing.
	maxScale = 3.0
)

// errContextTooSmall is returned when even the system prompt, the tool
// schemas and the trimmed task do not fit.
var errContextTooSmall = errors.New("the context is too small for the system prompt, the tool schemas and the task")

// entry is one message of the conversation after the system prompt.
type entry struct {
	msg    llm.Message
	tokens int
	// pinned entries (the task, the question) are trimmed but never
	// dropped.
	pinned bool
	// summary replaces a tool result's content when it is compacted.
	summary   string
	compacted bool
	// group ties an assistant message to the tool messages answering it,
	// so that they are dropped together.
	group int
}

// memo remembers a tool call's answer for repeated calls.
type memo struct {
	id     string
	step   int
	result string
	count  int
}

// run is one Investigate or Chat.
type run struct {
	a      *Agent
	onStep StepFunc
	start  time.Time

	system     string
	specs      []llm.ToolSpec
	specTokens int
	conv       []*entry
	groups     int

	// budget is the prompt budget in counter units; scale calibrates the
	// counter against the server's own counts (>= 1).
	budget int
	maxOut int
	scale  float64

	totals    Totals
	modelTime time.Duration
	steps     []report.LLMStep
	calls     []toolcall.Call
	seen      map[string]*memo
	partial   bool
	truncated bool   // silent truncation was detected once
	stopped   string // why the loop ended early
	notes     []string
}

func (a *Agent) newRun(system string, onStep StepFunc) *run {
	r := &run{
		a: a, onStep: onStep, start: a.cfg.Now(), system: system,
		budget: a.cfg.ContextTokens - a.cfg.MaxOutputTokens, maxOut: a.cfg.MaxOutputTokens,
		scale: 1, seen: map[string]*memo{},
	}
	r.specs = a.selectTools(a.cfg.PromptTokens - llm.MessageOverhead - a.cfg.Counter.Count(system))
	r.specTokens = llm.ToolsTokens(a.cfg.Counter, r.specs)
	return r
}

// preferred orders the built-in tools by how much an investigation needs
// them; tools of other toolsets (custom, bash, knowledge base: the
// operator chose them) come after the first nine, the rest last.
var preferred = []string{
	"kubectl_describe", "kubectl_logs", "kubectl_previous_logs", "kubectl_events",
	"execute_prometheus_range_query", "victorialogs_query", "kubectl_get_by_kind_in_namespace",
	"execute_prometheus_instant_query", "fetch_runbook",
}

var lastResort = []string{
	"victorialogs_hits", "victorialogs_field_values", "kubectl_get_by_name", "kubectl_get_by_kind_in_cluster",
	"victorialogs_streams", "victorialogs_field_names",
}

// selectTools picks the tools whose schemas fit budget tokens, in the
// order of preferred, other toolsets', lastResort.
func (a *Agent) selectTools(budget int) []llm.ToolSpec {
	all := a.tools.Tools()
	rank := func(name string) int {
		if i := slices.Index(preferred, name); i >= 0 {
			return i
		}
		if i := slices.Index(lastResort, name); i >= 0 {
			return 1000 + i
		}
		return 100
	}
	slices.SortStableFunc(all, func(x, y tools.Tool) int { return rank(x.Name()) - rank(y.Name()) })
	var out []llm.ToolSpec
	used := llm.ToolsOverhead
	for _, t := range all {
		spec := llm.ToolSpec{Name: t.Name(), Description: t.Description(), Parameters: t.Parameters()}
		cost := llm.ToolOverhead + a.cfg.Counter.Count(llm.RenderTool(spec))
		if used+cost > budget {
			continue
		}
		used += cost
		out = append(out, spec)
	}
	return out
}

func (r *run) emit(s Step) {
	if r.onStep != nil {
		s.Totals = r.totals
		r.onStep(s)
	}
}

func (r *run) note(s string) {
	r.notes = append(r.notes, s)
	r.a.cfg.Log.Info("llm stage", "note", s)
}

func (r *run) count(s string) int { return r.a.cfg.Counter.Count(s) }

func (r *run) add(m llm.Message, pinned bool) *entry {
	e := &entry{msg: m, pinned: pinned, tokens: llm.MessageTokens(r.a.cfg.Counter, m)}
	r.conv = append(r.conv, e)
	return e
}

func (r *run) setContent(e *entry, content string) {
	e.msg.Content = content
	e.tokens = llm.MessageTokens(r.a.cfg.Counter, e.msg)
}

// fixed is what every request carries: the system prompt and the tools.
func (r *run) fixed(withTools bool) int {
	n := llm.MessageOverhead + r.count(r.system)
	if withTools {
		n += r.specTokens
	}
	return n
}

// used is the size of the next request in counter units.
func (r *run) used() int {
	n := r.fixed(len(r.specs) > 0)
	for _, e := range r.conv {
		n += e.tokens
	}
	return n
}

// limit is the budget in counter units after calibration.
func (r *run) limit() int { return int(float64(r.budget) / r.scale) }

// fit makes the conversation fit the budget: older tool results are
// summarised first (oldest first), then the latest ones trimmed, then the
// task trimmed, then the oldest turns dropped.
func (r *run) fit() error {
	for r.used() > r.limit() {
		if r.compactOldest(len(r.conv)) {
			continue
		}
		if r.trimLargestTool() {
			continue
		}
		if r.trimTask() {
			continue
		}
		if r.dropOldest() {
			continue
		}
		return errContextTooSmall
	}
	return nil
}

// compactOldest summarises the oldest tool result before index end.
func (r *run) compactOldest(end int) bool {
	for _, e := range r.conv[:end] {
		if e.msg.Role == llm.RoleTool && !e.compacted && e.summary != "" && r.count(e.summary) < e.tokens {
			r.setContent(e, e.summary)
			e.compacted = true
			return true
		}
	}
	return false
}

// trimLargestTool halves the largest tool result still above the least
// share.
func (r *run) trimLargestTool() bool {
	var big *entry
	for _, e := range r.conv {
		if e.msg.Role == llm.RoleTool && e.tokens > minResultShare*2 && (big == nil || e.tokens > big.tokens) {
			big = e
		}
	}
	if big == nil {
		return false
	}
	r.setContent(big, llm.TrimToTokens(r.a.cfg.Counter, big.msg.Content, big.tokens/2))
	return true
}

func (r *run) trimTask() bool {
	for _, e := range r.conv {
		if e.pinned && e.tokens > minTaskTokens*5/4 {
			r.setContent(e, llm.TrimToTokens(r.a.cfg.Counter, e.msg.Content, max(minTaskTokens, e.tokens*2/3)))
			return true
		}
	}
	return false
}

// dropOldest drops the oldest unpinned message, with the messages of its
// tool-call group, and says so in place.
func (r *run) dropOldest() bool {
	for i, e := range r.conv {
		if e.pinned {
			continue
		}
		if i == len(r.conv)-1 {
			return false // the newest message is what the model must answer
		}
		keep := r.conv[:0:0]
		dropped := 0
		for _, o := range r.conv {
			if o == e || (e.group != 0 && o.group == e.group) {
				dropped++
				continue
			}
			keep = append(keep, o)
		}
		r.conv = keep
		r.note(fmt.Sprintf("dropped %d older messages to fit the context", dropped))
		return true
	}
	return false
}

// request builds the request from the conversation.
func (r *run) request(noTools bool) llm.Request {
	req := llm.Request{MaxTokens: r.maxOut, Tools: r.specs, NoTools: noTools}
	req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: r.system})
	for _, e := range r.conv {
		req.Messages = append(req.Messages, e.msg)
	}
	return req
}

// truncationRatio is the share (in tenths) of sleuth's count below which a
// server's count means truncation. An exact counter agrees with the server
// up to the chat template, so 60% is far outside; the estimator counts
// ordinary text about 1.4x (and up to ~1.7x) what Qwen3 does, so only a
// count under 40% of it is safe to call truncation.
func (r *run) truncationRatio() int {
	if llm.IsEstimate(r.a.cfg.Counter) {
		return 4
	}
	return 6
}

// complete fits the conversation and asks the model, re-fitting when the
// server says the prompt is too long for the context it loaded.
func (r *run) complete(ctx context.Context, step int, noTools bool) (*llm.Response, error) {
	for try := 0; ; try++ {
		if err := r.fit(); err != nil {
			return nil, err
		}
		sent := r.used()
		t0 := time.Now()
		resp, err := r.a.llm.Complete(ctx, r.request(noTools))
		r.modelTime += time.Since(t0)
		var le *llm.Error
		if errors.As(err, &le) && le.Kind == llm.KindContextOverflow && try < maxOverflowRetries {
			r.shrink(le.ContextLimit)
			continue
		}
		if err != nil {
			return nil, err
		}
		prompt, completion := resp.Usage.PromptTokens, resp.Usage.CompletionTokens
		if prompt > 0 && sent > truncationFloor && prompt < sent*r.truncationRatio()/10 && !r.truncated {
			// Ollama cuts a prompt longer than the context it loaded
			// without a word and answers from what is left: the only sign
			// is a prompt count far below what was sent. Its answer is
			// discarded and the request made again, shorter.
			r.truncated = true
			r.note(fmt.Sprintf("the server counted %d prompt tokens of about %d sent: it silently truncates; answer discarded", prompt, sent))
			r.shrink(prompt)
			continue
		}
		if prompt > 0 && sent > 0 {
			// The server's count includes its chat template: calibrate so
			// that the next request fits by its count, not only by ours.
			if s := float64(prompt) / float64(sent); s > r.scale {
				r.scale = min(s, maxScale)
			}
		} else {
			prompt = int(float64(sent) * r.scale)
		}
		if completion == 0 {
			completion = r.count(resp.Message.Content) + len(resp.Message.ToolCalls)*llm.ToolCallOverhead
		}
		r.totals.Calls++
		r.totals.PromptTokens += prompt
		r.totals.CompletionTokens += completion
		r.totals.MaxPromptTokens = max(r.totals.MaxPromptTokens, prompt)
		r.emit(Step{Kind: StepTokenCount, Number: step, PromptTokens: prompt, CompletionTokens: completion})
		r.steps = append(r.steps, report.LLMStep{Step: step, Kind: "assistant", PromptTokens: prompt,
			Text: clip(strings.TrimSpace(resp.Message.Content), maxStepText)})
		return resp, nil
	}
}

// shrink lowers the budget after an overflow: to what the server says its
// context is, else by a quarter.
func (r *run) shrink(serverContext int) {
	old := r.budget
	if serverContext > 0 && serverContext < r.budget+r.maxOut {
		r.maxOut = min(r.maxOut, serverContext/4)
		r.budget = serverContext - r.maxOut
		r.note(fmt.Sprintf("the server's context is %d tokens, less than llm.context_tokens (%d): prompts now stay under %d tokens",
			serverContext, r.a.cfg.ContextTokens, r.budget))
	} else {
		r.budget = r.budget * 3 / 4
		r.note(fmt.Sprintf("the server said the prompt was too long for its context: prompt budget lowered from %d to %d tokens", old, r.budget))
	}
}

// callsOf returns the tool calls of an answer, native or written as text,
// with IDs, and the answer's remaining text.
func (r *run) callsOf(resp *llm.Response, step int) ([]llm.ToolCall, string) {
	calls := resp.Message.ToolCalls
	text := resp.Message.Content
	if len(calls) == 0 {
		tc := llm.ParseTextToolCalls(text)
		calls, text = tc.Calls, tc.Text
	}
	for i := range calls {
		if calls[i].ID == "" {
			calls[i].ID = fmt.Sprintf("call_%d_%d", step, i+1)
		}
		calls[i].Type = "function"
	}
	return calls, text
}

// execute runs the calls of one model message and adds the assistant
// message and the tool answers to the conversation.
func (r *run) execute(ctx context.Context, step int, text string, calls []llm.ToolCall) {
	r.groups++
	group := r.groups
	refused := 0
	if len(calls) > maxCallsPerStep {
		refused = len(calls) - maxCallsPerStep
	}
	// The assistant message carries every call (each must be answered),
	// in the native form: servers render it with their own template.
	am := r.add(llm.Message{Role: llm.RoleAssistant, Content: strings.TrimSpace(text), ToolCalls: calls}, false)
	am.group = group
	if t := strings.TrimSpace(text); t != "" {
		r.emit(Step{Kind: StepMessage, Number: step, Content: t})
	}
	// Each result gets its share of what is left; older results are
	// summarised first to make room.
	k := len(calls)
	resultCap := r.limit() / 4
	for {
		if free := r.limit() - r.used() - replyReserve; free/k >= resultCap/2 || !r.compactOldest(len(r.conv)-1) {
			break
		}
	}
	share := min(resultCap, (r.limit()-r.used()-replyReserve)/k-llm.MessageOverhead)
	share = max(share, minResultShare)
	for i, c := range calls {
		var content, summary string
		var status toolcall.Status
		if i >= maxCallsPerStep {
			content = fmt.Sprintf("error: not run: at most %d tool calls per message; ask again for what is still needed", maxCallsPerStep)
			status = toolcall.Error
		} else {
			content, summary, status = r.runTool(ctx, step, c)
		}
		content = llm.TrimToTokens(r.a.cfg.Counter, content, share)
		e := r.add(llm.Message{Role: llm.RoleTool, Content: content, ToolCallID: c.ID, Name: c.Function.Name}, false)
		e.group, e.summary = group, summary
		r.emit(Step{Kind: StepToolResult, Number: step, ToolCallID: c.ID, ToolName: c.Function.Name,
			Arguments: c.Function.Arguments, Result: content, Status: status, Description: describe(c)})
		if r.stopped != "" {
			// Answer the remaining calls so the conversation stays well
			// formed, without running them.
			for _, rest := range calls[i+1:] {
				e := r.add(llm.Message{Role: llm.RoleTool, Content: "error: not run: the investigation is ending", ToolCallID: rest.ID, Name: rest.Function.Name}, false)
				e.group = group
			}
			break
		}
	}
	if refused > 0 {
		r.note(fmt.Sprintf("step %d: the model asked for %d calls at once; %d were refused", step, len(calls), refused))
	}
}

// runTool runs one call and returns what the model is told, a one-line
// summary for when it is compacted, and the status.
func (r *run) runTool(ctx context.Context, step int, c llm.ToolCall) (string, string, toolcall.Status) {
	name := c.Function.Name
	r.emit(Step{Kind: StepToolStart, Number: step, ToolCallID: c.ID, ToolName: name, Arguments: c.Function.Arguments})
	rec := toolcall.Call{ID: c.ID, Tool: name, Backend: "llm", Description: describe(c), Started: r.a.cfg.Now().UTC()}
	finish := func(content string, status toolcall.Status, errText string, res tools.Result) (string, string, toolcall.Status) {
		rec.Status, rec.Error = status, errText
		rec.DurationMS = float64(r.a.cfg.Now().Sub(rec.Started).Microseconds()) / 1000
		rec.Bytes = len(content)
		rec.Excerpt, rec.Truncated = toolcall.Truncate(content, toolcall.DefaultExcerptBytes)
		rec.Truncated = rec.Truncated || res.Truncated
		rec.URL = res.URL
		if res.Description != "" {
			rec.Description = res.Description
		}
		r.calls = append(r.calls, rec)
		if obs := toolcall.ObserverFrom(ctx); obs != nil {
			obs(rec) // the tool-call metrics of the queue's investigations
		}
		r.steps = append(r.steps, report.LLMStep{Step: step, Kind: "tool_call", Tool: name, ToolCallID: c.ID,
			Arguments: clip(c.Function.Arguments, 500), Status: string(status), Text: clip(content, 300)})
		return content, summarize(c, content), status
	}
	if name == "" {
		return finish("error: the tool call could not be read (no tool name). Write calls as JSON: "+
			`{"name": "<tool>", "arguments": {...}}`+"; the tools are: "+r.toolNames(), toolcall.Error, "unreadable call", tools.Result{})
	}
	t, ok := r.a.tools.Get(name)
	if !ok {
		msg := (&tools.UnknownToolError{Name: name, Known: r.toolNameList()}).Error()
		return finish("error: "+msg, toolcall.Error, msg, tools.Result{})
	}
	args, err := decodeArgs(c.Function.Arguments)
	if err != nil {
		msg := fmt.Sprintf("the arguments are not a valid JSON object (%v); call %s again with arguments matching %s", err, name, compactSchema(t.Parameters()))
		return finish("error: "+msg, toolcall.Error, msg, tools.Result{})
	}
	rec.Args = stringArgs(args)
	key := name + " " + canonical(args)
	if m, ok := r.seen[key]; ok {
		m.count++
		if m.count >= 3 {
			r.stopped = fmt.Sprintf("the model asked for %s with the same arguments %d times", describe(c), m.count)
			return finish("error: this exact call was made twice already; the investigation ends here. Answer with what you have.",
				toolcall.Error, "repeated call", tools.Result{})
		}
		return finish(fmt.Sprintf("already done (call %s in step %d); here is the result again. Do not repeat calls.\n%s", m.id, m.step, m.result),
			toolcall.Success, "", tools.Result{})
	}
	tctx, cancel := context.WithTimeout(ctx, r.a.cfg.ToolTimeout)
	res, err := t.Run(tctx, args)
	cancel()
	if err != nil {
		msg := redact.String(err.Error())
		r.seen[key] = &memo{id: c.ID, step: step, result: "error: " + msg, count: 1}
		return finish("error: "+msg, toolcall.Error, msg, res)
	}
	text := res.Text
	if len(text) > maxRawResult {
		// A tool that did not bound its answer: no share of a small
		// context is this big, and redacting it whole would be slow.
		text, _ = toolcall.Truncate(text, maxRawResult)
		res.Truncated = true
	}
	content := redact.String(text)
	status := toolcall.Success
	if res.NoData {
		status = toolcall.NoData
		if strings.TrimSpace(content) == "" {
			content = "no data"
		}
	}
	if res.Truncated {
		content += "\n[the source cut this answer: narrow the query for more]"
	}
	r.seen[key] = &memo{id: c.ID, step: step, result: content, count: 1}
	return finish(content, status, "", res)
}

func (r *run) toolNameList() []string {
	names := make([]string, len(r.specs))
	for i, s := range r.specs {
		names[i] = s.Name
	}
	return names
}

func (r *run) toolNames() string { return strings.Join(r.toolNameList(), ", ") }

// decodeArgs reads a call's arguments: a JSON object, possibly empty, or
// a JSON string holding one (some models double-encode).
func decodeArgs(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return map[string]any{}, nil
	}
	var args map[string]any
	err := json.Unmarshal([]byte(s), &args)
	if err != nil {
		var inner string
		if json.Unmarshal([]byte(s), &inner) == nil {
			return decodeArgs(inner)
		}
		return nil, err
	}
	if args == nil {
		args = map[string]any{}
	}
	return args, nil
}

func canonical(args map[string]any) string {
	b, _ := json.Marshal(args) // map keys are sorted
	return string(b)
}

func stringArgs(args map[string]any) map[string]string {
	out := make(map[string]string, len(args))
	for k, v := range args {
		if s, ok := v.(string); ok {
			out[k] = s
		} else {
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// describe renders a call as one line: name(arg=value, ...).
func describe(c llm.ToolCall) string {
	args, err := decodeArgs(c.Function.Arguments)
	if err != nil {
		return c.Function.Name + "(" + clip(c.Function.Arguments, 120) + ")"
	}
	var parts []string
	for k, v := range stringArgs(args) {
		parts = append(parts, k+"="+clip(v, 80))
	}
	slices.Sort(parts)
	return c.Function.Name + "(" + strings.Join(parts, ", ") + ")"
}

// summarize is the one line that replaces a result compacted to save
// context.
func summarize(c llm.ToolCall, content string) string {
	first := strings.TrimSpace(content)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	return "[earlier result of " + describe(c) + ", summarised to save context: " + clip(first, 160) +
		" (" + strconv.Itoa(strings.Count(content, "\n")+1) + " lines)]"
}

func compactSchema(p json.RawMessage) string {
	if len(p) == 0 {
		return "{}"
	}
	var s struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if json.Unmarshal(p, &s) != nil {
		return string(p)
	}
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
	}
	var parts []string
	for k, v := range s.Properties {
		mark := ""
		if req[k] {
			mark = " (required)"
		}
		parts = append(parts, `"`+k+`": `+v.Type+mark)
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ", ") + "}"
}

// loop runs model steps until the model answers without calling tools,
// the step limit, or a repeated call; then it asks for the answer without
// tools. accept tells whether an answer is final; an answer that is not
// gets one more request (nudge). It returns the final text.
func (r *run) loop(ctx context.Context, accept func(string) bool, nudge string) (string, error) {
	nudged := false
	step := 1
	for ; step <= r.a.cfg.MaxSteps && r.stopped == ""; step++ {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		resp, err := r.complete(ctx, step, false)
		if err != nil {
			return "", err
		}
		calls, text := r.callsOf(resp, step)
		if resp.Message.Reasoning != "" {
			r.emit(Step{Kind: StepMessage, Number: step, Reasoning: resp.Message.Reasoning})
		}
		if len(calls) > 0 {
			r.execute(ctx, step, text, calls)
			continue
		}
		if accept(text) {
			r.emit(Step{Kind: StepMessage, Number: step, Content: text})
			return text, nil
		}
		if nudged {
			r.note("the model gave no structured answer after being asked again; its text is kept")
			return text, nil
		}
		nudged = true
		r.note("the model stopped without the final answer; asked once more")
		r.add(llm.Message{Role: llm.RoleAssistant, Content: text}, false)
		r.add(llm.Message{Role: llm.RoleUser, Content: nudge}, false)
	}
	// The step limit or a repeated call: one last request, without tools.
	r.partial = true
	if r.stopped == "" {
		r.stopped = fmt.Sprintf("the step limit (%d model requests) was reached", r.a.cfg.MaxSteps)
	}
	r.note(r.stopped + "; asked for the answer without more tools")
	r.add(llm.Message{Role: llm.RoleUser, Content: "Stop calling tools: " + r.stopped + ". " + nudge}, true)
	resp, err := r.complete(ctx, step, true)
	if err != nil {
		return "", err
	}
	// A model that still writes calls gets its remaining text used.
	_, text := r.callsOf(resp, step)
	r.emit(Step{Kind: StepMessage, Number: step, Content: text})
	return text, nil
}

// stage fills the report's record of the run.
func (r *run) stage() report.LLMStage {
	return report.LLMStage{
		Model:            r.a.llm.Model(),
		Partial:          r.partial,
		Note:             strings.Join(r.notes, "; "),
		Calls:            r.totals.Calls,
		PromptTokens:     r.totals.PromptTokens,
		CompletionTokens: r.totals.CompletionTokens,
		MaxPromptTokens:  r.totals.MaxPromptTokens,
		Budget:           r.budget,
		Counter:          r.a.cfg.Counter.Name(),
		WallMS:           float64(r.a.cfg.Now().Sub(r.start).Microseconds()) / 1000,
		ModelMS:          float64(r.modelTime.Microseconds()) / 1000,
		Steps:            r.steps,
	}
}
