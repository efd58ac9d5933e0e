package ui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sleuth-sre/sleuth/internal/app"
	"github.com/sleuth-sre/sleuth/internal/config"
)

var screenshots = flag.String("screenshots", "", "save page screenshots into this directory (docs/screenshots)")

// chromium finds Debian's headless-capable Chromium (.ci/run installs it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium: apt-get install -y chromium chromium-driver")
	return ""
}

// scriptedLLM stands in for an OpenAI-compatible model server (no model
// runs here): every chat completion answers with the same text, as JSON or
// as a stream, whichever was asked.
func scriptedLLM(t *testing.T, answer string) *httptest.Server {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/models"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"object":"list","data":[{"id":"scripted","object":"model","owned_by":"test"}]}`)
		case strings.HasSuffix(r.URL.Path, "/chat/completions"):
			calls.Add(1)
			body, _ := io.ReadAll(r.Body)
			var req struct {
				Stream bool `json:"stream"`
			}
			_ = json.Unmarshal(body, &req)
			content, _ := json.Marshal(answer)
			if req.Stream {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"scripted\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":%s},\"finish_reason\":null}]}\n\n", content)
				io.WriteString(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"scripted\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":20,\"total_tokens\":70}}\n\n")
				io.WriteString(w, "data: [DONE]\n\n")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"scripted","choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":20,"total_tokens":70}}`, content)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

type browserEnv struct {
	base   string
	ctx    context.Context
	dialog atomic.Int64
	api    func(method, path, body string) (int, []byte)
}

// startSleuth runs the whole service (app.Serve) over a seeded store and
// opens a headless browser on it.
func startSleuth(t *testing.T, llmAnswer string) *browserEnv {
	exe := chromium(t)
	path := dbPath(t)
	seed(t, path)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = "sqlite://" + path
	cfg.Auth.APIToken = apiToken
	cfg.Auth.WebhookToken = "wh-token"
	cfg.Kubernetes.Enabled = false
	cfg.UI.GrafanaURL = "http://127.0.0.1:3000"
	cfg.UI.Refresh = time.Second
	cfg.LLM.URL = scriptedLLM(t, llmAnswer).URL + "/v1"
	cfg.LLM.Model = "scripted"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, cfg, slog.New(slog.DiscardHandler), func(a string) { addr <- a }) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("sleuth did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// Generous: a cold Chromium on a busy 2-core machine is slow to start.
	bctx, tcancel := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(func() { tcancel(); bcancel(); acancel() })
	e := &browserEnv{base: base, ctx: bctx}
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	dialogs := make(chan struct{}, 16)
	if err := chromedp.Listen(bctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			e.dialog.Add(1)
			select {
			case dialogs <- struct{}{}:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	// A dialog blocks the page: dismiss it (the listener may not call
	// the browser itself), the test fails on the count.
	go func() {
		for range dialogs {
			_, _ = chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	e.api = func(method, p, body string) (int, []byte) {
		req, _ := http.NewRequest(method, base+p, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiToken)
		if strings.HasPrefix(p, "/webhook") {
			req.Header.Set("Authorization", "Bearer wh-token")
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	return e
}

func (e *browserEnv) run(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(e.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func value[T any](t *testing.T, e *browserEnv, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(e.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *browserEnv) text(t *testing.T, css string) string {
	t.Helper()
	return value(t, e, chromedp.Text(chromedp.CSS(css)))
}

func (e *browserEnv) login(t *testing.T) {
	t.Helper()
	e.run(t,
		chromedp.Navigate(e.base+"/incidents"),
		chromedp.WaitVisible(chromedp.ID(`token`)),
		chromedp.SendKeys(chromedp.ID(`token`), apiToken),
		chromedp.Submit(chromedp.ID(`token`)),
		chromedp.WaitVisible(chromedp.CSS(`tr.incident`)),
	)
}

func (e *browserEnv) count(t *testing.T, selector string) int {
	t.Helper()
	return value(t, e, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, selector)))
}

func (e *browserEnv) screenshot(t *testing.T, name string) {
	t.Helper()
	buf := value(t, e, chromedp.FullScreenshot(100))
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// webhookPayload is an Alertmanager delivery of one alert.
func webhookPayload(labels map[string]string, annotations map[string]string, generator, fingerprint string, startsAt time.Time) string {
	a := map[string]any{"status": "firing", "labels": labels, "annotations": annotations, "startsAt": startsAt.Format(time.RFC3339),
		"endsAt": "0001-01-01T00:00:00Z", "generatorURL": generator, "fingerprint": fingerprint}
	p := map[string]any{"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing", "receiver": "sleuth",
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager:9093", "alerts": []any{a}}
	b, _ := json.Marshal(p)
	return string(b)
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests start Chromium")
	}
	e := startSleuth(t, "The checkout container leaks memory after revision 7; raise the limit or roll back.")
	e.login(t)

	t.Run("list renders and updates live", func(t *testing.T) {
		if n := e.count(t, "tr.incident"); n != 2 {
			t.Fatalf("%d incident rows, want the 2 seeded", n)
		}
		e.screenshot(t, "incidents.png")
		// A marker that a reload would wipe out.
		value(t, e, chromedp.Evaluate[bool](`window.__noReload = true`))
		payload := webhookPayload(map[string]string{"alertname": "KubeDeploymentReplicasMismatch", "namespace": "search", "deployment": "indexer", "severity": "warning"},
			map[string]string{"summary": "replicas mismatch"}, "http://vmalert/x", "1111222233334444", time.Now().UTC())
		if code, body := e.api("POST", "/webhook", payload); code != 200 {
			t.Fatalf("webhook = %d %s", code, body)
		}
		e.run(t, chromedp.WaitVisible(chromedp.Search(`//tr[contains(@class,"incident")]//td[contains(., "KubeDeploymentReplicasMismatch")]`)))
		if !value(t, e, chromedp.Evaluate[bool](`window.__noReload === true`)) {
			t.Errorf("the list reloaded the page instead of updating in place")
		}
	})

	t.Run("investigation shows charts and evidence", func(t *testing.T) {
		e.run(t, chromedp.Navigate(e.base+"/investigations/1"), chromedp.WaitVisible(chromedp.CSS(`figure.chart svg`)))
		f := func(selector string, min int) {
			t.Helper()
			if n := e.count(t, selector); n < min {
				t.Errorf("%q: %d elements, want at least %d", selector, n, min)
			}
		}
		f(`figure.chart svg polyline.series`, 3)
		f(`figure.chart svg line.limit`, 2)
		f(`figure.chart svg line.alert-start`, 2)
		f(`table.logs tbody tr`, 2)
		f(`ol.timeline li`, 4)
		f(`ol.calls li.call`, 4)
		f(`ul.unchecked li`, 1)
		f(`ol.conversation li.msg`, 4)
		f(`a.explore`, 2)
		// The SVG is drawn, with a size: the stylesheet loaded under the CSP.
		if w := value(t, e, chromedp.Evaluate[float64](`document.querySelector('figure.chart svg').getBoundingClientRect().width`)); w < 300 {
			t.Errorf("chart is %.0f px wide, want it laid out", w)
		}
		rc := e.text(t, `.answer .rc`)
		if !strings.Contains(rc, "oom-killed") || !strings.Contains(rc, "Deployment/shop/checkout") {
			t.Errorf("root cause line = %q", rc)
		}
		e.screenshot(t, "investigation.png")
		e.run(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		e.run(t, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`figure.chart svg`)))
		scrollW := value(t, e, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		clientW := value(t, e, chromedp.Evaluate[int](`document.documentElement.clientWidth`))
		if scrollW > clientW+2 {
			t.Errorf("on a phone the page scrolls sideways: %d px of content in %d", scrollW, clientW)
		}
		e.screenshot(t, "investigation-phone.png")
		e.run(t, chromedp.EmulateViewport(1280, 900))
	})

	t.Run("hostile alert labels render inert", func(t *testing.T) {
		payload := webhookPayload(map[string]string{"alertname": "XSSProbe", "namespace": "evil", "severity": "critical", "pod": xssImg, "team": xssScript},
			map[string]string{"description": xssScript + xssImg}, "javascript:alert(3)", "ffee0011ffee0011", time.Now().UTC())
		if code, body := e.api("POST", "/webhook", payload); code != 200 {
			t.Fatalf("webhook = %d %s", code, body)
		}
		var invID int64
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && invID == 0; time.Sleep(100 * time.Millisecond) {
			_, b := e.api("GET", "/api/investigations?limit=100", "")
			var page struct {
				Items []struct {
					ID        int64  `json:"id"`
					AlertName string `json:"alertname"`
					State     string `json:"state"`
				} `json:"items"`
			}
			_ = json.Unmarshal(b, &page)
			for _, it := range page.Items {
				if it.AlertName == "XSSProbe" && it.State == "done" {
					invID = it.ID
				}
			}
		}
		if invID == 0 {
			t.Fatal("the XSSProbe alert was not investigated")
		}
		for _, p := range []string{"/runbooks?alertname=" + xssScript, "/incidents", fmt.Sprintf("/investigations/%d", invID)} {
			e.run(t, chromedp.Navigate(e.base+p), chromedp.WaitReady(chromedp.CSS(`main`)))
			if n := e.count(t, `img`); n != 0 {
				t.Errorf("%s: %d img elements were injected", p, n)
			}
			if n := e.count(t, `script`); n != 1 {
				t.Errorf("%s: %d script elements, want only app.js", p, n)
			}
			body := e.text(t, `main`)
			if p != "/incidents" && !strings.Contains(body, `<script>alert("label")</script>`) && !strings.Contains(body, xssImg) {
				t.Errorf("%s does not show the hostile labels as text", p)
			}
		}
		e.screenshot(t, "hostile-labels.png")
		if n := e.dialog.Load(); n != 0 {
			t.Errorf("%d JavaScript dialogs opened", n)
		}
	})

	t.Run("runbooks and health", func(t *testing.T) {
		e.run(t, chromedp.Navigate(e.base+"/runbooks"),
			chromedp.SendKeys(chromedp.ID(`rb-alertname`), "KubePodCrashLooping"),
			chromedp.Submit(chromedp.ID(`rb-alertname`)),
			chromedp.WaitVisible(chromedp.ID(`match-result`)))
		res := e.text(t, `#match-result`)
		if !strings.Contains(res, "match") || strings.Contains(res, "No runbook matches") {
			t.Errorf("runbook tester: %q", res)
		}
		e.screenshot(t, "runbooks.png")
		e.run(t, chromedp.Navigate(e.base+"/health"), chromedp.WaitVisible(chromedp.CSS(`table.health`)))
		health := e.text(t, `table.health`)
		for _, want := range []string{"store", "queue", "model (llm.url)", "not configured"} {
			if !strings.Contains(health, want) {
				t.Errorf("health page lacks %q: %s", want, health)
			}
		}
		e.screenshot(t, "health.png")
	})

	// Last: /api/chat comes from the HolmesGPT-compatible API work.
	t.Run("chat round-trips against a scripted model", func(t *testing.T) {
		if code, _ := e.api("POST", "/api/chat", `{"ask":"ping"}`); code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
			t.Skipf("POST /api/chat is not served yet (HTTP %d)", code)
		}
		e.run(t, chromedp.Navigate(e.base+"/chat?investigation=1"),
			chromedp.WaitVisible(chromedp.ID(`chat-context`)),
			chromedp.SendKeys(chromedp.ID(`chat-ask`), "Why does checkout crash?"),
			chromedp.Click(chromedp.ID(`chat-send`)),
			chromedp.WaitVisible(chromedp.CSS(`#chat-log li.role-assistant, #chat-log li.role-error`)))
		answer := e.text(t, `#chat-log`)
		if strings.Contains(answer, "No model is configured") {
			// The page and /api/chat round-tripped, but the chat API has no
			// model behind it yet (the LLM loop is wired separately).
			t.Skipf("/api/chat answers without a model: %q", answer)
		}
		if !strings.Contains(answer, "leaks memory after revision 7") {
			t.Errorf("chat log = %q, want the scripted model's answer", answer)
		}
		e.screenshot(t, "chat.png")
		// A second question carries the history the first answer returned.
		e.run(t, chromedp.SendKeys(chromedp.ID(`chat-ask`), "And the fix?"), chromedp.Click(chromedp.ID(`chat-send`)),
			chromedp.WaitVisible(chromedp.CSS(`#chat-log li.role-assistant:nth-of-type(4), #chat-log li.role-error`)))
		if n := e.count(t, `#chat-log li.role-error`); n != 0 {
			t.Errorf("chat failed: %s", e.text(t, `#chat-log`))
		}
	})
}
