package ui_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/server"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/telemetry"
	"github.com/sleuth-sre/sleuth/internal/ui"
)

const apiToken = "s3cret-api-token"

type env struct {
	srv *httptest.Server
	ui  *ui.UI
}

// newEnv serves the pages and the API over a seeded store.
func newEnv(t *testing.T, token string) *env {
	t.Helper()
	path := dbPath(t)
	seed(t, path)
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ingest(t, st, alertStart.Add(10*time.Minute), xssAlert())
	cfg := config.Default()
	cfg.Auth.APIToken = token
	cfg.UI.GrafanaURL = "http://127.0.0.1:3000"
	cfg.UI.GrafanaDatasource = "vm"
	set, errs := runbook.Builtin()
	log := slog.New(slog.DiscardHandler)
	now := func() time.Time { return alertStart.Add(15 * time.Minute) }
	u, err := ui.New(ui.Options{Store: st, Config: cfg, Runbooks: set, RunbookErrors: append(errs, runbook.LoadError{File: "/etc/sleuth/runbooks/bad.yaml", Line: 3, Msg: "unknown key " + xssScript}), Log: log, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Store: st, Config: cfg, Log: log, Metrics: telemetry.New(), Now: now, Pages: u.Register, SessionAuth: u.APIRequest})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &env{srv: ts, ui: u}
}

