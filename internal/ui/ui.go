// Package ui provides sleuth's web pages: the incidents list, the
// investigation report with its charts and evidence, a chat page over
// /api/chat, the runbooks and the health of what sleuth depends on. Pages
// are rendered on the server with html/template from files embedded in the
// binary; the little JavaScript there is (live list, chat) is an embedded
// file too, so a strict Content-Security-Policy holds and nothing is
// fetched from outside.
//
// Everything shown that came from outside - alert labels, log lines, model
// output - is rendered as text by html/template; the package never marks
// such data as safe HTML.
package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Check is the state of one thing sleuth depends on, for the health page.
type Check struct {
	// Group is what kind of thing it is: backend, store, queue, llm, notify.
	Group  string
	Name   string
	OK     bool
	Status string // "ok", "not configured", "failing", ...
	Detail string
	// Latency is how long the check took; zero when not measured.
	Latency time.Duration
}

// Options are the collaborators of the pages.
type Options struct {
	Store store.Store
	// Config gives the API token (the login secret) and the ui keys.
	Config config.Config
	// Runbooks are the loaded runbooks; RunbookErrors the files that failed.
	Runbooks      *runbook.Set
	RunbookErrors []runbook.LoadError
	// Health returns the checks the health page shows (backends, LLM,
	// notification sinks). Store and queue are checked here.
	Health func(ctx context.Context) []Check
	Log    *slog.Logger
	Now    func() time.Time
}

// UI serves the pages.
type UI struct {
	o     Options
	token string
	// key signs sessions and CSRF tokens. It is derived from the API token,
	// so sessions survive a restart and end when the token changes; with
	// no token it is random per process.
	key   []byte
	pages map[string]*template.Template
	cop   *http.CrossOriginProtection
}

// Cookie names.
const (
	sessionCookie = "sleuth_session"
	csrfCookie    = "sleuth_csrf"
	csrfHeader    = "X-CSRF-Token"
	csrfField     = "csrf"
)

// csp allows only the binary's own scripts, styles and images: no inline
// script or style, no third party, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// New parses the embedded templates.
func New(o Options) (*UI, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	u := &UI{o: o, token: o.Config.Auth.APIToken, pages: map[string]*template.Template{}, cop: http.NewCrossOriginProtection()}
	if u.token != "" {
		m := hmac.New(sha256.New, []byte(u.token))
		m.Write([]byte("sleuth ui session key v1"))
		u.key = m.Sum(nil)
	} else {
		u.key = make([]byte, 32)
		if _, err := rand.Read(u.key); err != nil {
			return nil, err
		}
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", n, err)
		}
		u.pages[name] = t
	}
	return u, nil
}

// Register adds the pages' routes to mux.
func (u *UI) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", u.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Files are embedded: they change only with the binary.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	})))
	mux.Handle("GET /{$}", u.secure(http.RedirectHandler("/incidents", http.StatusSeeOther)))
	mux.Handle("GET /login", u.secure(http.HandlerFunc(u.loginPage)))
	mux.Handle("POST /login", u.secure(u.csrf(http.HandlerFunc(u.login))))
	mux.Handle("POST /logout", u.secure(u.csrf(http.HandlerFunc(u.logout))))
	page := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, u.secure(u.authed(h)))
	}
	page("GET /incidents", u.incidentsPage)
	page("GET /incidents/{id}", u.incidentPage)
	page("GET /investigations/{id}", u.investigationPage)
	page("GET /chat", u.chatPage)
	page("GET /runbooks", u.runbooksPage)
	page("GET /health", u.healthPage)
	page("GET /ui/rows", u.incidentRows)
	page("GET /ui/investigations/{id}/state", u.investigationState)
}

