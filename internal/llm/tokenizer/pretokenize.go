package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizer patterns this package implements. Qwen2, Qwen2.5 and
// Qwen3 (and their Coder variants) use qwen2Pattern; Llama 3's differs only
// in taking numbers in groups of up to three digits.
const (
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// splitter cuts text into the pieces the pattern above matches, one after
// another (the Split pre-tokenizer with behaviour "Isolated": the pattern
// matches every character, so there are no gaps between matches).
//
// Go's regexp has no lookahead, so the pattern is implemented by hand, one
// alternative after the other in the pattern's order, as a backtracking
// engine tries them at each position:
//
//  1. (?i:'s|'t|'re|'ve|'m|'ll|'d)  an apostrophe and an English contraction
//     suffix, any case (ASCII, as the reference implementation does; the
//     Rust one would also fold U+017F "ſ" to "s")
//  2. [^\r\n\p{L}\p{N}]?\p{L}+      a run of letters, with one leading
//     character that is neither a line break, a letter nor a number
//     (usually a space, but also punctuation: "(foo", "_bar")
//  3. \p{N} (or \p{N}{1,3})         one digit (or up to three)
//  4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`   a run of punctuation or symbols, with an
//     optional leading space and the line breaks that follow it
//  5. \s*[\r\n]+                    whitespace up to and including the last
//     line break of the whitespace run
//  6. \s+(?!\S)                     a whitespace run, less its last character
//     when a non-space follows (that one goes with the next word), or all
//     of it at the end of the text
//  7. \s+                           a single whitespace character
//
// Character classes follow Unicode as the Rust tokenizers library (Oniguruma)
// does: \p{L} is unicode.IsLetter, \p{N} unicode.IsNumber and \s
// unicode.IsSpace, which includes U+0085 and not U+FEFF (JavaScript's \s is
// the reverse for these two). A byte that is not valid UTF-8 is a character
// of its own that is neither letter, number nor space.
type splitter struct {
	// digits is the longest run of digits in one piece: 1 (Qwen) or 3
	// (Llama 3).
	digits int
}

// split calls yield with each piece of s in order.
func (sp splitter) split(s string, yield func(piece string)) {
	for i := 0; i < len(s); {
		n := sp.match(s, i)
		yield(s[i : i+n])
		i += n
	}
}

func decode(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return r|0x20 >= 'a' && r|0x20 <= 'z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

// isOther is [^\s\p{L}\p{N}]. An invalid byte (decoded as utf8.RuneError)
// is one: U+FFFD is a symbol.
func isOther(r rune) bool { return r >= 0 && !isSpace(r) && !isLetter(r) && !isNumber(r) }

// letters returns the end of the run of letters starting at i.
func letters(s string, i int) int {
	for i < len(s) {
		r, w := decode(s, i)
		if !isLetter(r) {
			break
		}
		i += w
	}
	return i
}

// contraction returns the length of a contraction suffix ("s", "ll", ...)
// at the start of s, or 0.
func contraction(s string) int {
	lower := func(i int) byte {
		if i < len(s) {
			return s[i] | 0x20 // only compared with lower-case letters
		}
		return 0
	}
	switch lower(0) {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if lower(1) == 'e' {
			return 2
		}
	case 'l':
		if lower(1) == 'l' {
			return 2
		}
	}
	return 0
}

// match returns the length of the piece starting at i (at least one byte).
func (sp splitter) match(s string, i int) int {
	r, w := decode(s, i)
	// 1. contractions
	if r == '\'' {
		if n := contraction(s[i+1:]); n > 0 {
			return 1 + n
		}
	}
	// 2. [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(r) {
		return letters(s, i+w) - i
	}
	if r != '\r' && r != '\n' && !isNumber(r) {
		if r2, _ := decode(s, i+w); r2 >= 0 && isLetter(r2) {
			return letters(s, i+w) - i
		}
	}
	// 3. \p{N}{1,digits}
	if isNumber(r) {
		j := i + w
		for k := 1; k < sp.digits; k++ {
			r2, w2 := decode(s, j)
			if r2 < 0 || !isNumber(r2) {
				break
			}
			j += w2
		}
		return j - i
	}
	// 4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	j := i
	if r == ' ' {
		j++
	}
	k := j
	for {
		r2, w2 := decode(s, k)
		if r2 < 0 || !isOther(r2) {
			break
		}
		k += w2
	}
	if k > j {
		for k < len(s) && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		return k - i
	}
	// What is left is whitespace: r is neither letter, number nor other.
	// Find the run, its last line break and its last character.
	end, lastBreak, lastStart := i, -1, i
	for {
		r2, w2 := decode(s, end)
		if r2 < 0 || !isSpace(r2) {
			break
		}
		if r2 == '\r' || r2 == '\n' {
			lastBreak = end
		}
		lastStart = end
		end += w2
	}
	switch {
	case lastBreak >= 0: // 5. \s*[\r\n]+
		return lastBreak + 1 - i
	case end == len(s): // 6. \s+(?!\S) at the end of the text
		return end - i
	case lastStart > i: // 6. \s+(?!\S): all but the last character
		return lastStart - i
	default: // 7. \s+
		return end - i
	}
}
