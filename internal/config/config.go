// Package config provides sleuth's configuration: one YAML file, defaults
// filled and validated in one place, and overrides from SLEUTH_* environment
// variables. Flags are applied by the caller on the returned struct.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration. The yaml tags are the key names users
// write; the environment variable for a key is SLEUTH_ followed by its path
// upper-cased with dots as underscores (auth.api_token: SLEUTH_AUTH_API_TOKEN).
type Config struct {
	// Listen is the HTTP listen address.
	Listen string `yaml:"listen"`
	// Store is the store URL: sqlite://PATH.
	Store string `yaml:"store"`

	Log           Log           `yaml:"log"`
	Auth          Auth          `yaml:"auth"`
	Intake        Intake        `yaml:"intake"`
	Incidents     Incidents     `yaml:"incidents"`
	Queue         Queue         `yaml:"queue"`
	Prometheus    Backend       `yaml:"prometheus"`
	VictoriaLogs  Backend       `yaml:"victorialogs"`
	Kubernetes    Kubernetes    `yaml:"kubernetes"`
	Runbooks      Runbooks      `yaml:"runbooks"`
	Investigation Investigation `yaml:"investigation"`
	LLM           LLM           `yaml:"llm"`
	Server        ServerConfig  `yaml:"server"`
	UI            UI            `yaml:"ui"`
	Notify        Notify        `yaml:"notify"`
	Toolsets      Toolsets      `yaml:"toolsets"`
	KnowledgeBase KnowledgeBase `yaml:"knowledge_base"`
	Forward       Forward       `yaml:"forward"`
}

// Log configures the process log.
type Log struct {
	// Format is "text" or "json".
	Format string `yaml:"format"`
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
}

// Auth holds the credentials the HTTP endpoints check.
type Auth struct {
	// WebhookToken is the bearer token Alertmanager sends to /webhook and /api/alerts.
	WebhookToken string `yaml:"webhook_token"`
	// WebhookUsername and WebhookPassword are the basic auth alternative.
	WebhookUsername string `yaml:"webhook_username"`
	WebhookPassword string `yaml:"webhook_password"`
	// APIToken guards the read and investigation API.
	APIToken string `yaml:"api_token"`
	// AllowUnauthenticated permits a non-loopback listen address with no
	// credentials configured.
	AllowUnauthenticated bool `yaml:"allow_unauthenticated"`
}