// secure sets the headers every page answer carries.
func (u *UI) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if r.URL.Path != "/static/" && !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// authed lets through requests with a valid session, and sends the others
// to the login page. Without an API token there is nothing to log in with:
// the configuration only allows that on a loopback address or when the
// operator said the network is trusted.
func (u *UI) authed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.token == "" || u.validSession(r) {
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/ui/") {
			http.Error(w, "session expired: log in again", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

// csrf rejects a state-changing request that did not come from one of our
// pages: it must be same-origin by the browser's own headers and carry the
// token that only our pages know.
func (u *UI) csrf(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := u.checkCSRF(r, true); err != nil {
			u.o.Log.Warn("ui: request rejected", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (u *UI) checkCSRF(r *http.Request, allowForm bool) error {
	if err := u.cop.Check(r); err != nil {
		return err
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return errors.New("missing CSRF cookie: reload the page")
	}
	got := r.Header.Get(csrfHeader)
	if got == "" && allowForm {
		got = r.PostFormValue(csrfField)
	}
	if got == "" || !hmac.Equal([]byte(got), []byte(u.csrfToken(c.Value))) {
		return errors.New("invalid CSRF token: reload the page")
	}
	return nil
}

// APIRequest reports whether an API request is authenticated by a page
// session: the chat page calls /api/chat with the session cookie instead
// of the token, which its JavaScript never sees. A state-changing request
// must pass the CSRF check too, or any site could post with the cookie.
func (u *UI) APIRequest(r *http.Request) bool {
	if u.token == "" || !u.validSession(r) {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return u.checkCSRF(r, false) == nil
}

func (u *UI) mac(parts ...string) string {
	m := hmac.New(sha256.New, u.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (u *UI) csrfToken(cookie string) string { return u.mac("csrf", cookie) }

// newSession returns a session value: expiry, a random nonce and their MAC.
func (u *UI) newSession() string {
	exp := strconv.FormatInt(u.o.Now().Add(u.o.Config.UI.SessionTTL).Unix(), 10)
	nonce := randomString()
	return exp + "." + nonce + "." + u.mac("session", exp, nonce)
}

func (u *UI) validSession(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	exp, rest, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	nonce, sig, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(u.mac("session", exp, nonce))) {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && u.o.Now().Unix() < t
}

func randomString() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// secureCookie says whether cookies get the Secure flag: when the request
// came over TLS, to sleuth or to the proxy in front of it.
func secureCookie(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// ensureCSRF returns the CSRF token for the page being rendered, setting
// the cookie it is bound to if the browser has none yet.
func (u *UI) ensureCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && c.Value != "" {
		return u.csrfToken(c.Value)
	}
	v := randomString()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: secureCookie(r), SameSite: http.SameSiteStrictMode})
	return u.csrfToken(v)
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if u.token == "" {
		http.Redirect(w, r, "/incidents", http.StatusSeeOther)
		return
	}
	u.render(w, r, "login", "Log in", loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

type loginView struct {
	Next  string
	Error string
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	if u.token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(u.token)) {
		u.o.Log.Warn("ui: failed login", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusUnauthorized)
		u.render(w, r, "login", "Log in", loginView{Next: next, Error: "That is not the API token."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: u.newSession(), Path: "/", MaxAge: int(u.o.Config.UI.SessionTTL.Seconds()),
		HttpOnly: true, Secure: secureCookie(r), SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secureCookie(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site: a path, never "//host"
// or a scheme, which would make the login form an open redirect.
func safeNext(n string) string {
	if n == "" || !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/\\") || strings.ContainsAny(n, "\r\n") {
		return "/incidents"
	}
	return n
}

// layoutView is what the layout needs besides the page's own data.
type layoutView struct {
	Title    string
	Nav      string
	CSRF     string
	LoggedIn bool
	Refresh  int // milliseconds
	Page     any
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	t, ok := u.pages[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	v := layoutView{Title: title, Nav: name, CSRF: u.ensureCSRF(w, r), LoggedIn: u.token != "" && u.validSession(r),
		Refresh: int(u.o.Config.UI.Refresh.Milliseconds()), Page: data}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := t.ExecuteTemplate(w, "layout.html", v); err != nil {
		u.o.Log.Error("ui: render", "page", name, "err", err)
	}
}

// fragment renders one named template of a page alone (the list's rows).
func (u *UI) fragment(w http.ResponseWriter, page, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := u.pages[page].ExecuteTemplate(w, name, data); err != nil {
		u.o.Log.Error("ui: render fragment", "page", page, "err", err)
	}
}
