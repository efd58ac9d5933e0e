package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func pieces(sp splitter, s string) []string {
	var out []string
	sp.split(s, func(p string) { out = append(out, p) })
	return out
}

// Each case is what the pattern's alternatives, tried in order with
// backtracking, make of the text (the reference tokenizers' output for the
// same strings is in qwen3/testdata/golden.json; these spell out the rules).
func TestSplit(t *testing.T) {
	qwen, llama := splitter{digits: 1}, splitter{digits: 3}
	for _, c := range []struct {
		sp   splitter
		in   string
		want []string
	}{
		{qwen, "Hello, world!", []string{"Hello", ",", " world", "!"}},
		// 1. contractions, any case, before letters take the apostrophe
		{qwen, "it's I'LL we'Ve 'd x'z", []string{"it", "'s", " I", "'LL", " we", "'Ve", " '", "d", " x", "'z"}},
		// 2. one leading non-letter, non-digit, non-newline joins a word
		{qwen, "(foo _bar\tbaz\nqux", []string{"(foo", " _", "bar", "\tbaz", "\n", "qux"}},
		// 3. single digits (Qwen), groups of three (Llama 3)
		{qwen, "v12345", []string{"v", "1", "2", "3", "4", "5"}},
		{llama, "v12345 6", []string{"v", "123", "45", " ", "6"}},
		// 4. punctuation runs take one leading space and the line breaks after
		{qwen, "a ==> b;\n\nc", []string{"a", " ==>", " b", ";\n\n", "c"}},
		// 5. whitespace up to the last line break of the run
		{qwen, "a \n \n  b", []string{"a", " \n \n", " ", " b"}},
		// 6. a whitespace run leaves its last character to the next word
		{qwen, "a   b", []string{"a", "  ", " b"}},
		{qwen, "a   1", []string{"a", "  ", " ", "1"}},
		// 6. at the end of the text, the whole run
		{qwen, "a   ", []string{"a", "   "}},
		// 7. a single space before a digit
		{qwen, "a 1", []string{"a", " ", "1"}},
		// Unicode classes: letters, numbers, Rust's \s (U+0085 is space,
		// U+FEFF is not), combining marks are neither letters nor numbers
		{qwen, "Ж½\u0085\u0085x\ufeffy", []string{"Ж", "½", "\u0085", "\u0085x", "\ufeffy"}},
		{qwen, "e\u0301t", []string{"e", "\u0301t"}},
		{qwen, "中文 😀👍", []string{"中文", " 😀👍"}},
		// invalid UTF-8 is a symbol, byte by byte
		{qwen, "a\xff\xfeb", []string{"a", "\xff\xfe", "b"}},
		{qwen, "", nil},
	} {
		if got := pieces(c.sp, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

// Every byte of the input is in exactly one piece, in order.
func TestSplitCoversTheText(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "Z", "'", "s", " ", "  ", "\t", "\n", "\r", "7", "½", ".", "{", "я", "中", "😀", "\u0301", "\u00a0", "\u2028", "\u0085", "\xff"}
	for range 2000 {
		var b strings.Builder
		for range 1 + r.IntN(40) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		ps := pieces(splitter{digits: 1}, s)
		if strings.Join(ps, "") != s || slices.Contains(ps, "") {
			t.Fatalf("%q split into %q", s, ps)
		}
	}
}

// tiny builds a tokenizer.json over the 256 byte-level characters and the
// given merges.
func tiny(t *testing.T, merges [][2]string, edit func(m map[string]any)) (*Tokenizer, error) {
	t.Helper()
	vocab := map[string]int{}
	chars := byteChars()
	for _, c := range chars {
		vocab[c] = len(vocab)
	}
	for _, m := range merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			vocab[m[0]+m[1]] = len(vocab)
		}
	}
	f := map[string]any{
		"added_tokens": []any{map[string]any{"id": 1000, "content": "<|end|>", "special": true}},
		"normalizer":   map[string]any{"type": "NFC"},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": qwen2Pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		}},
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": merges},
	}
	if edit != nil {
		edit(f)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return Load(strings.NewReader(string(b)))
}

func TestMergesByRankLeftmostFirst(t *testing.T) {
	// "ab" outranks "bc"; "aa" applies leftmost first.
	tk, err := tiny(t, [][2]string{{"a", "b"}, {"b", "c"}, {"a", "a"}, {"ab", "c"}, {"aa", "a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]int{
		"abc":       1, // ab, then abc
		"bc":        1,
		"aaa":       1, // aa+a -> aaa
		"aaaa":      2, // a+a leftmost, then a+a again (it outranks aa+a): aa aa
		"xyz":       3,
		"a<|end|>b": 3,
	} {
		if got := tk.Count(in); got != want {
			t.Errorf("%q: %d tokens, want %d", in, got, want)
		}
	}
	if got := tk.Encode("x<|end|>"); !slices.Equal(got, []int{int(tk.byteID['x']), 1000}) {
		t.Errorf("added token: %v", got)
	}
}

// The heap merge, used for long pieces, gives what the plain scan gives.
func TestHeapMergeEqualsScan(t *testing.T) {
	var merges [][2]string
	letters := "abcd"
	seen := map[string]bool{}
	toks := []string{"a", "b", "c", "d"}
	r := rand.New(rand.NewPCG(5, 6))
	for len(merges) < 60 {
		x, y := toks[r.IntN(len(toks))], toks[r.IntN(len(toks))]
		if seen[x+"|"+y] || len(x+y) > 6 {
			continue
		}
		seen[x+"|"+y] = true
		merges = append(merges, [2]string{x, y})
		toks = append(toks, x+y)
	}
	tk, err := tiny(t, merges, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3000 {
		b := make([]byte, 2+r.IntN(120))
		for i := range b {
			b[i] = letters[r.IntN(len(letters))]
		}
		ids := func() []int32 {
			out := make([]int32, len(b))
			for i, c := range b {
				out[i] = tk.byteID[c]
			}
			return out
		}
		scan, hp := tk.mergeScan(ids()), tk.mergeHeap(ids())
		if !slices.Equal(scan, hp) {
			t.Fatalf("%s: scan %v, heap %v", b, scan, hp)
		}
	}
}

func TestLoadRefusesWhatItCannotCount(t *testing.T) {
	for name, edit := range map[string]func(map[string]any){
		"wordpiece":     func(f map[string]any) { f["model"].(map[string]any)["type"] = "WordPiece" },
		"byte fallback": func(f map[string]any) { f["model"].(map[string]any)["byte_fallback"] = true },
		"gpt2 regex": func(f map[string]any) {
			f["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}
		},
		"other pattern": func(f map[string]any) {
			f["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]any{"Regex": `\s+`}
		},
		"nfkc":   func(f map[string]any) { f["normalizer"] = map[string]any{"type": "NFKC"} },
		"lstrip": func(f map[string]any) { f["added_tokens"].([]any)[0].(map[string]any)["lstrip"] = true },
	} {
		if _, err := tiny(t, [][2]string{{"a", "b"}}, edit); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := tiny(t, [][2]string{{"a", "b"}}, func(f map[string]any) {
		f["model"].(map[string]any)["merges"] = []string{"a b"} // the older format
	}); err != nil {
		t.Errorf("merges as strings: %v", err)
	}
}