// Intake configures alert intake.
type Intake struct {
	// MaxBodyBytes bounds a webhook request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Incidents configures how alerts are grouped into incidents.
type Incidents struct {
	// GroupBy lists the label names whose values form the incident key. The
	// pseudo-label "workload" is the workload owning the alert's pod (or
	// its deployment, statefulset, ... label).
	GroupBy []string `yaml:"group_by"`
	// Cooldown is how long after an investigation the same incident key
	// can be investigated again.
	Cooldown time.Duration `yaml:"cooldown"`
}

// Queue configures the investigation workers.
type Queue struct {
	// Workers is the number of investigations run at once.
	Workers int `yaml:"workers"`
	// Deadline bounds one investigation attempt.
	Deadline time.Duration `yaml:"deadline"`
	// MaxAttempts bounds the attempts of an investigation that fails transiently.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBackoff is the delay before the first retry; it doubles per attempt.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
}

// Backend is an HTTP backend sleuth queries. Empty URL: not used, and the
// reports say what could not be checked without it.
type Backend struct {
	URL string `yaml:"url"`
	// Timeout bounds one query; VictoriaMetrics queries over long ranges
	// need more than the 20 s some clients default to.
	Timeout time.Duration `yaml:"timeout"`
}

// Kubernetes says how to reach the cluster: in-cluster credentials when
// running in a pod, else the kubeconfig.
type Kubernetes struct {
	Enabled    bool   `yaml:"enabled"`
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
}

// Runbooks says where runbooks come from.
type Runbooks struct {
	// Dirs are directories (or files) of runbook YAML, HolmesGPT's legacy
	// format included; every *.yaml and *.yml is loaded.
	Dirs []string `yaml:"dirs"`
	// Builtin loads the runbooks shipped in the binary too.
	Builtin bool `yaml:"builtin"`
}

// Investigation tunes the investigation engine.
type Investigation struct {
	// LookBack is how far before the alert evidence is read.
	LookBack time.Duration `yaml:"lookback"`
}

// LLM is the OpenAI-compatible model endpoint. Empty URL: no model, and
// the deterministic report stands alone.
type LLM struct {
	// URL is the base URL, e.g. http://llm-proxy:8080/v1 (LM Studio, Ollama,
	// vLLM, llama.cpp's server, OpenAI).
	URL   string `yaml:"url"`
	Model string `yaml:"model"`
	// APIKey is the key itself, "file:PATH" (read from a file, such as a
	// mounted Secret) or "env:NAME" (read from that variable).
	APIKey string `yaml:"api_key"`
	// ContextTokens is the model's context window as the server loaded it;
	// no request exceeds it minus MaxOutputTokens.
	ContextTokens int `yaml:"context_tokens"`
	// MaxOutputTokens is reserved for each answer.
	MaxOutputTokens int `yaml:"max_output_tokens"`
	// Timeout bounds one model call (a local model reading a long prompt is
	// slow: minutes, not seconds).
	Timeout time.Duration `yaml:"timeout"`
	// MaxSteps bounds the model calls of one investigation or question;
	// reaching it gives a partial answer, never an error.
	MaxSteps int `yaml:"max_steps"`
	// Retries is how often a failed call (timeout, 5xx, connection) is
	// retried, with doubling backoff.
	Retries int `yaml:"retries"`
}

// ServerConfig holds process-level HTTP settings.
type ServerConfig struct {
	// ShutdownGrace is how long running work may take to finish on shutdown
	// before it is requeued.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// Default returns the embedded defaults: a loopback listener, a SQLite file
// in the working directory and no backends.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080",
		Store:  "sqlite://./sleuth.db",
		Log:    Log{Format: "text", Level: "info"},
		// Alertmanager batches a group's alerts into one request; 4 MiB holds
		// thousands of alerts with large annotations.
		Intake: Intake{MaxBodyBytes: 4 << 20},
		Incidents: Incidents{
			GroupBy: []string{"alertname", "namespace", "workload"},
			// Matches the seed's repeat_interval.
			Cooldown: 4 * time.Hour,
		},
		Queue: Queue{
			Workers:      4,
			Deadline:     5 * time.Minute,
			MaxAttempts:  3,
			RetryBackoff: 10 * time.Second,
		},
		Prometheus:    Backend{Timeout: 30 * time.Second},
		VictoriaLogs:  Backend{Timeout: 30 * time.Second},
		Kubernetes:    Kubernetes{Enabled: true},
		Runbooks:      Runbooks{Builtin: true},
		Investigation: Investigation{LookBack: time.Hour},
		// LM Studio loads models with 4K by default and Ollama with 2-4K;
		// 8K is what a 30B model on a laptop serves at a usable speed.
		LLM:    LLM{ContextTokens: 8192, MaxOutputTokens: 1024, Timeout: 3 * time.Minute, MaxSteps: 10, Retries: 2},
		Server: ServerConfig{ShutdownGrace: 30 * time.Second},
		UI:     defaultUI(),
		Notify: defaultNotify(),

		Toolsets:      defaultToolsets(),
		KnowledgeBase: KnowledgeBase{ReloadInterval: 30 * time.Second},
	}
}

// Load reads the YAML file at path over the defaults (path "" means
// defaults only), then applies SLEUTH_* variables from environ. Unknown keys
// and wrong types are errors naming the file, line and key.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config: %w", err)
		}
		if err := decodeYAML(path, data, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func decodeYAML(path string, data []byte, cfg *Config) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 {
		return nil // empty file: defaults
	}
	if err := checkKeys(path, root.Content[0], reflect.TypeOf(*cfg), ""); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: %s", path, strings.Join(te.Errors, "; "))
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// checkKeys walks the YAML mapping against the struct type so that an
// unknown key or a value of the wrong type is reported with its full dotted
// path and line, which the YAML decoder alone does not give.
func checkKeys(path string, n *yaml.Node, t reflect.Type, prefix string) error {
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return nil // the caller decodes it
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fieldByTag(t, k.Value)
		if !ok {
			return fmt.Errorf("%s:%d: unknown key %q", path, k.Line, prefix+k.Value)
		}
		if f.Type.Kind() == reflect.Struct && v.Kind == yaml.MappingNode {
			if err := checkKeys(path, v, f.Type, prefix+k.Value+"."); err != nil {
				return err
			}
			continue
		}
		// Decoding the value alone gives the same verdict as the whole
		// document would, but lets the error name the key.
		if err := v.Decode(reflect.New(f.Type).Interface()); err != nil {
			return fmt.Errorf("%s:%d: key %q: %s", path, v.Line, prefix+k.Value, yamlMessage(err))
		}
	}
	return nil
}

// yamlMessage is a decoding error without the "line N: " the YAML decoder
// starts its messages with, for use after a FILE:LINE prefix.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if _, after, ok := strings.Cut(rest, ": "); ok {
				m = after
			}
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if strings.Split(f.Tag.Get("yaml"), ",")[0] == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// EnvPrefix starts every environment variable that overrides a key.
const EnvPrefix = "SLEUTH_"

// Keys returns every key path with its environment variable name, in
// declaration order; the configuration reference is generated from it.
func Keys() []Key {
	var keys []Key
	walk(reflect.ValueOf(new(Config)).Elem(), "", func(path string, _ reflect.Value) {
		keys = append(keys, Key{Path: path, Env: EnvName(path)})
	})
	return keys
}

