package llm

import (
	"regexp"

	"github.com/sleuth-sre/sleuth/internal/llm/tokenizer/qwen3"
)

// qwenModel matches the names servers give the models that share the
// Qwen2/Qwen3 tokenizer (same vocabulary, merges and pre-tokenizer): Qwen1.5,
// Qwen2, Qwen2.5, Qwen3 and their Coder, VL, Next and MoE variants, and QwQ,
// as LM Studio ("qwen3-coder-30b-a3b-instruct-mlx", "qwen/qwen3-8b"),
// Ollama ("qwen2.5-coder:7b", "qwq:32b"), vLLM ("Qwen/Qwen3-32B") and
// llama.cpp ("hf.co/unsloth/Qwen3-30B-A3B-GGUF:Q4_K_M") list them. A
// version it does not know ("qwen3.5", "qwen4", a bare "qwen-7b") may have
// another vocabulary and gets the estimator.
var qwenModel = regexp.MustCompile(`(?i)qwen[-_ ]?(1\.5|2\.5|2|3)([^.0-9]|$)|(^|[^a-z])qwq([^a-z]|$)`)

// familyCounter returns the tokenizer of the model's family, or nil.
func familyCounter(model string) Counter {
	if !qwenModel.MatchString(model) {
		return nil
	}
	// Loaded on first use (a quarter of a second), then shared.
	c, err := qwen3.NewCounter()
	if err != nil {
		// Only a corrupt build could get here (the data is embedded and
		// tested); the estimator stands in.
		return nil
	}
	return c
}
