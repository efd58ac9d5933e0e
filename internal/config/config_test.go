package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/config"
)

// writeConfig writes a config file into a test directory and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sleuth.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefault(t *testing.T) {
	want := config.Config{
		Listen:        "127.0.0.1:8080",
		Store:         "sqlite://./sleuth.db",
		Log:           config.Log{Format: "text", Level: "info"},
		Intake:        config.Intake{MaxBodyBytes: 4 << 20},
		Incidents:     config.Incidents{GroupBy: []string{"alertname", "namespace", "workload"}, Cooldown: 4 * time.Hour},
		Queue:         config.Queue{Workers: 4, Deadline: 5 * time.Minute, MaxAttempts: 3, RetryBackoff: 10 * time.Second},
		Prometheus:    config.Backend{Timeout: 30 * time.Second},
		VictoriaLogs:  config.Backend{Timeout: 30 * time.Second},
		Kubernetes:    config.Kubernetes{Enabled: true},
		Runbooks:      config.Runbooks{Builtin: true},
		Investigation: config.Investigation{LookBack: time.Hour},
		LLM:           config.LLM{ContextTokens: 8192, MaxOutputTokens: 1024, Timeout: 3 * time.Minute, MaxSteps: 10, Retries: 2},
		Server:        config.ServerConfig{ShutdownGrace: 30 * time.Second},
		UI:            config.UI{Enabled: true, SessionTTL: 12 * time.Hour, Refresh: 5 * time.Second},
		Notify: config.Notify{
			QueueSize: 1000, MaxAttempts: 5, RetryBackoff: 2 * time.Second, Timeout: 10 * time.Second,
			Slack:      config.Slack{APIURL: "https://slack.com/api", Route: config.Route{RateLimit: 20}},
			Telegram:   config.Telegram{APIURL: "https://api.telegram.org", Route: config.Route{RateLimit: 20}},
			Mattermost: config.Mattermost{Route: config.Route{RateLimit: 20}},
			Webhook:    config.Webhook{Route: config.Route{RateLimit: 20}},
			Grafana:    config.Grafana{Tags: []string{"sleuth"}, Route: config.Route{RateLimit: 20}},
		},
		Toolsets:      config.Toolsets{Timeout: 30 * time.Second, MaxOutputBytes: 16384, MemoryLimitBytes: 256 << 20},
		KnowledgeBase: config.KnowledgeBase{ReloadInterval: 30 * time.Second},
	}
	if diff := cmp.Diff(want, config.Default()); diff != "" {
		t.Errorf("Default() (-want +got):\n%s", diff)
	}
	// Default hands out a fresh slice: a caller appending to its group_by
	// must not change the next caller's defaults.
	d := config.Default()
	d.Incidents.GroupBy[0] = "changed"
	if got := config.Default().Incidents.GroupBy[0]; got != "alertname" {
		t.Errorf("Default() shares its group_by slice: got %q after a change", got)
	}
}

func TestLoadDefaults(t *testing.T) {
	f := func(name, path string) {
		t.Helper()
		got, err := config.Load(path, []string{"HOME=/root", "PATH=/usr/bin"})
		if err != nil {
			t.Fatalf("%s: Load: %v", name, err)
		}
		if diff := cmp.Diff(config.Default(), got); diff != "" {
			t.Errorf("%s: Load (-default +got):\n%s", name, diff)
		}
	}
	f("no file", "")
	f("empty file", writeConfig(t, ""))
	f("comments only", writeConfig(t, "# nothing set yet\n\n"))
	f("empty document", writeConfig(t, "---\n"))
	f("null sections", writeConfig(t, "auth:\nqueue:\n"))
}

