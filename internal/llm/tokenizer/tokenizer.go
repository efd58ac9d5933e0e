// Package tokenizer counts and encodes text exactly as a byte-level BPE
// tokenizer described by a Hugging Face tokenizer.json does (the format of
// the `tokenizers` library, also read by transformers.js), for the subset
// that Qwen2, Qwen2.5, Qwen3 and Llama 3 use:
//
//   - added tokens (special or not), matched on the raw text first, longest
//     first, each one token;
//   - an optional NFC normalizer;
//   - a Split pre-tokenizer with the Qwen2 or the Llama 3 pattern (behaviour
//     "Isolated"), followed by ByteLevel without its own regex;
//   - a BPE model without dropout, unknown token, byte fallback or
//     sub-word affixes, whose merges are applied lowest rank first, leftmost
//     first on ties.
//
// Load refuses any other configuration rather than count it wrongly. The
// package is pure Go and reads nothing at run time but what it is given.
package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer encodes text into token ids. It is safe for concurrent use.
type Tokenizer struct {
	nfc      bool
	split    splitter
	byteID   [256]int32        // the token of each byte's byte-level character
	merges   map[uint64]uint64 // left<<32|right -> rank<<32|merged
	added    []addedToken      // longest first
	addedSet [256]bool         // first bytes of added tokens
	vocab    int               // vocabulary size, added tokens included

	mu    sync.Mutex
	cache map[string][]int32 // piece -> ids, bounded by cacheSize
}

type addedToken struct {
	content string
	id      int32
}

const (
	// Pieces up to this length are cached, at most cacheSize of them (the
	// cache is emptied when full, a megabyte or two at most): words,
	// numbers and punctuation runs repeat, long runs of letters rarely do.
	cacheMaxPiece = 64
	cacheSize     = 1 << 14
	// Pieces of more symbols than this are merged with a heap (n log n)
	// rather than by scanning every pair at each merge (n²).
	heapThreshold = 48
)

// tokenizerJSON is the part of tokenizer.json this package reads.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer   *component `json:"normalizer"`
	PreTokenizer *component `json:"pre_tokenizer"`
	Model        struct {
		Type                    string          `json:"type"`
		Dropout                 *float64        `json:"dropout"`
		UnkToken                *string         `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		ByteFallback            bool            `json:"byte_fallback"`
		IgnoreMerges            bool            `json:"ignore_merges"`
		Vocab                   map[string]int  `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
	} `json:"model"`
}

