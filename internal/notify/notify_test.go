package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
)

var t0 = time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)

func event() Event {
	return Event{Kind: Investigated, IncidentID: 7, InvestigationID: 9, AlertName: "KubePodCrashLooping", Severity: "critical",
		Namespace: "shop", Workload: "checkout", Category: "oom-killed", Object: "Deployment/shop/checkout", Confidence: 0.9,
		Summary: "Container app was OOMKilled 4 times at its 256 MiB limit.", Remediation: "Raise the memory limit to 384Mi.",
		URL: "https://sleuth.example.com/investigations/9", GeneratorURL: "http://vmalert/x", StartsAt: t0, Time: t0.Add(time.Minute)}
}

// hostile is an event whose alert-derived text tries markup and mentions
// in every sink's syntax, and is far over every size limit.
func hostile() Event {
	e := event()
	e.AlertName = "<!channel> <script>alert(1)</script> *bold* [x](http://evil)"
	e.Object = "Pod/shop/`rm -rf`<b>"
	e.Summary = strings.Repeat("très long résumé & <tags> ", 2000)
	e.Remediation = strings.Repeat("step ", 2000)
	return e
}

// recorder is an HTTP stand-in that records requests and answers with the
// next scripted reply (the last one repeats).
type recorder struct {
	mu      sync.Mutex
	reqs    []recorded
	replies []reply
}

type recorded struct {
	Method, Path, Auth string
	Body               []byte
}

type reply struct {
	status int
	body   string
	header map[string]string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.Header.Get("Authorization"), b})
	rep := reply{status: 200, body: "ok"}
	if len(r.replies) > 0 {
		rep = r.replies[0]
		if len(r.replies) > 1 {
			r.replies = r.replies[1:]
		}
	}
	r.mu.Unlock()
	if req.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		http.Error(w, "want JSON", http.StatusUnsupportedMediaType)
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func standIn(t *testing.T, replies ...reply) (*recorder, *httptest.Server) {
	rec := &recorder{replies: replies}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

// checkSlackMessage checks a message against Block Kit's rules as Slack
// enforces them (a violation is HTTP 400 invalid_blocks).
func checkSlackMessage(t *testing.T, body []byte) SlackMessage {
	t.Helper()
	var m SlackMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("slack body is not JSON: %v", err)
	}
	if m.Text == "" || utf8.RuneCountInString(m.Text) > slackTextMax {
		t.Errorf("text has %d characters, want 1..%d", utf8.RuneCountInString(m.Text), slackTextMax)
	}
	if len(m.Blocks) == 0 || len(m.Blocks) > 50 {
		t.Errorf("%d blocks, want 1..50", len(m.Blocks))
	}
	for i, b := range m.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || utf8.RuneCountInString(b.Text.Text) > 150 {
				t.Errorf("block %d: header must be plain_text of at most 150 characters: %+v", i, b.Text)
			}
		case "section":
			if b.Text == nil || utf8.RuneCountInString(b.Text.Text) > 3000 || b.Text.Text == "" {
				t.Errorf("block %d: section text must be 1..3000 characters, has %d", i, utf8.RuneCountInString(b.Text.Text))
			}
			if b.Text.Type == "mrkdwn" && regexp.MustCompile(`<[^@#!]|<!`).MatchString(b.Text.Text) {
				t.Errorf("block %d: unescaped < in mrkdwn: %q", i, b.Text.Text[:min(200, len(b.Text.Text))])
			}
		case "actions":
			if len(b.Elements) == 0 || len(b.Elements) > 25 {
				t.Errorf("block %d: actions need 1..25 elements", i)
			}
			for _, el := range b.Elements {
				if el.Type != "button" || el.ActionID == "" || len(el.URL) > 3000 {
					t.Errorf("block %d: bad button %+v", i, el)
				}
			}
		default:
			t.Errorf("block %d: unexpected type %q", i, b.Type)
		}
	}
	return m
}

