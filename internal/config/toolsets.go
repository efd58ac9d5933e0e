package config

import "time"

// Toolsets configures the tools beyond the built-in ones: HolmesGPT
// custom toolset files and the bash toolset, and the bounds every run of
// their commands gets.
type Toolsets struct {
	// CustomFiles are HolmesGPT custom toolset YAML files, or directories
	// of them.
	CustomFiles []string `yaml:"custom_files"`
	// Timeout bounds one command run.
	Timeout time.Duration `yaml:"timeout"`
	// MaxOutputBytes bounds the output a command run returns: the model's
	// context is the scarce resource.
	MaxOutputBytes int `yaml:"max_output_bytes"`
	// MemoryLimitBytes is the memory limit (RLIMIT_DATA) of every process
	// a command runs.
	MemoryLimitBytes int64 `yaml:"memory_limit_bytes"`
	Bash             Bash  `yaml:"bash"`
}

// Bash configures the bash toolset (run_bash_command).
type Bash struct {
	// Enabled turns it on; it is off by default.
	Enabled bool `yaml:"enabled"`
	// Allow narrows the built-in allowlist to commands starting with one of
	// these prefixes ("kubectl get", "grep"); it never widens it.
	Allow []string `yaml:"allow"`
	// Deny refuses commands starting with any of these prefixes, always.
	Deny []string `yaml:"deny"`
}

// KnowledgeBase configures the knowledge base.
type KnowledgeBase struct {
	// Dir is a directory of markdown documents (postmortems, service docs,
	// runbooks); empty: no knowledge base.
	Dir string `yaml:"dir"`
	// ReloadInterval is how often changed files are looked for.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// Forward configures forward mode: each incident's investigation is also
// sent to an external HolmesGPT, whose answer is stored beside sleuth's.
type Forward struct {
	// URL is HolmesGPT's base URL; empty: no forwarding.
	URL string `yaml:"url"`
	// APIKey is sent as X-API-Key: the key itself, "file:PATH" or
	// "env:NAME".
	APIKey string `yaml:"api_key"`
	// Timeout bounds one forwarded request (HolmesGPT takes minutes).
	Timeout time.Duration `yaml:"timeout"`
}

func defaultToolsets() Toolsets {
	// 16 KiB is about 4K tokens: a quarter of a large local context, half of
	// a small one; a command printing more is asked to filter.
	return Toolsets{Timeout: 30 * time.Second, MaxOutputBytes: 16 << 10, MemoryLimitBytes: 256 << 20}
}

func (c *Config) validateToolsets(bad func(key, format string, args ...any)) {
	if c.Toolsets.Timeout <= 0 {
		bad("toolsets.timeout", "must be positive")
	}
	if c.Toolsets.MaxOutputBytes < 1024 {
		bad("toolsets.max_output_bytes", "must be at least 1024, got %d", c.Toolsets.MaxOutputBytes)
	}
	// Go programs such as kubectl need about 64 MiB to start.
	if c.Toolsets.MemoryLimitBytes < 64<<20 {
		bad("toolsets.memory_limit_bytes", "must be at least 67108864 (64 MiB), got %d", c.Toolsets.MemoryLimitBytes)
	}
	if c.KnowledgeBase.ReloadInterval <= 0 {
		bad("knowledge_base.reload_interval", "must be positive")
	}
	if c.Forward.URL != "" && !httpURL(c.Forward.URL) {
		bad("forward.url", "want an http(s) URL, got %q", c.Forward.URL)
	}
	if c.Forward.Timeout < 0 {
		bad("forward.timeout", "must not be negative")
	}
}
