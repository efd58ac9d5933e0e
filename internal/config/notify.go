package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// UI configures the web pages sleuth serves.
type UI struct {
	// Enabled serves the pages; the API is served either way.
	Enabled bool `yaml:"enabled"`
	// ExternalURL is the address people reach sleuth at, such as
	// https://sleuth.example.com; notifications link to it. Empty: links
	// are left out of notifications.
	ExternalURL string `yaml:"external_url"`
	// GrafanaURL is the Grafana that Explore links point at; empty: no links.
	GrafanaURL string `yaml:"grafana_url"`
	// GrafanaDatasource and GrafanaLogsDatasource are the UIDs of the
	// metrics and logs datasources Explore links open.
	GrafanaDatasource     string `yaml:"grafana_datasource"`
	GrafanaLogsDatasource string `yaml:"grafana_logs_datasource"`
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// Refresh is how often open pages look for changes.
	Refresh time.Duration `yaml:"refresh"`
}

// Notify configures where finished investigations are announced. Every
// sink is off until its address is set.
type Notify struct {
	// QueueSize bounds the messages waiting to be sent; when it is full new
	// messages are dropped and counted, so a dead sink never holds back
	// investigations.
	QueueSize int `yaml:"queue_size"`
	// MaxAttempts bounds the sends of one message to one sink.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBackoff is the wait before the first retry; it doubles.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// Timeout bounds one request to a sink.
	Timeout time.Duration `yaml:"timeout"`

	Slack      Slack      `yaml:"slack"`
	Telegram   Telegram   `yaml:"telegram"`
	Mattermost Mattermost `yaml:"mattermost"`
	Webhook    Webhook    `yaml:"webhook"`
	Grafana    Grafana    `yaml:"grafana"`
}

// Route selects the incidents a sink is told about and how often it may
// be written to. Empty lists match everything.
type Route struct {
	Severities []string `yaml:"severities"`
	Namespaces []string `yaml:"namespaces"`
	// Categories are root-cause categories (oom-killed, crash-loop, ...).
	Categories []string `yaml:"categories"`
	// RateLimit is the most messages per minute the sink gets; more wait.
	RateLimit int `yaml:"rate_limit"`
}

// Slack posts to an incoming webhook, or with a bot token to a channel
// through chat.postMessage, which alone can reply in a thread.
type Slack struct {
	WebhookURL     string `yaml:"webhook_url"`
	WebhookURLFile string `yaml:"webhook_url_file"`
	WebhookURLEnv  string `yaml:"webhook_url_env"`
	BotToken       string `yaml:"bot_token"`
	BotTokenFile   string `yaml:"bot_token_file"`
	BotTokenEnv    string `yaml:"bot_token_env"`
	// Channel is the channel ID bot token mode posts to.
	Channel string `yaml:"channel"`
	// APIURL is Slack's Web API base.
	APIURL string `yaml:"api_url"`
	Route  Route  `yaml:"route"`
}

// Telegram sends through the Bot API's sendMessage.
type Telegram struct {
	BotToken     string `yaml:"bot_token"`
	BotTokenFile string `yaml:"bot_token_file"`
	BotTokenEnv  string `yaml:"bot_token_env"`
	// ChatID is the chat, group or channel (-100...) to write to.
	ChatID string `yaml:"chat_id"`
	// APIURL is the Bot API base (a self-hosted Bot API server has its own).
	APIURL string `yaml:"api_url"`
	Route  Route  `yaml:"route"`
}

// Mattermost posts to an incoming webhook.
type Mattermost struct {
	WebhookURL     string `yaml:"webhook_url"`
	WebhookURLFile string `yaml:"webhook_url_file"`
	WebhookURLEnv  string `yaml:"webhook_url_env"`
	// Channel overrides the webhook's channel, when the webhook allows it.
	Channel string `yaml:"channel"`
	Route   Route  `yaml:"route"`
}

// Webhook posts sleuth's own JSON to any URL.
type Webhook struct {
	URL     string `yaml:"url"`
	URLFile string `yaml:"url_file"`
	URLEnv  string `yaml:"url_env"`
	// Token, when set, is sent as Authorization: Bearer.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	TokenEnv  string `yaml:"token_env"`
	Route     Route  `yaml:"route"`
}

// Grafana adds annotations (POST /api/annotations) for investigations,
// on one dashboard or, with no dashboard, on the organisation.
type Grafana struct {
	URL string `yaml:"url"`
	// Token is a service account token with annotation write access.
	Token        string   `yaml:"token"`
	TokenFile    string   `yaml:"token_file"`
	TokenEnv     string   `yaml:"token_env"`
	DashboardUID string   `yaml:"dashboard_uid"`
	Tags         []string `yaml:"tags"`
	Route        Route    `yaml:"route"`
}