func TestSlackWebhookPayload(t *testing.T) {
	rec, srv := standIn(t)
	s := &Slack{WebhookURL: srv.URL + "/services/T000/B000/XXXX"}
	for _, e := range []Event{event(), hostile()} {
		if _, _, err := s.Send(context.Background(), e, ""); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rec.requests()
	if len(reqs) != 2 || reqs[0].Path != "/services/T000/B000/XXXX" || reqs[0].Method != "POST" {
		t.Fatalf("requests: %+v", reqs)
	}
	m := checkSlackMessage(t, reqs[0].Body)
	all := string(reqs[0].Body)
	for _, want := range []string{"oom-killed", "Deployment/shop/checkout", "Raise the memory limit to 384Mi.", "https://sleuth.example.com/investigations/9"} {
		if !strings.Contains(all, want) {
			t.Errorf("slack message lacks %q", want)
		}
	}
	if m.ThreadTS != "" || m.Channel != "" {
		t.Errorf("a webhook message names a channel or thread: %+v", m)
	}
	h := checkSlackMessage(t, reqs[1].Body)
	if strings.Contains(string(reqs[1].Body), "<!channel>") || !strings.Contains(h.Blocks[1].Text.Text, "&lt;!channel&gt;") {
		t.Errorf("a label's <!channel> was not escaped")
	}
}

func TestSlackBotThreads(t *testing.T) {
	rec, srv := standIn(t,
		reply{status: 200, body: `{"ok":true,"channel":"C1","ts":"1712345678.000100"}`},
		reply{status: 200, body: `{"ok":true,"channel":"C1","ts":"1712345999.000200"}`})
	s := &Slack{BotToken: "xoxb-test", Channel: "C1", APIURL: srv.URL + "/api"}
	d := newTestDispatcher(t, fakeStore{7: {ID: 7, State: store.IncidentResolved, AlertName: "KubePodCrashLooping", LastInvestigationID: 9}}, Target{Sink: s})
	d.Notify(event())
	d.flush(t)
	d.CheckResolved(context.Background())
	d.flush(t)
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want the message and its resolution", len(reqs))
	}
	for _, r := range reqs {
		if r.Path != "/api/chat.postMessage" || r.Auth != "Bearer xoxb-test" {
			t.Errorf("request %s with %q, want chat.postMessage with the bot token", r.Path, r.Auth)
		}
	}
	first, second := checkSlackMessage(t, reqs[0].Body), checkSlackMessage(t, reqs[1].Body)
	if first.Channel != "C1" || first.ThreadTS != "" {
		t.Errorf("first message channel %q thread %q", first.Channel, first.ThreadTS)
	}
	if second.ThreadTS != "1712345678.000100" || !strings.Contains(second.Text, "Resolved") {
		t.Errorf("resolution thread_ts %q text %q, want a reply to the first message", second.ThreadTS, second.Text)
	}
}

func TestSlackBotErrors(t *testing.T) {
	f := func(r reply, wantRetry bool) {
		t.Helper()
		_, srv := standIn(t, r)
		s := &Slack{BotToken: "xoxb-test", Channel: "C1", APIURL: srv.URL}
		_, retry, err := s.Send(context.Background(), event(), "")
		if err == nil || retry != wantRetry {
			t.Errorf("answer %d %s: err %v retry %v, want an error with retry %v", r.status, r.body, err, retry, wantRetry)
		}
	}
	f(reply{status: 200, body: `{"ok":false,"error":"channel_not_found"}`}, false)
	f(reply{status: 200, body: `{"ok":false,"error":"invalid_auth"}`}, false)
	f(reply{status: 200, body: `{"ok":false,"error":"ratelimited"}`}, true)
	f(reply{status: 429, body: ``, header: map[string]string{"Retry-After": "3"}}, true)
	f(reply{status: 503, body: `upstream`}, true)
}

