package qwen3

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

type golden struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Text  string `json:"text"`
	IDs   []int  `json:"ids"`
}

func readGolden(t testing.TB) []golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g []golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// The ids are those the reference implementation (the npm package's own
// encode, run by testdata/gen.js) gives each text: English, code, JSON,
// Kubernetes YAML and kubectl output, logs, Russian, CJK, emoji, NFD text,
// whitespace runs, special tokens, long single pieces and 300 random texts.
func TestGoldenIDs(t *testing.T) {
	tk, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	g := readGolden(t)
	if len(g) < 300 {
		t.Fatalf("only %d golden texts", len(g))
	}
	for _, c := range g {
		if c.IDs == nil {
			continue // a count only, see TestLongInputIsExact
		}
		got := tk.Encode(c.Text)
		if !slices.Equal(got, c.IDs) {
			i := 0
			for i < len(got) && i < len(c.IDs) && got[i] == c.IDs[i] {
				i++
			}
			t.Errorf("%s: %d ids, want %d; first difference at %d: got %v, want %v", c.Name, len(got), len(c.IDs), i,
				got[i:min(i+5, len(got))], c.IDs[i:min(i+5, len(c.IDs))])
			continue
		}
		if n := tk.Count(c.Text); n != c.Count || n != len(c.IDs) {
			t.Errorf("%s: Count %d, want %d", c.Name, n, c.Count)
		}
	}
}

// The last golden entry is the count of every other text joined by
// "\n\n##\n\n", three times over (213 KB, the size of a long
// conversation's tool output):
// the count of a long input is exact too, not only of short ones.
func TestLongInputIsExact(t *testing.T) {
	c, err := NewCounter()
	if err != nil {
		t.Fatal(err)
	}
	g := readGolden(t)
	last := g[len(g)-1]
	if last.Name != "long-all-joined" {
		t.Fatalf("the last golden entry is %q", last.Name)
	}
	var texts []string
	for _, x := range g[:len(g)-1] {
		texts = append(texts, x.Text)
	}
	long := strings.Join(slices.Concat(texts, texts, texts), "\n\n##\n\n")
	if n := c.Count(long); n != last.Count {
		t.Errorf("%d tokens in %d bytes, want %d", n, len(long), last.Count)
	}
	if c.Name() != "qwen3" {
		t.Errorf("name %q", c.Name())
	}
}

// Counting from several goroutines at once (the agent runs investigations
// concurrently) gives the same counts; go test -race checks the cache.
func TestConcurrentCount(t *testing.T) {
	c, err := NewCounter()
	if err != nil {
		t.Fatal(err)
	}
	g := readGolden(t)
	errs := make(chan string, 4*len(g))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range g {
				x := g[(i+w*len(g)/4)%len(g)]
				if x.IDs != nil && c.Count(x.Text) != x.Count {
					errs <- x.Name
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for name := range errs {
		t.Errorf("%s: wrong count when counted concurrently", name)
	}
}

func TestVocabulary(t *testing.T) {
	tk, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	// 151,643 BPE tokens and 26 added ones (<|endoftext|> .. </think>).
	if n := tk.VocabSize(); n != 151669 {
		t.Errorf("vocabulary %d, want 151669", n)
	}
}

func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if _, err := load(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCount counts the golden texts but the long single pieces and
// the random strings (49 KB of logs, YAML, JSON, kubectl output, code,
// prose and unicode) with a warm piece cache, as a running server does.
func BenchmarkCount(b *testing.B) {
	benchCount(b, func(name string) bool {
		return !strings.HasPrefix(name, "long-") && !strings.HasPrefix(name, "random-")
	})
}

// BenchmarkCountLongPieces counts the golden texts made of one long piece
// (3,000 "a", words of 1,800-2,500 letters without a space, 4 KB of
// base64), which are too long for the cache and merged with the heap.
func BenchmarkCountLongPieces(b *testing.B) {
	benchCount(b, func(name string) bool { return strings.HasPrefix(name, "long-") && name != "long-all-joined" })
}

func benchCount(b *testing.B, keep func(string) bool) {
	c, err := NewCounter()
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	size := 0
	for _, g := range readGolden(b) {
		if g.IDs != nil && keep(g.Name) {
			texts = append(texts, g.Text)
			size += len(g.Text)
		}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		for _, s := range texts {
			c.Count(s)
		}
	}
}

// BenchmarkCountUncached counts text whose words are all new (random
// letters), so that every piece goes through BPE merging.
func BenchmarkCountUncached(b *testing.B) {
	c, err := NewCounter()
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	words := make([]byte, 0, 1<<16)
	b.SetBytes(1 << 16)
	b.ResetTimer()
	for range b.N {
		words = words[:0]
		for len(words) < 1<<16-16 {
			words = append(words, ' ')
			for range 2 + r.IntN(9) {
				words = append(words, byte('a'+r.IntN(26)))
			}
		}
		for len(words) < 1<<16 {
			words = append(words, ' ')
		}
		c.Count(string(words))
	}
}