// Key names one configuration key.
type Key struct {
	Path string // auth.api_token
	Env  string // SLEUTH_AUTH_API_TOKEN
}

// EnvName returns the environment variable that overrides the key path.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

func walk(v reflect.Value, prefix string, fn func(path string, leaf reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			walk(fv, prefix+name+".", fn)
			continue
		}
		fn(prefix+name, fv)
	}
}

func applyEnv(cfg *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	var errs []error
	walk(reflect.ValueOf(cfg).Elem(), "", func(path string, leaf reflect.Value) {
		name := EnvName(path)
		s, ok := env[name]
		if !ok {
			return
		}
		if err := setFromString(leaf, s); err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s (key %s): %w", name, path, err))
		}
	})
	return errors.Join(errs...)
}

func setFromString(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Slice:
		var items []string
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// Validate checks the values and their combinations. It is called after
// flags are applied.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if !strings.Contains(c.Store, "://") {
		bad("store", "want a URL such as sqlite://./sleuth.db, got %q", c.Store)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	if (c.Auth.WebhookUsername == "") != (c.Auth.WebhookPassword == "") {
		bad("auth.webhook_username", "set together with auth.webhook_password")
	}
	if c.Intake.MaxBodyBytes < 1024 {
		bad("intake.max_body_bytes", "must be at least 1024, got %d", c.Intake.MaxBodyBytes)
	}
	if len(c.Incidents.GroupBy) == 0 {
		bad("incidents.group_by", "must name at least one label")
	}
	if c.Incidents.Cooldown < 0 {
		bad("incidents.cooldown", "must not be negative")
	}
	if c.Queue.Workers < 1 || c.Queue.Workers > 256 {
		bad("queue.workers", "must be between 1 and 256, got %d", c.Queue.Workers)
	}
	if c.Queue.Deadline <= 0 {
		bad("queue.deadline", "must be positive")
	}
	if c.Queue.MaxAttempts < 1 {
		bad("queue.max_attempts", "must be at least 1, got %d", c.Queue.MaxAttempts)
	}
	if c.Queue.RetryBackoff <= 0 {
		bad("queue.retry_backoff", "must be positive")
	}
	if c.Prometheus.Timeout <= 0 {
		bad("prometheus.timeout", "must be positive")
	}
	if c.VictoriaLogs.Timeout <= 0 {
		bad("victorialogs.timeout", "must be positive")
	}
	if c.Investigation.LookBack <= 0 || c.Investigation.LookBack > 7*24*time.Hour {
		bad("investigation.lookback", "must be positive and at most 168h, got %v", c.Investigation.LookBack)
	}
	if c.LLM.ContextTokens < 2048 {
		bad("llm.context_tokens", "must be at least 2048, got %d", c.LLM.ContextTokens)
	}
	if c.LLM.MaxOutputTokens < 256 || c.LLM.MaxOutputTokens > c.LLM.ContextTokens/2 {
		bad("llm.max_output_tokens", "must be between 256 and half of llm.context_tokens (%d), got %d", c.LLM.ContextTokens/2, c.LLM.MaxOutputTokens)
	}
	if c.LLM.Timeout <= 0 {
		bad("llm.timeout", "must be positive")
	}
	if c.LLM.MaxSteps < 1 || c.LLM.MaxSteps > 100 {
		bad("llm.max_steps", "must be between 1 and 100, got %d", c.LLM.MaxSteps)
	}
	if c.LLM.Retries < 0 || c.LLM.Retries > 10 {
		bad("llm.retries", "must be between 0 and 10, got %d", c.LLM.Retries)
	}
	if c.Server.ShutdownGrace < 0 {
		bad("server.shutdown_grace", "must not be negative")
	}
	for key, u := range map[string]string{"prometheus.url": c.Prometheus.URL, "victorialogs.url": c.VictoriaLogs.URL, "llm.url": c.LLM.URL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad(key, "want an http(s) URL, got %q", u)
		}
	}
	c.validateUI(bad)
	c.validateNotify(bad)
	c.validateToolsets(bad)
	if !c.Auth.AllowUnauthenticated && !loopback(c.Listen) {
		if c.Auth.WebhookToken == "" && c.Auth.WebhookUsername == "" {
			bad("listen", "%s is not a loopback address and the webhook has no credentials: set auth.webhook_token (or auth.webhook_username and auth.webhook_password), or auth.allow_unauthenticated: true (--allow-unauthenticated) if the network is trusted", c.Listen)
		}
		if c.Auth.APIToken == "" {
			bad("listen", "%s is not a loopback address and the API has no credentials: set auth.api_token, or auth.allow_unauthenticated: true (--allow-unauthenticated) if the network is trusted", c.Listen)
		}
	}
	return errors.Join(errs...)
}

// loopback reports whether addr only listens on a loopback interface. An
// empty host listens on every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