// telegramHTML checks text against what sendMessage accepts with
// parse_mode HTML: only supported tags, balanced, entities escaped.
func telegramHTML(t *testing.T, s string) {
	t.Helper()
	if n := utf8.RuneCountInString(s); n > 4096 {
		t.Errorf("telegram text has %d characters, over 4096", n)
	}
	tag := regexp.MustCompile(`<(/?)([a-z]+)[^>]*>`)
	var open []string
	for _, m := range tag.FindAllStringSubmatch(s, -1) {
		switch m[2] {
		case "b", "code", "a":
		default:
			t.Errorf("unsupported tag <%s%s>", m[1], m[2])
		}
		if m[1] == "" {
			open = append(open, m[2])
		} else if len(open) == 0 || open[len(open)-1] != m[2] {
			t.Errorf("unbalanced </%s>", m[2])
		} else {
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		t.Errorf("unclosed tags %v", open)
	}
	rest := tag.ReplaceAllString(s, "")
	if strings.ContainsAny(rest, "<>") || regexp.MustCompile(`&(?:[^a-z#]|$)`).MatchString(rest) {
		t.Errorf("unescaped markup outside tags: %q", rest[:min(len(rest), 300)])
	}
}

func TestTelegramPayloadAndReply(t *testing.T) {
	rec, srv := standIn(t,
		reply{status: 200, body: `{"ok":true,"result":{"message_id":4242,"chat":{"id":-1001}}}`},
		reply{status: 200, body: `{"ok":true,"result":{"message_id":4243}}`},
		reply{status: 200, body: `{"ok":true,"result":{"message_id":4244}}`})
	tg := &Telegram{BotToken: "123:ABC", ChatID: "-1001", APIURL: srv.URL}
	d := newTestDispatcher(t, fakeStore{7: {ID: 7, State: store.IncidentResolved, AlertName: "KubePodCrashLooping"}}, Target{Sink: tg})
	d.Notify(event())
	d.flush(t)
	d.CheckResolved(context.Background())
	d.flush(t)
	if _, _, err := tg.Send(context.Background(), hostile(), ""); err != nil {
		t.Fatal(err)
	}
	reqs := rec.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	var msgs []TelegramMessage
	for _, r := range reqs {
		if r.Path != "/bot123:ABC/sendMessage" {
			t.Errorf("path %q", r.Path)
		}
		var m TelegramMessage
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		if m.ChatID != "-1001" || m.ParseMode != "HTML" {
			t.Errorf("chat_id %q parse_mode %q", m.ChatID, m.ParseMode)
		}
		telegramHTML(t, m.Text)
		msgs = append(msgs, m)
	}
	if msgs[0].ReplyToMessageID != 0 || msgs[1].ReplyToMessageID != 4242 {
		t.Errorf("reply_to_message_id %d then %d, want 0 then 4242", msgs[0].ReplyToMessageID, msgs[1].ReplyToMessageID)
	}
	if !strings.Contains(msgs[2].Text, `<a href="https://sleuth.example.com/investigations/9">`) {
		t.Errorf("an over-long message lost its link: %q", msgs[2].Text[len(msgs[2].Text)-200:])
	}
	if !strings.Contains(msgs[2].Text, "&lt;script&gt;") {
		t.Errorf("a hostile alert name was not escaped")
	}
}

func TestTelegramRetryAfter(t *testing.T) {
	_, srv := standIn(t, reply{status: 429, body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 17","parameters":{"retry_after":17}}`})
	_, retry, err := (&Telegram{BotToken: "1:x", ChatID: "1", APIURL: srv.URL}).Send(context.Background(), event(), "")
	var ra *retryAfterError
	if !retry || !errors.As(err, &ra) || ra.after != 17*time.Second {
		t.Errorf("429 with retry_after 17: retry %v err %v, want a retry after 17s", retry, err)
	}
	if err != nil && strings.Contains(err.Error(), "1:x") {
		t.Errorf("the error shows the bot token: %v", err)
	}
}

func TestMattermostPayload(t *testing.T) {
	rec, srv := standIn(t)
	m := &Mattermost{WebhookURL: srv.URL + "/hooks/abc", Channel: "incidents"}
	for _, e := range []Event{event(), hostile()} {
		if _, _, err := m.Send(context.Background(), e, ""); err != nil {
			t.Fatal(err)
		}
	}
	reqs := rec.requests()
	var msg MattermostMessage
	if err := json.Unmarshal(reqs[0].Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Channel != "incidents" || msg.Username != "sleuth" || !strings.Contains(msg.Text, "[Open in sleuth](https://sleuth.example.com/investigations/9)") {
		t.Errorf("mattermost message %+v", msg)
	}
	if err := json.Unmarshal(reqs[1].Body, &msg); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(msg.Text); n > 16383 {
		t.Errorf("mattermost text %d characters, over the 16383 limit", n)
	}
	if strings.Contains(msg.Text, "[x](http://evil)") || strings.Contains(msg.Text, "*bold*") {
		t.Errorf("markdown in an alert name was not escaped")
	}
}

func TestWebhookPayload(t *testing.T) {
	rec, srv := standIn(t)
	w := &Webhook{URL: srv.URL + "/hook", Token: "tok"}
	if _, _, err := w.Send(context.Background(), event(), "t-1"); err != nil {
		t.Fatal(err)
	}
	r := rec.requests()[0]
	if r.Auth != "Bearer tok" {
		t.Errorf("Authorization %q", r.Auth)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"version": "1", "kind": "investigated", "incident_id": 7.0, "category": "oom-killed", "object": "Deployment/shop/checkout", "thread": "t-1",
		"url": "https://sleuth.example.com/investigations/9", "remediation": "Raise the memory limit to 384Mi."} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestGrafanaAnnotationRegion(t *testing.T) {
	rec, srv := standIn(t, reply{status: 200, body: `{"message":"Annotation added","id":31}`}, reply{status: 200, body: `{"message":"Annotation patched"}`})
	g := &Grafana{URL: srv.URL, Token: "glsa_x", DashboardUID: "k8s-pods", Tags: []string{"sleuth"}}
	d := newTestDispatcher(t, fakeStore{7: {ID: 7, State: store.IncidentResolved, ResolvedAt: ptrTime(t0.Add(time.Hour))}}, Target{Sink: g})
	d.Notify(event())
	d.flush(t)
	d.CheckResolved(context.Background())
	d.flush(t)
	reqs := rec.requests()
	if len(reqs) != 2 || reqs[0].Method != "POST" || reqs[0].Path != "/api/annotations" || reqs[1].Method != "PATCH" || reqs[1].Path != "/api/annotations/31" {
		t.Fatalf("requests %+v", reqs)
	}
	var a GrafanaAnnotation
	if err := json.Unmarshal(reqs[0].Body, &a); err != nil {
		t.Fatal(err)
	}
	if a.DashboardUID != "k8s-pods" || a.Time != t0.UnixMilli() || !strings.Contains(strings.Join(a.Tags, ","), "oom-killed") || reqs[0].Auth != "Bearer glsa_x" {
		t.Errorf("annotation %+v auth %q", a, reqs[0].Auth)
	}
	var patch map[string]int64
	if err := json.Unmarshal(reqs[1].Body, &patch); err != nil || patch["timeEnd"] != t0.Add(time.Hour).UnixMilli() {
		t.Errorf("patch %s, want timeEnd at the resolution", reqs[1].Body)
	}
}

// --- dispatcher ---

type fakeStore map[int64]*store.Incident

func (f fakeStore) Incident(_ context.Context, id int64) (*store.Incident, error) {
	if in, ok := f[id]; ok {
		return in, nil
	}
	return nil, store.ErrNotFound
}

func ptrTime(t time.Time) *time.Time { return &t }

type testMetrics struct {
	mu     sync.Mutex
	counts map[string]int
	gauges map[string]func() float64
}

func (m *testMetrics) Notified(sink, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[sink+"/"+outcome]++
}

func (m *testMetrics) Gauge(name string, f func() float64) { m.gauges[name] = f }

func (m *testMetrics) count(k string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[k]
}

type testDispatcher struct {
	*Dispatcher
	metrics *testMetrics
	mu      sync.Mutex
	slept   []time.Duration
	cancel  context.CancelFunc
}

func newTestDispatcher(t *testing.T, st IncidentReader, targets ...Target) *testDispatcher {
	return newTestDispatcherCfg(t, Config{MaxAttempts: 4, RetryBackoff: time.Second, ExternalURL: "https://sleuth.example.com"}, st, targets...)
}

func newTestDispatcherCfg(t *testing.T, cfg Config, st IncidentReader, targets ...Target) *testDispatcher {
	m := &testMetrics{counts: map[string]int{}, gauges: map[string]func() float64{}}
	d := &testDispatcher{metrics: m}
	d.Dispatcher = New(cfg, targets, st, nil, m, func() time.Time { return t0 })
	// Waits are recorded, not slept: no test depends on the clock.
	d.sleep = func(ctx context.Context, dur time.Duration) error {
		d.mu.Lock()
		d.slept = append(d.slept, dur)
		d.mu.Unlock()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func (d *testDispatcher) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Fatal("messages still pending:", err)
	}
}

// sinkFunc is a sink whose answers a test scripts.
type sinkFunc struct {
	name string
	mu   sync.Mutex
	got  []Event
	send func(n int, e Event) (string, bool, error)
}

func (s *sinkFunc) Name() string { return s.name }

func (s *sinkFunc) Send(_ context.Context, e Event, _ string) (string, bool, error) {
	s.mu.Lock()
	s.got = append(s.got, e)
	n := len(s.got)
	s.mu.Unlock()
	if s.send == nil {
		return "", false, nil
	}
	return s.send(n, e)
}

func (s *sinkFunc) events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.got...)
}

func TestRouting(t *testing.T) {
	all, crit, shop, oom := &sinkFunc{name: "all"}, &sinkFunc{name: "crit"}, &sinkFunc{name: "shop"}, &sinkFunc{name: "oom"}
	d := newTestDispatcher(t, nil,
		Target{Sink: all},
		Target{Sink: crit, Route: Route{Severities: []string{"critical"}}},
		Target{Sink: shop, Route: Route{Namespaces: []string{"shop", "cart"}}},
		Target{Sink: oom, Route: Route{Categories: []string{"oom-killed"}, Severities: []string{"warning"}}})
	e1 := event()
	e2 := event()
	e2.IncidentID, e2.Severity, e2.Namespace, e2.Category = 8, "warning", "payments", "oom-killed"
	d.Notify(e1)
	d.Notify(e2)
	d.flush(t)
	ids := func(s *sinkFunc) string {
		var out []string
		for _, e := range s.events() {
			out = append(out, fmt.Sprint(e.IncidentID))
		}
		return strings.Join(out, ",")
	}
	for s, want := range map[*sinkFunc]string{all: "7,8", crit: "7", shop: "7", oom: "8"} {
		if got := ids(s); got != want {
			t.Errorf("sink %s got incidents %q, want %q", s.name, got, want)
		}
	}
}

func TestRetriesWithBackoffThenFailing(t *testing.T) {
	flaky := &sinkFunc{name: "flaky", send: func(n int, _ Event) (string, bool, error) {
		if n < 3 {
			return "", true, errors.New("HTTP 502")
		}
		return "", false, nil
	}}
	dead := &sinkFunc{name: "dead", send: func(int, Event) (string, bool, error) { return "", true, errors.New("connection refused") }}
	bad := &sinkFunc{name: "bad", send: func(int, Event) (string, bool, error) { return "", false, errors.New("HTTP 400 invalid_blocks") }}
	d := newTestDispatcher(t, nil, Target{Sink: flaky}, Target{Sink: dead}, Target{Sink: bad})
	d.Notify(event())
	d.flush(t)
	if n := len(flaky.events()); n != 3 {
		t.Errorf("flaky sink tried %d times, want 3 (two failures, then success)", n)
	}
	if n := len(dead.events()); n != 4 {
		t.Errorf("dead sink tried %d times, want notify.max_attempts (4)", n)
	}
	if n := len(bad.events()); n != 1 {
		t.Errorf("a permanent failure was tried %d times, want 1", n)
	}
	// Backoff doubles from 1s (with ±20% jitter).
	d.mu.Lock()
	slept := append([]time.Duration(nil), d.slept...)
	d.mu.Unlock()
	var max time.Duration
	for _, s := range slept {
		max = maxDur(max, s)
	}
	if len(slept) != 2+3 || max < 3200*time.Millisecond || max > 4800*time.Millisecond {
		t.Errorf("waits %v, want 5 retries waiting about 1s, 2s, 1s, 2s, 4s", slept)
	}
	st := map[string]Status{}
	for _, s := range d.Statuses() {
		st[s.Name] = s
	}
	if !st["flaky"].OK || st["dead"].OK || st["bad"].OK || st["dead"].LastError != "connection refused" {
		t.Errorf("statuses %+v", st)
	}
	rd := d.ReadyDetail()
	if rd["notify.flaky"] != "ok" || !strings.Contains(rd["notify.dead"], "failing since") || !strings.Contains(rd["notify.dead"], "connection refused") {
		t.Errorf("readyz detail %v", rd)
	}
	if d.metrics.count("dead/failed") != 1 || d.metrics.count("dead/retried") != 3 || d.metrics.count("flaky/sent") != 1 {
		t.Errorf("metrics %v", d.metrics.counts)
	}
	if d.metrics.gauges[`sleuth_notify_sink_failing{sink="dead"}`]() != 1 || d.metrics.gauges[`sleuth_notify_sink_failing{sink="flaky"}`]() != 0 {
		t.Errorf("failing gauges wrong")
	}
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := &sinkFunc{name: "limited", send: func(n int, _ Event) (string, bool, error) {
		if n == 1 {
			return "", true, &retryAfterError{after: 30 * time.Second, err: errors.New("429")}
		}
		return "", false, nil
	}}
	d := newTestDispatcher(t, nil, Target{Sink: s})
	d.Notify(event())
	d.flush(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.slept) != 1 || d.slept[0] < 24*time.Second {
		t.Errorf("waits %v, want one of about 30s as Retry-After asked", d.slept)
	}
}

func TestRateLimit(t *testing.T) {
	s := &sinkFunc{name: "slow"}
	d := newTestDispatcher(t, nil, Target{Sink: s, Route: Route{PerMinute: 6}})
	for i := 0; i < 3; i++ {
		e := event()
		e.IncidentID = int64(100 + i)
		d.Notify(e)
	}
	d.flush(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	// The clock stands still, so each message after the first waits the
	// whole interval: 10s at 6 per minute.
	if len(d.slept) != 3 || d.slept[1] != 10*time.Second || d.slept[2] != 10*time.Second {
		t.Errorf("waits %v, want 10s before each message after the first", d.slept)
	}
}

// A sink that hangs must not hold back the caller: Notify returns at once
// and a full queue drops messages and counts them.
func TestNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	hung := &sinkFunc{name: "hung", send: func(int, Event) (string, bool, error) { <-release; return "", false, nil }}
	d := newTestDispatcherCfg(t, Config{QueueSize: 2, MaxAttempts: 1}, nil, Target{Sink: hung})
	for i := 0; i < 10; i++ {
		e := event()
		e.IncidentID = int64(i)
		d.Notify(e) // would deadlock the test if it blocked
	}
	if got := d.metrics.count("hung/dropped"); got < 7 {
		t.Errorf("%d messages dropped, want at least 7 of 10 with a queue of 2 and one in flight", got)
	}
	if st := d.Statuses()[0]; st.Dropped < 7 {
		t.Errorf("status dropped %d", st.Dropped)
	}
	close(release)
	d.flush(t)
}

type investigatorFunc func(context.Context, investigate.Job) (*report.Report, error)

func (f investigatorFunc) Investigate(ctx context.Context, j investigate.Job) (*report.Report, error) {
	return f(ctx, j)
}

func TestWrapAnnouncesReports(t *testing.T) {
	s := &sinkFunc{name: "s"}
	d := newTestDispatcher(t, nil, Target{Sink: s})
	rep := &report.Report{RootCause: report.RootCause{Category: "oom-killed", Object: report.Ref{Kind: "Deployment", Namespace: "shop", Name: "checkout"}, Confidence: 0.9},
		Summary: "OOM.", Remediation: []string{"Raise the limit.\nThen watch it.", "second"},
		Alerts: []report.Alert{{StartsAt: t0, GeneratorURL: "http://vmalert/x"}}}
	failing := true
	inv := d.Wrap(investigatorFunc(func(context.Context, investigate.Job) (*report.Report, error) {
		if failing {
			return nil, errors.New("backend down")
		}
		return rep, nil
	}))
	job := investigate.Job{Investigation: store.Investigation{ID: 9}, Incident: store.Incident{ID: 7, AlertName: "KubePodCrashLooping", Namespace: "shop", Severity: "critical"}}
	if _, err := inv.Investigate(context.Background(), job); err == nil {
		t.Fatal("the error was swallowed")
	}
	failing = false
	if _, err := inv.Investigate(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	d.flush(t)
	got := s.events()
	if len(got) != 1 {
		t.Fatalf("%d messages, want one for the successful attempt only", len(got))
	}
	e := got[0]
	if e.Category != "oom-killed" || e.Object != "Deployment/shop/checkout" || e.Remediation != "Raise the limit." ||
		e.URL != "https://sleuth.example.com/investigations/9" || e.StartsAt != t0 || e.Severity != "critical" {
		t.Errorf("event %+v", e)
	}
}

func TestTargetsFromSecrets(t *testing.T) {
	t.Setenv("TEST_TG_TOKEN", "42:tok")
	cfg := defaultNotifyConfig()
	cfg.Telegram.BotTokenEnv, cfg.Telegram.ChatID = "TEST_TG_TOKEN", "-1"
	cfg.Slack.WebhookURLFile = t.TempDir() + "/missing"
	if _, err := Targets(cfg); err == nil || !strings.Contains(err.Error(), "notify.slack.webhook_url") {
		t.Errorf("a missing secret file: %v, want an error naming the key", err)
	}
	cfg.Slack.WebhookURLFile = ""
	ts, err := Targets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Sink.(*Telegram).BotToken != "42:tok" {
		t.Errorf("targets %+v, want telegram with the token from the environment", ts)
	}
}

func defaultNotifyConfig() config.Notify { return config.Default().Notify }