func defaultUI() UI {
	return UI{Enabled: true, SessionTTL: 12 * time.Hour, Refresh: 5 * time.Second}
}

func defaultNotify() Notify {
	// Slack takes about one message per second per webhook and Telegram
	// twenty per minute per group: 20 per minute stays under both.
	r := Route{RateLimit: 20}
	return Notify{
		QueueSize: 1000, MaxAttempts: 5, RetryBackoff: 2 * time.Second, Timeout: 10 * time.Second,
		Slack:      Slack{APIURL: "https://slack.com/api", Route: r},
		Telegram:   Telegram{APIURL: "https://api.telegram.org", Route: r},
		Mattermost: Mattermost{Route: r},
		Webhook:    Webhook{Route: r},
		Grafana:    Grafana{Tags: []string{"sleuth"}, Route: r},
	}
}

// ResolveSecret returns a secret given as a file, an environment variable
// or a value, the first of them that is set. The value may itself be
// "file:PATH" or "env:NAME", as llm.api_key takes it. A file's surrounding
// whitespace (the newline of a mounted Secret) is dropped. It reads the
// file when called, so a rotated Secret is picked up by the next caller.
func ResolveSecret(value, file, env string) (string, error) {
	if file == "" && env == "" {
		if p, ok := strings.CutPrefix(value, "file:"); ok {
			file = p
		} else if e, ok := strings.CutPrefix(value, "env:"); ok {
			env = e
		}
	}
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return v, nil
	}
	return value, nil
}

func (c *Config) validateUI(bad func(key, format string, args ...any)) {
	u := c.UI
	if u.ExternalURL != "" && !httpURL(u.ExternalURL) {
		bad("ui.external_url", "want an http(s) URL, got %q", u.ExternalURL)
	}
	if u.GrafanaURL != "" && !httpURL(u.GrafanaURL) {
		bad("ui.grafana_url", "want an http(s) URL, got %q", u.GrafanaURL)
	}
	if u.SessionTTL < time.Minute {
		bad("ui.session_ttl", "must be at least 1m, got %v", u.SessionTTL)
	}
	if u.Refresh < time.Second {
		bad("ui.refresh", "must be at least 1s, got %v", u.Refresh)
	}
}

func (c *Config) validateNotify(bad func(key, format string, args ...any)) {
	n := c.Notify
	if n.QueueSize < 1 {
		bad("notify.queue_size", "must be at least 1, got %d", n.QueueSize)
	}
	if n.MaxAttempts < 1 {
		bad("notify.max_attempts", "must be at least 1, got %d", n.MaxAttempts)
	}
	if n.RetryBackoff <= 0 {
		bad("notify.retry_backoff", "must be positive")
	}
	if n.Timeout <= 0 {
		bad("notify.timeout", "must be positive")
	}
	// Secrets are read when the sinks start, not here: Validate checks
	// the configuration, not the files it points at.
	secret := func(_, v, f, e string) bool { return v != "" || f != "" || e != "" }
	route := func(key string, r Route) {
		if r.RateLimit < 0 {
			bad(key+".route.rate_limit", "must not be negative, got %d", r.RateLimit)
		}
	}
	s := n.Slack
	// With both a webhook and a bot token, the bot token is used: only it
	// can reply in a thread.
	if secret("notify.slack.bot_token", s.BotToken, s.BotTokenFile, s.BotTokenEnv) && s.Channel == "" {
		bad("notify.slack.channel", "bot token mode needs the channel ID to post to")
	}
	if !httpURL(s.APIURL) {
		bad("notify.slack.api_url", "want an http(s) URL, got %q", s.APIURL)
	}
	route("notify.slack", s.Route)
	t := n.Telegram
	if secret("notify.telegram.bot_token", t.BotToken, t.BotTokenFile, t.BotTokenEnv) && t.ChatID == "" {
		bad("notify.telegram.chat_id", "needed with a bot token")
	}
	if !httpURL(t.APIURL) {
		bad("notify.telegram.api_url", "want an http(s) URL, got %q", t.APIURL)
	}
	route("notify.telegram", t.Route)
	route("notify.mattermost", n.Mattermost.Route)
	route("notify.webhook", n.Webhook.Route)
	g := n.Grafana
	if g.URL != "" && !httpURL(g.URL) {
		bad("notify.grafana.url", "want an http(s) URL, got %q", g.URL)
	}
	if secret("notify.grafana.token", g.Token, g.TokenFile, g.TokenEnv) && g.URL == "" {
		bad("notify.grafana.url", "needed with a token")
	}
	route("notify.grafana", g.Route)
}

func httpURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}
