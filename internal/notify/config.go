package notify

import (
	"fmt"
	"net/http"

	"github.com/sleuth-sre/sleuth/internal/config"
)

// Targets builds the sinks the configuration enables, reading their
// secrets from files or the environment now. A sink with no address is
// off; a secret that cannot be read is an error naming the key.
func Targets(cfg config.Notify) ([]Target, error) {
	client := &http.Client{Timeout: cfg.Timeout}
	route := func(r config.Route) Route {
		return Route{Severities: r.Severities, Namespaces: r.Namespaces, Categories: r.Categories, PerMinute: r.RateLimit}
	}
	secret := func(key, v, f, e string) (string, error) {
		s, err := config.ResolveSecret(v, f, e)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		return s, nil
	}
	var out []Target
	s := cfg.Slack
	hook, err := secret("notify.slack.webhook_url", s.WebhookURL, s.WebhookURLFile, s.WebhookURLEnv)
	if err != nil {
		return nil, err
	}
	bot, err := secret("notify.slack.bot_token", s.BotToken, s.BotTokenFile, s.BotTokenEnv)
	if err != nil {
		return nil, err
	}
	if hook != "" || bot != "" {
		out = append(out, Target{Sink: &Slack{WebhookURL: hook, BotToken: bot, Channel: s.Channel, APIURL: s.APIURL, Client: client}, Route: route(s.Route)})
	}
	t := cfg.Telegram
	tok, err := secret("notify.telegram.bot_token", t.BotToken, t.BotTokenFile, t.BotTokenEnv)
	if err != nil {
		return nil, err
	}
	if tok != "" {
		out = append(out, Target{Sink: &Telegram{BotToken: tok, ChatID: t.ChatID, APIURL: t.APIURL, Client: client}, Route: route(t.Route)})
	}
	m := cfg.Mattermost
	mm, err := secret("notify.mattermost.webhook_url", m.WebhookURL, m.WebhookURLFile, m.WebhookURLEnv)
	if err != nil {
		return nil, err
	}
	if mm != "" {
		out = append(out, Target{Sink: &Mattermost{WebhookURL: mm, Channel: m.Channel, Client: client}, Route: route(m.Route)})
	}
	w := cfg.Webhook
	wu, err := secret("notify.webhook.url", w.URL, w.URLFile, w.URLEnv)
	if err != nil {
		return nil, err
	}
	wt, err := secret("notify.webhook.token", w.Token, w.TokenFile, w.TokenEnv)
	if err != nil {
		return nil, err
	}
	if wu != "" {
		out = append(out, Target{Sink: &Webhook{URL: wu, Token: wt, Client: client}, Route: route(w.Route)})
	}
	g := cfg.Grafana
	gt, err := secret("notify.grafana.token", g.Token, g.TokenFile, g.TokenEnv)
	if err != nil {
		return nil, err
	}
	if g.URL != "" {
		out = append(out, Target{Sink: &Grafana{URL: g.URL, Token: gt, DashboardUID: g.DashboardUID, Tags: g.Tags, Client: client}, Route: route(g.Route)})
	}
	return out, nil
}