// client returns a browser-like client: cookies kept, redirects not followed.
func (e *env) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// login logs c in through the form and returns the page's CSRF token.
func (e *env) login(t *testing.T, c *http.Client) string {
	t.Helper()
	_, body := get(t, c, e.srv.URL+"/login")
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("login page has no CSRF token:\n%s", body)
	}
	resp, err := c.PostForm(e.srv.URL+"/login", url.Values{"csrf": {m[1]}, "token": {apiToken}, "next": {"/incidents"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/incidents" {
		t.Fatalf("login = %d to %q, want 303 to /incidents", resp.StatusCode, resp.Header.Get("Location"))
	}
	return m[1]
}

func TestLoginSessionAndHeaders(t *testing.T) {
	e := newEnv(t, apiToken)
	c := e.client(t)

	resp, _ := get(t, c, e.srv.URL+"/investigations/1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Finvestigations%2F1" {
		t.Fatalf("page without a session = %d to %q, want a redirect to the login", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = get(t, c, e.srv.URL+"/ui/rows")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("rows without a session = %d, want 401", resp.StatusCode)
	}

	// The login form itself is CSRF-protected.
	resp, err := c.PostForm(e.srv.URL+"/login", url.Values{"token": {apiToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without the CSRF token = %d, want 403", resp.StatusCode)
	}

	_, body := get(t, c, e.srv.URL+"/login")
	tok := csrfMeta.FindStringSubmatch(body)[1]
	resp, err = c.PostForm(e.srv.URL+"/login", url.Values{"csrf": {tok}, "token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a wrong token = %d, want 401", resp.StatusCode)
	}

	req, _ := http.NewRequest("POST", e.srv.URL+"/login", strings.NewReader(url.Values{"csrf": {tok}, "token": {apiToken}, "next": {"//evil.example.com/x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/incidents" {
		t.Errorf("login with next=//evil.example.com redirects to %q, want /incidents", loc)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "sleuth_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("login set no session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || !session.Secure {
		t.Errorf("session cookie HttpOnly=%v SameSite=%v Secure=%v, want HttpOnly, Strict, Secure behind TLS", session.HttpOnly, session.SameSite, session.Secure)
	}

	// A fresh client logs in over plain HTTP and reads pages.
	c = e.client(t)
	e.login(t, c)
	resp, body = get(t, c, e.srv.URL+"/incidents")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("incidents after login = %d", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	if regexp.MustCompile(`<script>|<script [^s]|style=`).MatchString(body) {
		t.Errorf("page has inline script or style:\n%s", body)
	}
	// The API accepts the session for reads.
	resp, _ = get(t, c, e.srv.URL+"/api/incidents")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("API with a page session = %d, want 200", resp.StatusCode)
	}
}

// A state-changing API request carried by the session cookie alone could
// come from any site: it needs the page's CSRF token.
func TestAPIRequestNeedsCSRF(t *testing.T) {
	e := newEnv(t, apiToken)
	c := e.client(t)
	tok := e.login(t, c)
	u, _ := url.Parse(e.srv.URL)
	cookies := c.Jar.Cookies(u)
	f := func(name string, want bool, edit func(r *http.Request)) {
		t.Helper()
		r := httptest.NewRequest("POST", e.srv.URL+"/api/chat", strings.NewReader(`{"ask":"hi"}`))
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		edit(r)
		if got := e.ui.APIRequest(r); got != want {
			t.Errorf("%s: APIRequest = %v, want %v", name, got, want)
		}
	}
	f("with the token", true, func(r *http.Request) { r.Header.Set("X-CSRF-Token", tok) })
	f("without the token", false, func(r *http.Request) {})
	f("with a wrong token", false, func(r *http.Request) { r.Header.Set("X-CSRF-Token", tok+"x") })
	f("cross-site", false, func(r *http.Request) { r.Header.Set("X-CSRF-Token", tok); r.Header.Set("Sec-Fetch-Site", "cross-site") })
	f("no session", false, func(r *http.Request) {
		r.Header.Del("Cookie")
		r.Header.Set("X-CSRF-Token", tok)
	})
}

func TestInvestigationPage(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t)
	resp, body := get(t, c, e.srv.URL+"/investigations/1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("investigation page = %d:\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`<span class="badge cat big">oom-killed</span>`,
		`<strong class="object">Deployment/shop/checkout</strong>`,
		`<li class="first">Raise the memory limit`,
		// Charts: a line per series, the limit and the alert's start.
		`<polyline class="series s0"`, `<polyline class="series s1"`, `class="limit"`, `>limit 256 MiB</text>`, `>limit 500m</text>`,
		`class="alert-start"`, `>alert</text>`,
		// Explore links carry the query.
		`http://127.0.0.1:3000/explore?schemaVersion=1&amp;orgId=1&amp;panes=`,
		// Logs, timeline, tool calls, unchecked, conversation.
		`<code class="log">java.lang.OutOfMemoryError: Java heap space</code>`, `>312</td>`,
		`revision 7 rolled out`, `<li id="call-4" class="call status-error">`, `the server could not find the requested resource`,
		`execute_prometheus_range_query(`, `a leak in 1.8.0 &lt;script&gt;`,
		`href="http://vmalert.monitoring.svc:8880/vmalert/alert?group_id=1&amp;alert_id=2"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("investigation page lacks %q", want)
		}
	}
	if n := strings.Count(body, `<figure class="chart"`); n != 2 {
		t.Errorf("%d charts, want 2 (memory with two series, CPU)", n)
	}
}

// Alert labels, annotations and generator URLs are the sender's: they are
// text on every page, never markup or a script URL.
func TestUntrustedTextIsEscaped(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t)
	for _, path := range []string{"/incidents", "/ui/rows", "/incidents/3", "/runbooks?alertname=" + url.QueryEscape(xssScript) + "&labels=" + url.QueryEscape("pod="+xssImg)} {
		_, body := get(t, c, e.srv.URL+path)
		for _, bad := range []string{`<script>alert`, `<img src=x`, `href="javascript:`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
	_, body := get(t, c, e.srv.URL+"/incidents/3")
	if !strings.Contains(body, `&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;`) || !strings.Contains(body, `&#34;&gt;&lt;img src=x onerror=alert(2)&gt;`) {
		t.Errorf("incident page does not show the labels as text:\n%s", body)
	}
	if !strings.Contains(body, `href="#ZgotmplZ"`) {
		t.Errorf("a javascript: generator URL was not neutralised")
	}
	_, body = get(t, c, e.srv.URL+"/runbooks")
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "unknown key &lt;script&gt;") {
		t.Errorf("runbooks page does not show a load error as text")
	}
}

func TestIncidentsListFilters(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t)
	count := func(path string) int {
		_, body := get(t, c, e.srv.URL+path)
		return strings.Count(body, `<tr class="incident"`)
	}
	f := func(query string, want int) {
		t.Helper()
		if got := count("/ui/rows?" + query); got != want {
			t.Errorf("rows?%s: %d incidents, want %d", query, got, want)
		}
	}
	f("", 3)
	f("category=oom-killed", 1)
	f("severity=warning", 2)
	f("namespace=payments", 1)
	f("q=checkout", 1)
	f("state=resolved", 0)
	if got := count("/incidents?severity=critical"); got != 1 {
		t.Errorf("incidents page filtered by severity: %d rows, want 1", got)
	}
}

func TestRunbookTester(t *testing.T) {
	e := newEnv(t, "")
	c := e.client(t)
	_, body := get(t, c, e.srv.URL+"/runbooks?alertname=KubePodCrashLooping&labels="+url.QueryEscape("namespace=shop\nseverity=critical"))
	res := body[strings.Index(body, `<div id="match-result">`):]
	if !strings.Contains(res, "runbook(s) match") {
		t.Errorf("no builtin runbook matches KubePodCrashLooping:\n%s", res)
	}
	_, body = get(t, c, e.srv.URL+"/runbooks?alertname=NoSuchAlertAnywhere")
	if !strings.Contains(body, "No runbook matches.") {
		t.Errorf("an unknown alert matched runbooks")
	}
	_, body = get(t, c, e.srv.URL+"/runbooks?labels=justaword")
	if !strings.Contains(body, "want name=value") {
		t.Errorf("a malformed label was not reported")
	}
}

func TestHealthPage(t *testing.T) {
	e := newEnv(t, "")
	_, body := get(t, e.client(t), e.srv.URL+"/health")
	for _, want := range []string{"accepts writes", "2 queued", "open incidents"} {
		if !strings.Contains(body, want) {
			t.Errorf("health page lacks %q", want)
		}
	}
}
