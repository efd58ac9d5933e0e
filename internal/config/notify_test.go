package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/config"
)

func TestValidateUIAndNotify(t *testing.T) {
	f := func(name string, change func(c *config.Config), want ...string) {
		t.Helper()
		c := config.Default()
		change(&c)
		err := c.Validate()
		if len(want) == 0 {
			if err != nil {
				t.Errorf("%s: Validate = %v, want nil", name, err)
			}
			return
		}
		if err == nil {
			t.Errorf("%s: Validate = nil, want an error containing %q", name, want)
			return
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Validate = %q, want it to contain %q", name, err, w)
			}
		}
	}
	f("external url", func(c *config.Config) { c.UI.ExternalURL = "https://sleuth.example.com" })
	f("bad external url", func(c *config.Config) { c.UI.ExternalURL = "sleuth.example.com" }, "ui.external_url")
	f("bad grafana url", func(c *config.Config) { c.UI.GrafanaURL = "grafana:3000" }, "ui.grafana_url")
	f("short session", func(c *config.Config) { c.UI.SessionTTL = time.Second }, "ui.session_ttl")
	f("fast refresh", func(c *config.Config) { c.UI.Refresh = 100 * time.Millisecond }, "ui.refresh")
	f("zero queue", func(c *config.Config) { c.Notify.QueueSize = 0 }, "notify.queue_size")
	f("zero attempts", func(c *config.Config) { c.Notify.MaxAttempts = 0 }, "notify.max_attempts")
	f("zero backoff", func(c *config.Config) { c.Notify.RetryBackoff = 0 }, "notify.retry_backoff")
	f("zero timeout", func(c *config.Config) { c.Notify.Timeout = 0 }, "notify.timeout")
	f("slack webhook", func(c *config.Config) { c.Notify.Slack.WebhookURLFile = "/etc/sleuth/slack" })
	f("slack bot without channel", func(c *config.Config) { c.Notify.Slack.BotTokenEnv = "SLACK_BOT_TOKEN" }, "notify.slack.channel")
	f("slack bot with channel", func(c *config.Config) { c.Notify.Slack.BotTokenEnv, c.Notify.Slack.Channel = "SLACK_BOT_TOKEN", "C1" })
	f("bad slack api", func(c *config.Config) { c.Notify.Slack.APIURL = "slack.com/api" }, "notify.slack.api_url")
	f("telegram without chat", func(c *config.Config) { c.Notify.Telegram.BotTokenFile = "/etc/tg" }, "notify.telegram.chat_id")
	f("bad telegram api", func(c *config.Config) { c.Notify.Telegram.APIURL = "" }, "notify.telegram.api_url")
	f("grafana token without url", func(c *config.Config) { c.Notify.Grafana.TokenEnv = "GF" }, "notify.grafana.url")
	f("bad grafana annotation url", func(c *config.Config) { c.Notify.Grafana.URL = "ftp://grafana" }, "notify.grafana.url")
	f("negative rate", func(c *config.Config) { c.Notify.Webhook.Route.RateLimit = -1 }, "notify.webhook.route.rate_limit")
}

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLEUTH_TEST_SECRET", "from-env")
	f := func(value, fileKey, envKey, want string) {
		t.Helper()
		got, err := config.ResolveSecret(value, fileKey, envKey)
		if err != nil || got != want {
			t.Errorf("ResolveSecret(%q, %q, %q) = %q, %v; want %q", value, fileKey, envKey, got, err, want)
		}
	}
	f("plain", "", "", "plain")
	f("", file, "", "from-file")
	f("", "", "SLEUTH_TEST_SECRET", "from-env")
	f("file:"+file, "", "", "from-file")
	f("env:SLEUTH_TEST_SECRET", "", "", "from-env")
	// The file wins over the variable, which wins over the value.
	f("plain", file, "SLEUTH_TEST_SECRET", "from-file")
	f("plain", "", "SLEUTH_TEST_SECRET", "from-env")
	f("", "", "", "")

	for _, c := range [][3]string{{"", filepath.Join(dir, "missing"), ""}, {"", "", "SLEUTH_TEST_UNSET"}, {"env:SLEUTH_TEST_UNSET", "", ""}} {
		if _, err := config.ResolveSecret(c[0], c[1], c[2]); err == nil {
			t.Errorf("ResolveSecret(%q) = nil error, want one", c)
		}
	}
}