// component is a normalizer or pre-tokenizer of tokenizer.json.
type component struct {
	Type          string       `json:"type"`
	Normalizers   []*component `json:"normalizers"`
	Pretokenizers []*component `json:"pretokenizers"`
	Pattern       *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`
	UseRegex *bool  `json:"use_regex"`
	// AddPrefixSpace is ByteLevel's; only false is supported.
	AddPrefixSpace bool `json:"add_prefix_space"`
}

// Load reads a tokenizer.json. It returns an error naming what it does not
// support when the file describes anything but the byte-level BPE
// tokenizers listed in the package documentation.
func Load(r io.Reader) (*Tokenizer, error) {
	var f tokenizerJSON
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t := &Tokenizer{cache: map[string][]int32{}}
	if err := t.readNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if err := t.readPreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	m := f.Model
	switch {
	case m.Type != "BPE":
		return nil, fmt.Errorf("tokenizer.json: model %q is not BPE", m.Type)
	case m.Dropout != nil, m.UnkToken != nil, m.ByteFallback, m.IgnoreMerges,
		m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "",
		m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, errors.New("tokenizer.json: BPE with dropout, unk_token, byte_fallback, ignore_merges or sub-word affixes is not supported")
	case len(m.Vocab) == 0:
		return nil, errors.New("tokenizer.json: empty vocabulary")
	}
	chars := byteChars()
	for b, c := range chars {
		id, ok := m.Vocab[c]
		if !ok {
			return nil, fmt.Errorf("tokenizer.json: the vocabulary lacks the byte-level character %q of byte %#x", c, b)
		}
		t.byteID[b] = int32(id)
	}
	pairs, err := readMerges(m.Merges)
	if err != nil {
		return nil, err
	}
	t.merges = make(map[uint64]uint64, len(pairs))
	for rank, p := range pairs {
		l, okl := m.Vocab[p[0]]
		r, okr := m.Vocab[p[1]]
		merged, okm := m.Vocab[p[0]+p[1]]
		if !okl || !okr || !okm {
			return nil, fmt.Errorf("tokenizer.json: merge %d (%q %q) names a token outside the vocabulary", rank, p[0], p[1])
		}
		k := uint64(l)<<32 | uint64(r)
		if _, dup := t.merges[k]; !dup { // the first (lowest) rank wins
			t.merges[k] = uint64(rank)<<32 | uint64(merged)
		}
	}
	t.vocab = len(m.Vocab)
	for _, a := range f.AddedTokens {
		if a.SingleWord || a.Lstrip || a.Rstrip {
			return nil, fmt.Errorf("tokenizer.json: added token %q: single_word, lstrip and rstrip are not supported", a.Content)
		}
		if a.Content == "" {
			continue
		}
		// Every added token is matched on the raw text. (With
		// normalized=true the library matches on the normalized text; for
		// NFC that differs only if the token's own text is not in NFC.)
		if a.Normalized && t.nfc && !norm.NFC.IsNormalString(a.Content) {
			return nil, fmt.Errorf("tokenizer.json: added token %q is normalized and not in NFC", a.Content)
		}
		t.added = append(t.added, addedToken{a.Content, int32(a.ID)})
		t.addedSet[a.Content[0]] = true
		if _, inVocab := m.Vocab[a.Content]; !inVocab {
			t.vocab++
		}
	}
	slices.SortStableFunc(t.added, func(a, b addedToken) int { return len(b.content) - len(a.content) })
	return t, nil
}

func (t *Tokenizer) readNormalizer(c *component) error {
	switch {
	case c == nil:
	case c.Type == "NFC":
		t.nfc = true
	case c.Type == "Sequence" && len(c.Normalizers) == 0:
	case c.Type == "Sequence" && len(c.Normalizers) == 1:
		return t.readNormalizer(c.Normalizers[0])
	default:
		return fmt.Errorf("tokenizer.json: normalizer %q is not supported", c.Type)
	}
	return nil
}

func (t *Tokenizer) readPreTokenizer(c *component) error {
	if c == nil || c.Type != "Sequence" || len(c.Pretokenizers) != 2 {
		return errors.New("tokenizer.json: the pre-tokenizer is not a Split followed by ByteLevel")
	}
	s, b := c.Pretokenizers[0], c.Pretokenizers[1]
	if s.Type != "Split" || s.Pattern == nil || s.Pattern.Regex == nil || s.Behavior != "Isolated" || s.Invert {
		return errors.New("tokenizer.json: the first pre-tokenizer is not a Split by a regex, isolated")
	}
	switch *s.Pattern.Regex {
	case qwen2Pattern:
		t.split = splitter{digits: 1}
	case llama3Pattern:
		t.split = splitter{digits: 3}
	default:
		return fmt.Errorf("tokenizer.json: split pattern %q is not one this package implements", *s.Pattern.Regex)
	}
	if b.Type != "ByteLevel" || b.UseRegex == nil || *b.UseRegex || b.AddPrefixSpace {
		return errors.New("tokenizer.json: the second pre-tokenizer is not ByteLevel with use_regex and add_prefix_space false")
	}
	return nil
}

// readMerges reads the merges as pairs: ["a", "b"] (tokenizers 0.20 and
// later) or "a b" (earlier).
func readMerges(raw json.RawMessage) ([][2]string, error) {
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		return pairs, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, fmt.Errorf("tokenizer.json: merges: %w", err)
	}
	pairs = make([][2]string, len(lines))
	for i, l := range lines {
		a, b, ok := strings.Cut(l, " ")
		if !ok {
			return nil, fmt.Errorf("tokenizer.json: merge %d %q is not a pair", i, l)
		}
		pairs[i] = [2]string{a, b}
	}
	return pairs, nil
}

// byteChars is GPT-2's bytes_to_unicode: printable bytes stand for
// themselves, the others (controls, space, 0x7f-0xa0, 0xad) for U+0100
// onwards, in byte order.
func byteChars() [256]string {
	var out [256]string
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xa1 && b <= 0xac || b >= 0xae {
			out[b] = string(rune(b))
		} else {
			out[b] = string(rune(256 + n))
			n++
		}
	}
	return out
}

// VocabSize is the number of token ids, added tokens included.
func (t *Tokenizer) VocabSize() int { return t.vocab }

// Encode returns the token ids of s, as the reference implementations'
// encode(s) does (no BOS or EOS is added).
func (t *Tokenizer) Encode(s string) []int {
	var out []int
	t.walk(s, func(ids []int32) {
		for _, id := range ids {
			out = append(out, int(id))
		}
	})
	return out
}

// Count returns the number of tokens of s: len(Encode(s)) without building
// the list.
func (t *Tokenizer) Count(s string) int {
	n := 0
	t.walk(s, func(ids []int32) { n += len(ids) })
	return n
}

// walk calls emit with the ids of each piece of s in order. The slice
// passed to emit must not be kept.
func (t *Tokenizer) walk(s string, emit func([]int32)) {
	var one [1]int32
	for len(s) > 0 {
		// The next added token, if any: text before it is encoded as
		// text, the token itself is one id.
		at, tok := t.nextAdded(s)
		text := s[:at]
		if t.nfc {
			text = norm.NFC.String(text)
		}
		t.split.split(text, func(piece string) { emit(t.bpe(piece)) })
		if tok == nil {
			return
		}
		one[0] = tok.id
		emit(one[:])
		s = s[at+len(tok.content):]
	}
}

// nextAdded finds the leftmost added token in s, the longest at that
// position; with none, it returns len(s) and nil.
func (t *Tokenizer) nextAdded(s string) (int, *addedToken) {
	if len(t.added) == 0 {
		return len(s), nil
	}
	for i := 0; i < len(s); i++ {
		if !t.addedSet[s[i]] {
			continue
		}
		for k := range t.added {
			if strings.HasPrefix(s[i:], t.added[k].content) {
				return i, &t.added[k]
			}
		}
	}
	return len(s), nil
}

// bpe returns the ids of one piece.
func (t *Tokenizer) bpe(piece string) []int32 {
	if len(piece) == 1 {
		return []int32{t.byteID[piece[0]]}
	}
	cacheable := len(piece) <= cacheMaxPiece
	if cacheable {
		t.mu.Lock()
		ids, ok := t.cache[piece]
		t.mu.Unlock()
		if ok {
			return ids
		}
	}
	ids := make([]int32, len(piece))
	for i := range len(piece) {
		ids[i] = t.byteID[piece[i]]
	}
	if len(ids) > heapThreshold {
		ids = t.mergeHeap(ids)
	} else {
		ids = t.mergeScan(ids)
	}
	if cacheable {
		ids = slices.Clip(ids)
		t.mu.Lock()
		if len(t.cache) >= cacheSize {
			clear(t.cache)
		}
		t.cache[strings.Clone(piece)] = ids
		t.mu.Unlock()
	}
	return ids
}

// rank returns the rank and result of merging l and r.
func (t *Tokenizer) rank(l, r int32) (rank uint32, merged int32, ok bool) {
	v, ok := t.merges[uint64(uint32(l))<<32|uint64(uint32(r))]
	return uint32(v >> 32), int32(uint32(v)), ok
}

// mergeScan applies the merges by scanning every adjacent pair for the
// lowest rank, leftmost on ties, until none applies: simple and fast for
// short pieces.
func (t *Tokenizer) mergeScan(ids []int32) []int32 {
	for len(ids) > 1 {
		best, at := uint32(1<<32-1), -1
		var merged int32
		for i := 0; i+1 < len(ids); i++ {
			if r, m, ok := t.rank(ids[i], ids[i+1]); ok && (at < 0 || r < best) {
				best, at, merged = r, i, m
			}
		}
		if at < 0 {
			break
		}
		ids[at] = merged
		ids = append(ids[:at+1], ids[at+2:]...)
	}
	return ids
}

// mergeHeap applies the same merges in the same order with a priority
// queue of candidate pairs over a linked list of symbols.
func (t *Tokenizer) mergeHeap(ids []int32) []int32 {
	n := len(ids)
	prev := make([]int, n)
	next := make([]int, n)
	for i := range n {
		prev[i], next[i] = i-1, i+1
	}
	next[n-1] = -1
	q := pairQueue{}
	for i := 0; i+1 < n; i++ {
		if r, m, ok := t.rank(ids[i], ids[i+1]); ok {
			q = append(q, pair{key: uint64(r)<<32 | uint64(i), left: ids[i], right: ids[i+1], merged: m})
		}
	}
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
	dead := make([]bool, n)
	for len(q) > 0 {
		p := q.pop()
		i := p.pos()
		j := next[i]
		// Stale entries: a symbol that has since been merged away or
		// changed.
		if dead[i] || j < 0 || ids[i] != p.left || ids[j] != p.right {
			continue
		}
		ids[i] = p.merged
		dead[j] = true
		next[i] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = i
		}
		if pi := prev[i]; pi >= 0 {
			if r, m, ok := t.rank(ids[pi], ids[i]); ok {
				q.push(pair{key: uint64(r)<<32 | uint64(pi), left: ids[pi], right: ids[i], merged: m})
			}
		}
		if nj := next[i]; nj >= 0 {
			if r, m, ok := t.rank(ids[i], ids[nj]); ok {
				q.push(pair{key: uint64(r)<<32 | uint64(i), left: ids[i], right: ids[nj], merged: m})
			}
		}
	}
	out := ids[:0]
	for i := 0; i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out
}

// pair is a candidate merge of the symbol at pos with the next one.
type pair struct {
	key         uint64 // rank<<32 | pos: the heap's order
	left, right int32
	merged      int32
}

func (p pair) pos() int { return int(uint32(p.key)) }

// pairQueue is a binary min-heap of candidate merges by (rank, pos).
type pairQueue []pair

func (q pairQueue) less(a, b int) bool {
	return q[a].key < q[b].key
}

func (q pairQueue) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		m := l
		if r := l + 1; r < len(q) && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}

func (q *pairQueue) push(p pair) {
	*q = append(*q, p)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (q *pairQueue) pop() pair {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	*q = h[:n]
	(*q).down(0)
	return top
}