func TestLoadFullFile(t *testing.T) {
	got, err := config.Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Config{
		Listen: "0.0.0.0:9095",
		Store:  "sqlite:///var/lib/sleuth/sleuth.db",
		Log:    config.Log{Format: "json", Level: "debug"},
		Auth: config.Auth{
			WebhookToken:         "wh-3f9c2a",
			WebhookUsername:      "alertmanager",
			WebhookPassword:      "s3cret",
			APIToken:             "api-7b1e44",
			AllowUnauthenticated: true,
		},
		Intake:        config.Intake{MaxBodyBytes: 1 << 20},
		Incidents:     config.Incidents{GroupBy: []string{"alertname", "namespace", "workload", "severity"}, Cooldown: 30 * time.Second},
		Queue:         config.Queue{Workers: 8, Deadline: 150 * time.Second, MaxAttempts: 5, RetryBackoff: time.Second},
		Prometheus:    config.Backend{URL: "http://vmsingle.monitoring.svc:8428", Timeout: time.Minute},
		VictoriaLogs:  config.Backend{URL: "http://vlogs.monitoring.svc:9428", Timeout: 45 * time.Second},
		Kubernetes:    config.Kubernetes{Enabled: false, Kubeconfig: "/etc/sleuth/kubeconfig", Context: "prod"},
		Runbooks:      config.Runbooks{Dirs: []string{"/etc/sleuth/runbooks"}, Builtin: false},
		Investigation: config.Investigation{LookBack: 2 * time.Hour},
		LLM:           config.LLM{URL: "http://ollama.ai.svc:11434/v1", Model: "qwen2.5:7b", APIKey: "file:/etc/sleuth/llm-key", ContextTokens: 4096, MaxOutputTokens: 768, Timeout: 10 * time.Minute, MaxSteps: 6, Retries: 1},
		Server:        config.ServerConfig{ShutdownGrace: time.Minute},
		UI: config.UI{Enabled: false, ExternalURL: "https://sleuth.example.com", GrafanaURL: "https://grafana.example.com",
			GrafanaDatasource: "vm", GrafanaLogsDatasource: "vl", SessionTTL: 8 * time.Hour, Refresh: 10 * time.Second},
		Notify: config.Notify{
			QueueSize: 50, MaxAttempts: 3, RetryBackoff: 5 * time.Second, Timeout: 20 * time.Second,
			Slack: config.Slack{WebhookURL: "env:SLACK_HOOK", WebhookURLFile: "/etc/sleuth/slack-webhook", WebhookURLEnv: "SLACK_WEBHOOK_URL",
				BotToken: "env:SLACK_BOT", BotTokenFile: "/etc/sleuth/slack-bot", BotTokenEnv: "SLACK_BOT_TOKEN", Channel: "C0123456",
				APIURL: "https://slack-proxy.example.com/api",
				Route:  config.Route{Severities: []string{"critical"}, Namespaces: []string{"shop"}, Categories: []string{"oom-killed"}, RateLimit: 10}},
			Telegram: config.Telegram{BotToken: "env:TG", BotTokenFile: "/etc/sleuth/tg", BotTokenEnv: "TELEGRAM_BOT_TOKEN", ChatID: "-1001234567890",
				APIURL: "https://tg-bot-api.example.com", Route: config.Route{Severities: []string{"critical", "warning"}, RateLimit: 15}},
			Mattermost: config.Mattermost{WebhookURL: "env:MM", WebhookURLFile: "/etc/sleuth/mm", WebhookURLEnv: "MM_WEBHOOK_URL", Channel: "town-square",
				Route: config.Route{Namespaces: []string{"payments"}, RateLimit: 5}},
			Webhook: config.Webhook{URL: "env:HOOK", URLFile: "/etc/sleuth/hook", URLEnv: "HOOK_URL", Token: "env:HOOK_TOKEN", TokenFile: "/etc/sleuth/hook-token",
				TokenEnv: "HOOK_BEARER", Route: config.Route{Categories: []string{"crash-loop"}, RateLimit: 60}},
			Grafana: config.Grafana{URL: "https://grafana.example.com", Token: "env:GF", TokenFile: "/etc/sleuth/grafana-token", TokenEnv: "GRAFANA_TOKEN",
				DashboardUID: "k8s-pods", Tags: []string{"sleuth", "incident"}, Route: config.Route{Severities: []string{"critical"}, RateLimit: 30}},
		},
		Toolsets: config.Toolsets{CustomFiles: []string{"/etc/sleuth/toolsets"}, Timeout: 20 * time.Second, MaxOutputBytes: 8192, MemoryLimitBytes: 128 << 20,
			Bash: config.Bash{Enabled: true, Allow: []string{"kubectl get", "grep"}, Deny: []string{"kubectl logs"}}},
		KnowledgeBase: config.KnowledgeBase{Dir: "/etc/sleuth/kb", ReloadInterval: time.Minute},
		Forward:       config.Forward{URL: "http://holmesgpt-holmes.holmesgpt.svc:80", APIKey: "env:HOLMES_API_KEY", Timeout: 4 * time.Minute},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// A partial file overrides only what it sets.
func TestLoadPartialFile(t *testing.T) {
	got, err := config.Load(writeConfig(t, "queue:\n  workers: 2\nincidents:\n  cooldown: 1h30m\n"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Default()
	want.Queue.Workers = 2
	want.Incidents.Cooldown = 90 * time.Minute
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// YAML anchors and aliases are resolved, and checked like any other value.
func TestLoadAliases(t *testing.T) {
	got, err := config.Load(writeConfig(t, "prometheus: &vm\n  url: http://vmsingle:8428\nvictorialogs: *vm\nqueue:\n  deadline: &d 90s\n  retry_backoff: *d\n"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Default()
	want.Prometheus.URL = "http://vmsingle:8428"
	want.VictoriaLogs.URL = "http://vmsingle:8428"
	want.Queue.Deadline = 90 * time.Second
	want.Queue.RetryBackoff = 90 * time.Second
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	_, err = config.Load(writeConfig(t, "prometheus: &vm\n  url: http://vmsingle:8428\n  urll: x\nvictorialogs: *vm\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "prometheus.urll") {
		t.Errorf("Load with an unknown key under an anchor = %v, want an error naming prometheus.urll", err)
	}
}

func TestLoadErrors(t *testing.T) {
	f := func(name, content string, want ...string) {
		t.Helper()
		path := writeConfig(t, content)
		_, err := config.Load(path, nil)
		if err == nil {
			t.Errorf("%s: Load(%q) = nil error, want one containing %q", name, content, want)
			return
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file %s", name, err, path)
		}
		for _, w := range want {
			w = strings.ReplaceAll(w, "FILE", path)
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", name, err, w)
			}
		}
	}

	f("unknown top-level key", "listen: 127.0.0.1:8080\nlisn: x\n", `FILE:2: unknown key "lisn"`)
	f("unknown nested key", "listen: 127.0.0.1:8080\nauth:\n  webhok_token: x\n", `FILE:3: unknown key "auth.webhok_token"`)
	f("unknown key in a later section", "log:\n  level: info\nqueue:\n  workers: 2\n  retries: 3\n", `FILE:5: unknown key "queue.retries"`)
	f("key with the Go field name", "queue:\n  MaxAttempts: 3\n", `FILE:2: unknown key "queue.MaxAttempts"`)
	f("key of a leaf used as a section", "prometheus:\n  url:\n    host: x\n", "FILE:3:", "prometheus.url")

	f("wrong type", "queue:\n  workers: many\n", "FILE:2:", "queue.workers", "many")
	f("duration without unit", "log:\n  level: info\nqueue:\n  deadline: 30\n", "FILE:4:", "queue.deadline")
	f("bad duration", "incidents:\n  cooldown: soon\n", "FILE:2:", "incidents.cooldown", "soon")
	f("list as a string", "incidents:\n  group_by: alertname\n", "FILE:2:", "incidents.group_by")
	f("section as a scalar", "auth: yes\n", "FILE:1:", `"auth"`)
	f("bool as a word", "auth:\n  allow_unauthenticated: sometimes\n", "FILE:2:", "auth.allow_unauthenticated")
	f("not YAML", "queue: {workers: 2\n", "FILE")
	f("top-level list", "- listen: x\n", "FILE")
	f("duplicate section", "log:\n  format: json\nlog:\n  level: debug\n", "FILE", "line 3")
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing file) = %v, want an error wrapping fs.ErrNotExist", err)
	}
}

func TestLoadEnvOverridesFile(t *testing.T) {
	path := writeConfig(t, `prometheus:
  url: http://file-prometheus:9090
auth:
  api_token: from-file
  webhook_token: from-file
queue:
  workers: 8
  max_attempts: 7
incidents:
  group_by: [alertname, namespace, workload, severity]
  cooldown: 1h
`)
	got, err := config.Load(path, []string{
		"SLEUTH_PROMETHEUS_URL=http://vmsingle:8428",
		"SLEUTH_AUTH_API_TOKEN=from-env",
		"SLEUTH_QUEUE_WORKERS=16",
		"SLEUTH_INCIDENTS_COOLDOWN=30m",
		"SLEUTH_INCIDENTS_GROUP_BY= alertname , namespace,",
		"SLEUTH_LOG_FORMAT=json",
		"SLEUTH_AUTH_ALLOW_UNAUTHENTICATED=true",
		"SLEUTH_LLM_URL=http://ollama:11434/v1=x", // only the first '=' separates
		// Not ours, or not a variable: ignored.
		"PROMETHEUS_URL=http://elsewhere:9090",
		"sleuth_queue_workers=1",
		"SLEUTH_QUEUE_DEADLINE",
		"SLEUTH_NO_SUCH_KEY=1",
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Default()
	want.Prometheus.URL = "http://vmsingle:8428"
	want.Auth.APIToken = "from-env"
	want.Auth.WebhookToken = "from-file"
	want.Auth.AllowUnauthenticated = true
	want.Queue.Workers = 16
	want.Queue.MaxAttempts = 7
	want.Incidents.GroupBy = []string{"alertname", "namespace"}
	want.Incidents.Cooldown = 30 * time.Minute
	want.Log.Format = "json"
	want.LLM.URL = "http://ollama:11434/v1=x"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// An empty variable is set, not ignored: it clears the key.
func TestLoadEnvEmpty(t *testing.T) {
	path := writeConfig(t, "auth:\n  api_token: from-file\n")
	got, err := config.Load(path, []string{"SLEUTH_AUTH_API_TOKEN="})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Auth.APIToken != "" {
		t.Errorf("auth.api_token = %q, want it cleared by SLEUTH_AUTH_API_TOKEN=", got.Auth.APIToken)
	}
}

func TestLoadEnvErrors(t *testing.T) {
	f := func(env []string, want ...string) {
		t.Helper()
		_, err := config.Load("", env)
		if err == nil {
			t.Errorf("Load(env %q) = nil error, want one containing %q", env, want)
			return
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load(env %q) = %q, want it to contain %q", env, err, w)
			}
		}
	}
	f([]string{"SLEUTH_QUEUE_WORKERS=many"}, "SLEUTH_QUEUE_WORKERS", "queue.workers", `"many"`)
	f([]string{"SLEUTH_QUEUE_WORKERS=4.5"}, "SLEUTH_QUEUE_WORKERS")
	f([]string{"SLEUTH_INCIDENTS_COOLDOWN=30"}, "SLEUTH_INCIDENTS_COOLDOWN", "incidents.cooldown", "missing unit")
	f([]string{"SLEUTH_QUEUE_DEADLINE=soon"}, "SLEUTH_QUEUE_DEADLINE", "queue.deadline")
	f([]string{"SLEUTH_AUTH_ALLOW_UNAUTHENTICATED=maybe"}, "SLEUTH_AUTH_ALLOW_UNAUTHENTICATED", "auth.allow_unauthenticated")
	f([]string{"SLEUTH_INTAKE_MAX_BODY_BYTES=4MiB"}, "SLEUTH_INTAKE_MAX_BODY_BYTES", "intake.max_body_bytes")
	// Every bad variable is reported, not only the first.
	f([]string{"SLEUTH_QUEUE_WORKERS=many", "SLEUTH_LOG_LEVEL=debug", "SLEUTH_SERVER_SHUTDOWN_GRACE=later"},
		"SLEUTH_QUEUE_WORKERS", "SLEUTH_SERVER_SHUTDOWN_GRACE")
}

func TestEnvName(t *testing.T) {
	f := func(path, want string) {
		t.Helper()
		if got := config.EnvName(path); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", path, got, want)
		}
	}
	f("listen", "SLEUTH_LISTEN")
	f("auth.api_token", "SLEUTH_AUTH_API_TOKEN")
	f("incidents.group_by", "SLEUTH_INCIDENTS_GROUP_BY")
	f("victorialogs.url", "SLEUTH_VICTORIALOGS_URL")
}

// keySamples sets every key to a value other than its default, once as YAML
// and once as an environment variable.
var keySamples = map[string]struct{ yaml, env string }{
	"listen":                     {"0.0.0.0:9095", "0.0.0.0:9095"},
	"store":                      {"sqlite:///tmp/s.db", "sqlite:///tmp/s.db"},
	"log.format":                 {"json", "json"},
	"log.level":                  {"debug", "debug"},
	"auth.webhook_token":         {"wt", "wt"},
	"auth.webhook_username":      {"am", "am"},
	"auth.webhook_password":      {"pw", "pw"},
	"auth.api_token":             {"at", "at"},
	"auth.allow_unauthenticated": {"true", "true"},
	"intake.max_body_bytes":      {"2048", "2048"},
	"incidents.group_by":         {"[alertname, severity]", "alertname,severity"},
	"incidents.cooldown":         {"15m", "15m"},
	"queue.workers":              {"9", "9"},
	"queue.deadline":             {"1m", "1m"},
	"queue.max_attempts":         {"6", "6"},
	"queue.retry_backoff":        {"2s", "2s"},
	"prometheus.url":             {"http://vm:8428", "http://vm:8428"},
	"victorialogs.url":           {"http://vl:9428", "http://vl:9428"},
	"llm.url":                    {"http://llm:8080/v1", "http://llm:8080/v1"},
	"prometheus.timeout":         {"1m", "1m"},
	"victorialogs.timeout":       {"45s", "45s"},
	"kubernetes.enabled":         {"false", "false"},
	"kubernetes.kubeconfig":      {"/etc/sleuth/kubeconfig", "/etc/sleuth/kubeconfig"},
	"kubernetes.context":         {"prod", "prod"},
	"runbooks.dirs":              {"[/etc/sleuth/runbooks, /app/holmes/plugins/runbooks]", "/etc/sleuth/runbooks,/app/holmes/plugins/runbooks"},
	"runbooks.builtin":           {"false", "false"},
	"investigation.lookback":     {"2h", "2h"},
	"llm.model":                  {"gpt-4o-mini", "gpt-4o-mini"},
	"llm.api_key":                {"sk-test", "sk-test"},
	"llm.context_tokens":         {"16384", "16384"},
	"llm.max_output_tokens":      {"2048", "2048"},
	"llm.timeout":                {"10m", "10m"},
	"llm.max_steps":              {"20", "20"},
	"llm.retries":                {"0", "0"},
	"server.shutdown_grace":      {"5s", "5s"},

	"ui.enabled":                 {"false", "false"},
	"ui.external_url":            {"https://sleuth.example.com", "https://sleuth.example.com"},
	"ui.grafana_url":             {"https://grafana.example.com", "https://grafana.example.com"},
	"ui.grafana_datasource":      {"vm", "vm"},
	"ui.grafana_logs_datasource": {"vl", "vl"},
	"ui.session_ttl":             {"1h", "1h"},
	"ui.refresh":                 {"30s", "30s"},
	"notify.queue_size":          {"10", "10"},
	"notify.max_attempts":        {"2", "2"},
	"notify.retry_backoff":       {"1s", "1s"},
	"notify.timeout":             {"3s", "3s"},

	"notify.slack.webhook_url":           {"https://hooks.example.com/T/B/x", "https://hooks.example.com/T/B/x"},
	"notify.slack.webhook_url_file":      {"/etc/sleuth/slack-webhook", "/etc/sleuth/slack-webhook"},
	"notify.slack.webhook_url_env":       {"SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_URL"},
	"notify.slack.bot_token":             {"env:SLACK_BOT", "env:SLACK_BOT"},
	"notify.slack.bot_token_file":        {"/etc/sleuth/slack-bot", "/etc/sleuth/slack-bot"},
	"notify.slack.bot_token_env":         {"SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"},
	"notify.slack.channel":               {"C0123456", "C0123456"},
	"notify.slack.api_url":               {"http://127.0.0.1:9/api", "http://127.0.0.1:9/api"},
	"notify.telegram.bot_token":          {"env:TG", "env:TG"},
	"notify.telegram.bot_token_file":     {"/etc/sleuth/tg", "/etc/sleuth/tg"},
	"notify.telegram.bot_token_env":      {"TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_TOKEN"},
	"notify.telegram.chat_id":            {"'-1001234567890'", "-1001234567890"},
	"notify.telegram.api_url":            {"http://127.0.0.1:9", "http://127.0.0.1:9"},
	"notify.mattermost.webhook_url":      {"https://mm.example.com/hooks/x", "https://mm.example.com/hooks/x"},
	"notify.mattermost.webhook_url_file": {"/etc/sleuth/mm", "/etc/sleuth/mm"},
	"notify.mattermost.webhook_url_env":  {"MM_WEBHOOK_URL", "MM_WEBHOOK_URL"},
	"notify.mattermost.channel":          {"town-square", "town-square"},
	"notify.webhook.url":                 {"https://hook.example.com/sleuth", "https://hook.example.com/sleuth"},
	"notify.webhook.url_file":            {"/etc/sleuth/hook", "/etc/sleuth/hook"},
	"notify.webhook.url_env":             {"HOOK_URL", "HOOK_URL"},
	"notify.webhook.token":               {"env:HOOK_TOKEN", "env:HOOK_TOKEN"},
	"notify.webhook.token_file":          {"/etc/sleuth/hook-token", "/etc/sleuth/hook-token"},
	"notify.webhook.token_env":           {"HOOK_BEARER", "HOOK_BEARER"},
	"notify.grafana.url":                 {"https://grafana.example.com", "https://grafana.example.com"},
	"notify.grafana.token":               {"env:GF", "env:GF"},
	"notify.grafana.token_file":          {"/etc/sleuth/grafana-token", "/etc/sleuth/grafana-token"},
	"notify.grafana.token_env":           {"GRAFANA_TOKEN", "GRAFANA_TOKEN"},
	"notify.grafana.dashboard_uid":       {"k8s-pods", "k8s-pods"},
	"notify.grafana.tags":                {"[sleuth, incident]", "sleuth,incident"},
	"toolsets.custom_files":              {"[/etc/sleuth/toolsets, /app/victorialogs-toolset.yaml]", "/etc/sleuth/toolsets,/app/victorialogs-toolset.yaml"},
	"toolsets.timeout":                   {"10s", "10s"},
	"toolsets.max_output_bytes":          {"4096", "4096"},
	"toolsets.memory_limit_bytes":        {"134217728", "134217728"},
	"toolsets.bash.enabled":              {"true", "true"},
	"toolsets.bash.allow":                {"[kubectl get, grep]", "kubectl get,grep"},
	"toolsets.bash.deny":                 {"[kubectl logs]", "kubectl logs"},
	"knowledge_base.dir":                 {"/etc/sleuth/kb", "/etc/sleuth/kb"},
	"knowledge_base.reload_interval":     {"1m", "1m"},
	"forward.url":                        {"http://holmesgpt-holmes.holmesgpt.svc:80", "http://holmesgpt-holmes.holmesgpt.svc:80"},
	"forward.api_key":                    {"env:HOLMES_KEY", "env:HOLMES_KEY"},
	"forward.timeout":                    {"4m", "4m"},
}

// routeSamples are the samples of every sink's route keys.
var routeSamples = map[string]struct{ yaml, env string }{
	"severities": {"[critical]", "critical"},
	"namespaces": {"[shop, payments]", "shop,payments"},
	"categories": {"[oom-killed]", "oom-killed"},
	"rate_limit": {"5", "5"},
}

func init() {
	for _, sink := range []string{"slack", "telegram", "mattermost", "webhook", "grafana"} {
		for k, v := range routeSamples {
			keySamples["notify."+sink+".route."+k] = v
		}
	}
}

func TestKeys(t *testing.T) {
	var paths []string
	for _, k := range config.Keys() {
		paths = append(paths, k.Path)
		if want := config.EnvName(k.Path); k.Env != want {
			t.Errorf("Keys(): %s has Env %q, want %q", k.Path, k.Env, want)
		}
	}
	// Declaration order; the configuration reference is generated from it.
	want := []string{
		"listen", "store",
		"log.format", "log.level",
		"auth.webhook_token", "auth.webhook_username", "auth.webhook_password", "auth.api_token", "auth.allow_unauthenticated",
		"intake.max_body_bytes",
		"incidents.group_by", "incidents.cooldown",
		"queue.workers", "queue.deadline", "queue.max_attempts", "queue.retry_backoff",
		"prometheus.url", "prometheus.timeout", "victorialogs.url", "victorialogs.timeout",
		"kubernetes.enabled", "kubernetes.kubeconfig", "kubernetes.context",
		"runbooks.dirs", "runbooks.builtin",
		"investigation.lookback",
		"llm.url", "llm.model", "llm.api_key", "llm.context_tokens", "llm.max_output_tokens", "llm.timeout", "llm.max_steps", "llm.retries",
		"server.shutdown_grace",
		"ui.enabled", "ui.external_url", "ui.grafana_url", "ui.grafana_datasource", "ui.grafana_logs_datasource", "ui.session_ttl", "ui.refresh",
		"notify.queue_size", "notify.max_attempts", "notify.retry_backoff", "notify.timeout",
	}
	route := func(sink string) []string {
		p := "notify." + sink + ".route."
		return []string{p + "severities", p + "namespaces", p + "categories", p + "rate_limit"}
	}
	want = append(want, "notify.slack.webhook_url", "notify.slack.webhook_url_file", "notify.slack.webhook_url_env",
		"notify.slack.bot_token", "notify.slack.bot_token_file", "notify.slack.bot_token_env", "notify.slack.channel", "notify.slack.api_url")
	want = append(want, route("slack")...)
	want = append(want, "notify.telegram.bot_token", "notify.telegram.bot_token_file", "notify.telegram.bot_token_env", "notify.telegram.chat_id", "notify.telegram.api_url")
	want = append(want, route("telegram")...)
	want = append(want, "notify.mattermost.webhook_url", "notify.mattermost.webhook_url_file", "notify.mattermost.webhook_url_env", "notify.mattermost.channel")
	want = append(want, route("mattermost")...)
	want = append(want, "notify.webhook.url", "notify.webhook.url_file", "notify.webhook.url_env", "notify.webhook.token", "notify.webhook.token_file", "notify.webhook.token_env")
	want = append(want, route("webhook")...)
	want = append(want, "notify.grafana.url", "notify.grafana.token", "notify.grafana.token_file", "notify.grafana.token_env", "notify.grafana.dashboard_uid", "notify.grafana.tags")
	want = append(want, route("grafana")...)
	want = append(want, "toolsets.custom_files", "toolsets.timeout", "toolsets.max_output_bytes", "toolsets.memory_limit_bytes",
		"toolsets.bash.enabled", "toolsets.bash.allow", "toolsets.bash.deny",
		"knowledge_base.dir", "knowledge_base.reload_interval", "forward.url", "forward.api_key", "forward.timeout")
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("Keys() paths (-want +got):\n%s", diff)
	}
}

// TestKeysAreLive checks that every key Keys reports can be set both from a
// file and from its environment variable, with the same effect.
func TestKeysAreLive(t *testing.T) {
	for _, k := range config.Keys() {
		t.Run(k.Path, func(t *testing.T) {
			s, ok := keySamples[k.Path]
			if !ok {
				t.Fatalf("no sample value for key %s: add one to keySamples", k.Path)
			}
			fromEnv, err := config.Load("", []string{k.Env + "=" + s.env})
			if err != nil {
				t.Fatalf("Load(%s=%s): %v", k.Env, s.env, err)
			}
			if cmp.Equal(config.Default(), fromEnv) {
				t.Errorf("%s=%s changed nothing", k.Env, s.env)
			}
			// notify.slack.channel: x becomes one nested mapping per dot.
			var doc string
			parts := strings.Split(k.Path, ".")
			for i, p := range parts {
				doc += strings.Repeat("  ", i) + p + ":"
				if i < len(parts)-1 {
					doc += "\n"
				}
			}
			doc += " " + s.yaml + "\n"
			fromFile, err := config.Load(writeConfig(t, doc), nil)
			if err != nil {
				t.Fatalf("Load(%q): %v", doc, err)
			}
			if diff := cmp.Diff(fromFile, fromEnv); diff != "" {
				t.Errorf("file %q and %s=%s differ (-file +env):\n%s", doc, k.Env, s.env, diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
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
	noop := func(*config.Config) {}
	f("defaults", noop)

	// Loopback listeners need no credentials.
	for _, addr := range []string{"127.0.0.1:9000", "127.1.2.3:8080", "localhost:8080", "[::1]:8080"} {
		f("loopback "+addr, func(c *config.Config) { c.Listen = addr })
	}
	// Every other address does, for both the webhook and the API.
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "10.0.0.5:8080", "sleuth.monitoring.svc:8080"} {
		f("no credentials on "+addr, func(c *config.Config) { c.Listen = addr }, "listen: ", addr, "auth.webhook_token", "auth.api_token", "allow_unauthenticated")
	}
	public := func(change func(c *config.Config)) func(c *config.Config) {
		return func(c *config.Config) { c.Listen = "0.0.0.0:8080"; change(c) }
	}
	f("allow_unauthenticated", public(func(c *config.Config) { c.Auth.AllowUnauthenticated = true }))
	f("both tokens", public(func(c *config.Config) { c.Auth.WebhookToken = "wt"; c.Auth.APIToken = "at" }))
	f("basic auth and API token", public(func(c *config.Config) {
		c.Auth.WebhookUsername, c.Auth.WebhookPassword, c.Auth.APIToken = "am", "pw", "at"
	}))
	f("webhook token only", public(func(c *config.Config) { c.Auth.WebhookToken = "wt" }), "auth.api_token")
	f("API token only", public(func(c *config.Config) { c.Auth.APIToken = "at" }), "auth.webhook_token")

	f("username without password", func(c *config.Config) { c.Auth.WebhookUsername = "am" }, "auth.webhook_username", "auth.webhook_password")
	f("password without username", func(c *config.Config) { c.Auth.WebhookPassword = "pw" }, "auth.webhook_username", "auth.webhook_password")

	f("log format", func(c *config.Config) { c.Log.Format = "logfmt" }, "log.format", `"logfmt"`)
	f("empty log format", func(c *config.Config) { c.Log.Format = "" }, "log.format")
	f("log level", func(c *config.Config) { c.Log.Level = "verbose" }, "log.level", `"verbose"`)
	f("listen without port", func(c *config.Config) { c.Listen = "127.0.0.1" }, "listen")
	f("store without scheme", func(c *config.Config) { c.Store = "./sleuth.db" }, "store", `"./sleuth.db"`)
	f("small body limit", func(c *config.Config) { c.Intake.MaxBodyBytes = 1023 }, "intake.max_body_bytes", "1023")
	f("smallest body limit", func(c *config.Config) { c.Intake.MaxBodyBytes = 1024 })
	f("no group_by", func(c *config.Config) { c.Incidents.GroupBy = nil }, "incidents.group_by")
	f("negative cooldown", func(c *config.Config) { c.Incidents.Cooldown = -time.Second }, "incidents.cooldown")
	f("zero cooldown", func(c *config.Config) { c.Incidents.Cooldown = 0 })
	f("zero workers", func(c *config.Config) { c.Queue.Workers = 0 }, "queue.workers", "got 0")
	f("too many workers", func(c *config.Config) { c.Queue.Workers = 257 }, "queue.workers", "got 257")
	f("most workers", func(c *config.Config) { c.Queue.Workers = 256 })
	f("one worker", func(c *config.Config) { c.Queue.Workers = 1 })
	f("zero deadline", func(c *config.Config) { c.Queue.Deadline = 0 }, "queue.deadline")
	f("zero attempts", func(c *config.Config) { c.Queue.MaxAttempts = 0 }, "queue.max_attempts")
	f("zero backoff", func(c *config.Config) { c.Queue.RetryBackoff = 0 }, "queue.retry_backoff")
	f("negative shutdown grace", func(c *config.Config) { c.Server.ShutdownGrace = -time.Second }, "server.shutdown_grace")

	f("llm url", func(c *config.Config) { c.LLM.URL = "http://ollama:11434/v1" })
	f("https llm url", func(c *config.Config) { c.LLM.URL = "https://api.openai.com/v1" })
	for _, u := range []string{"ollama:11434", "localhost:11434/v1", "ftp://models.internal", "http://", "http//ollama:11434", "://ollama"} {
		f("bad llm url "+u, func(c *config.Config) { c.LLM.URL = u }, "llm.url", u)
	}
	f("small llm context", func(c *config.Config) { c.LLM.ContextTokens = 1024 }, "llm.context_tokens", "1024")
	f("smallest llm context", func(c *config.Config) { c.LLM.ContextTokens = 2048 })
	f("llm output above half the context", func(c *config.Config) { c.LLM.MaxOutputTokens = 4097 }, "llm.max_output_tokens", "4097")
	f("small llm output", func(c *config.Config) { c.LLM.MaxOutputTokens = 100 }, "llm.max_output_tokens")
	f("zero llm timeout", func(c *config.Config) { c.LLM.Timeout = 0 }, "llm.timeout")
	f("zero llm steps", func(c *config.Config) { c.LLM.MaxSteps = 0 }, "llm.max_steps", "got 0")
	f("negative llm retries", func(c *config.Config) { c.LLM.Retries = -1 }, "llm.retries")
	f("bad prometheus url", func(c *config.Config) { c.Prometheus.URL = "vmsingle:8428" }, "prometheus.url")
	f("bad victorialogs url", func(c *config.Config) { c.VictoriaLogs.URL = "/select/logsql" }, "victorialogs.url")

	// All problems are reported at once.
	f("several problems", func(c *config.Config) { c.Queue.Workers = 0; c.Log.Format = "xml"; c.LLM.URL = "x" },
		"queue.workers", "log.format", "llm.url")
}
