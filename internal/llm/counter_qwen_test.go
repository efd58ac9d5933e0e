package llm

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type goldenText struct {
	Name  string `json:"name"`
	Text  string `json:"text"`
	Count int    `json:"count"`
	IDs   []int  `json:"ids"`
}

// goldenTexts are the texts and the reference tokenizer's counts of
// tokenizer/qwen3/testdata (see gen.js there).
func goldenTexts(t testing.TB) []goldenText {
	t.Helper()
	b, err := os.ReadFile("tokenizer/qwen3/testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g []goldenText
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestCounterFor(t *testing.T) {
	for _, model := range []string{
		"qwen3-coder-30b-a3b-instruct-mlx", "qwen/qwen3-coder-30b", "Qwen/Qwen3-32B", "qwen3:8b", "qwen3",
		"qwen2.5-coder:7b", "Qwen/Qwen2.5-7B-Instruct", "qwen2-7b-instruct", "Qwen1.5-14B-Chat", "qwq:32b",
		"QwQ-32B", "hf.co/unsloth/Qwen3-30B-A3B-GGUF:Q4_K_M", "qwen3-next-80b-a3b", "Qwen2.5-VL-7B", "qwen-2.5-coder",
	} {
		if c := CounterFor(model); c.Name() != "qwen3" {
			t.Errorf("%s: counter %s, want qwen3", model, c.Name())
		}
	}
	for _, model := range []string{
		"", "llama3.1:8b", "gpt-oss-20b", "mistral-small", "qwen-7b-chat", "qwen3.5-27b", "qwen4", "deepseek-coder",
		"gemma3:12b", "squwqy",
	} {
		if c := CounterFor(model); c.Name() != "estimate" {
			t.Errorf("%s: counter %s, want estimate", model, c.Name())
		}
	}
}

// CounterFor's Qwen counter is the tokenizer, not an estimate: it gives
// the reference's count of every golden text.
func TestCounterForQwenIsExact(t *testing.T) {
	c := CounterFor("qwen3-coder-30b-a3b-instruct-mlx")
	for _, g := range goldenTexts(t) {
		if g.IDs == nil {
			continue
		}
		if n := c.Count(g.Text); n != g.Count {
			t.Errorf("%s: %d tokens, want %d", g.Name, n, g.Count)
		}
	}
}

// The estimator, used for models without a tokenizer, never counts fewer
// tokens than Qwen3's tokenizer on prose, code, JSON, YAML, kubectl output,
// logs, Russian, CJK, emoji, unusual spaces, base64, hashes and long runs
// (every golden text but the random mixes of rare characters), nor on a
// long concatenation of them.
func TestEstimatorNeverUndercountsQwen3(t *testing.T) {
	q, e := CounterFor("qwen3"), Estimator()
	var texts []string
	var sumQ, sumE int
	for _, g := range goldenTexts(t) {
		if g.IDs == nil || strings.HasPrefix(g.Name, "random-") {
			continue
		}
		texts = append(texts, g.Text)
		qc, ec := q.Count(g.Text), e.Count(g.Text)
		if ec < qc {
			t.Errorf("%s: estimate %d < %d tokens", g.Name, ec, qc)
		}
		sumQ += qc
		sumE += ec
	}
	long := strings.Repeat(strings.Join(texts, "\n\n"), 3)
	if qc, ec := q.Count(long), e.Count(long); ec < qc {
		t.Errorf("%d KB: estimate %d < %d tokens", len(long)>>10, ec, qc)
	}
	t.Logf("estimate / qwen3 over %d texts: %d / %d = %.2f", len(texts), sumE, sumQ, float64(sumE)/float64(sumQ))
}

// TrimToTokens with the real counter keeps what it returns within the
// limit, on long inputs of every kind.
func TestTrimToTokensWithQwen3(t *testing.T) {
	c := CounterFor("qwen3")
	var texts []string
	for _, g := range goldenTexts(t) {
		if g.IDs != nil {
			texts = append(texts, g.Text)
		}
	}
	long := strings.Join(texts, "\n")
	for _, max := range []int{1, 50, 333, 1000, 4096, 20000} {
		out := TrimToTokens(c, long, max)
		if n := c.Count(out); n > max {
			t.Errorf("max %d: %d tokens", max, n)
		}
		if max >= 333 && c.Count(out) < max*3/4 { // it cuts on a line in the last quarter
			t.Errorf("max %d: only %d tokens kept", max, c.Count(out))
		}
	}
}

// Tools are counted as chat templates print them, with Python's JSON
// separators, which cost Qwen3 a quarter more tokens than compact JSON.
func TestRenderToolAsTemplatesPrintIt(t *testing.T) {
	got := RenderTool(ToolSpec{Name: "kubectl_logs", Description: "Logs of <pod> & co",
		Parameters: json.RawMessage(`{"type":"object","properties":{"tail":{"type":"integer","minimum":1,"enum":[1,2.5]},"x":{"default":null,"deprecated":false}}}`)})
	want := `{"type": "function", "function": {"name": "kubectl_logs", "description": "Logs of <pod> & co", "parameters": {"type": "object", "properties": {"tail": {"type": "integer", "minimum": 1, "enum": [1, 2.5]}, "x": {"default": null, "deprecated": false}}}}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := RenderTool(ToolSpec{Name: "t"}); !strings.Contains(got, `"parameters": {"type": "object", "properties": {}}`) {
		t.Errorf("no parameters: %s", got)
	}
	if got := PythonJSON([]byte(`{"a":`)); got != `{"a":` {
		t.Errorf("invalid JSON: %s", got)
	}
}

// BenchmarkCounters counts the golden texts but the long single pieces and
// the random mixes (49 KB) with each counter; compare with
// tokenizer/qwen3's BenchmarkCount.
func BenchmarkCounters(b *testing.B) {
	var texts []string
	size := 0
	for _, g := range goldenTexts(b) {
		if g.IDs != nil && !strings.HasPrefix(g.Name, "long-") && !strings.HasPrefix(g.Name, "random-") {
			texts = append(texts, g.Text)
			size += len(g.Text)
		}
	}
	for _, c := range []Counter{CounterFor("qwen3"), Estimator()} {
		b.Run(c.Name(), func(b *testing.B) {
			b.SetBytes(int64(size))
			for range b.N {
				for _, s := range texts {
					c.Count(s)
				}
			}
		})
	}
}
