package llm

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Counter counts the tokens of a text for one model family.
type Counter interface {
	// Count returns the number of tokens of s (never fewer than the
	// model's tokenizer would make of it, for an estimate).
	Count(s string) int
	// Name says which counter it is, for reports and logs.
	Name() string
}

// Template overheads, in tokens, of the chat formats the local servers
// apply (ChatML's "<|im_start|>role\n...<|im_end|>\n", Llama 3's header
// tokens, Mistral's [INST] markers): a few tokens a message, rounded up.
const (
	// MessageOverhead is the tokens a message costs beyond its content.
	MessageOverhead = 8
	// ToolCallOverhead is the tokens a tool call costs beyond its name and
	// arguments (Qwen wraps each in <tool_call>{"name": ..., "arguments": ...}</tool_call>).
	ToolCallOverhead = 16
	// ToolsOverhead is the fixed text a chat template adds around tool
	// schemas: Qwen's and Hermes' "# Tools\n\nYou may call one or more
	// functions..." with its <tools></tools> block and format instructions
	// is ~100 tokens. Templates that render schemas more verbosely
	// (Qwen3-Coder's XML) cost more; the loop calibrates its budget from
	// the server's reported prompt size after the first request.
	ToolsOverhead = 120
	// ToolOverhead is the per-tool JSON wrapping ({"type": "function",
	// "function": {...}}) beyond the schema's own text.
	ToolOverhead = 12
)

// MessageTokens counts one message as the model reads it.
func MessageTokens(c Counter, m Message) int {
	n := MessageOverhead + c.Count(m.Content)
	for _, tc := range m.ToolCalls {
		n += ToolCallOverhead + c.Count(tc.Function.Name) + c.Count(tc.Function.Arguments)
	}
	return n
}

// MessagesTokens counts a conversation.
func MessagesTokens(c Counter, msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += MessageTokens(c, m)
	}
	return n
}

// ToolsTokens counts the tool schemas as a chat template renders them into
// the prompt: as JSON, one tool a line, inside fixed instructions.
func ToolsTokens(c Counter, tools []ToolSpec) int {
	if len(tools) == 0 {
		return 0
	}
	n := ToolsOverhead
	for _, t := range tools {
		n += ToolOverhead + c.Count(RenderTool(t))
	}
	return n
}

// RenderTool renders a tool the way chat templates put it in the prompt:
// as JSON with Python's separators (", " and ": "), as Qwen's, Hermes',
// Mistral's and Llama's templates print it with tojson.
func RenderTool(t ToolSpec) string {
	params := t.Parameters
	if len(params) == 0 {
		params = json.RawMessage(`{"type":"object","properties":{}}`)
	}
	b, _ := json.Marshal(struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	}{Type: "function", Function: struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	}{t.Name, t.Description, params}})
	return PythonJSON(b)
}

// Estimator returns the conservative counter used for models without a
// known tokenizer. It splits text the way byte-level BPE pre-tokenizers do
// (letter runs, single digits, punctuation runs, whitespace) and charges
// each piece at least what the Qwen, Llama 3 and GPT-4 tokenizers charge:
// a digit is a token (Qwen and Llama split numbers into digits or groups of
// three), a punctuation character is a token, a letter that is not ASCII is
// a token, any other character that is not ASCII (emoji, symbols, unusual
// spaces and digits) a token per byte, and ASCII letters a token per three,
// more in runs that do not look like words (mixed case as in base64 and
// random IDs, letters in runs of 12 or more letters and digits as in
// hashes, runs longer than 15). On English prose, code, YAML and JSON it
// overcounts by about half; on logs and IDs it is close.
// TestEstimatorNeverUndercountsQwen3 checks it against the real Qwen3
// tokenizer on those, Russian, CJK, emoji and long inputs (texts of rare
// characters mixed at random can still be undercounted). Overcounting more
// is not free: besides smaller prompts, the loop takes a server's count
// under 60% of sleuth's for Ollama's silent truncation, and sleuth's
// prompts (English instructions, runbooks) already stand at about 1.6
// times Qwen3's count.
func Estimator() Counter { return estimator{} }

type estimator struct{}

func (estimator) Name() string { return "estimate" }

// IsEstimate reports whether c is the conservative estimator rather than a
// model's own tokenizer: its counts run well above a server's (about 1.4x
// Qwen3's on ordinary text), which callers comparing the two must allow.
func IsEstimate(c Counter) bool {
	_, ok := c.(estimator)
	return ok
}

func (estimator) Count(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r < utf8.RuneSelf && isASCIILetter(byte(r)):
			j := i
			for j < len(s) && isASCIILetter(s[j]) {
				j++
			}
			if (i > 0 && isDigit(s[i-1]) || j < len(s) && isDigit(s[j])) && alnumRun(s, i, j) >= 12 {
				// Letters inside a hash or a long ID: a token per two.
				n += max(letterRun(s[i:j]), (j-i+1)/2)
			} else {
				n += letterRun(s[i:j])
			}
			i = j
			continue
		case r == ' ' || r == '\t':
			// A single space usually merges with the next word; a run of
			// them is a token or two.
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			switch {
			case j-i > 1:
				n += 1 + (j-i)/16
			case j < len(s) && s[j] >= '0' && s[j] <= '9':
				// Qwen's pre-tokenizer joins a space to letters and
				// punctuation, but not to a digit.
				n++
			}
			i = j
			continue
		case r == '\n' || r == '\r':
			j := i
			for j < len(s) && (s[j] == '\n' || s[j] == '\r') {
				j++
			}
			n++
			i = j
			continue
		case r < utf8.RuneSelf && isASCIIPunct(byte(r)):
			// Pre-tokenizers keep a run of punctuation together and BPE
			// vocabularies hold the common runs of code, JSON and logs
			// (`":"`, `"},{"`, `://`, `-->`) as single tokens; a run is
			// charged a token per two characters, a lone one a token.
			j := i
			for j < len(s) && isASCIIPunct(s[j]) {
				j++
			}
			n += (j - i + 1) / 2
			i = j
			continue
		case r == utf8.RuneError && size == 1:
			n++ // a stray byte is a byte token
		case r >= utf8.RuneSelf && !unicode.IsLetter(r):
			// Emoji, symbols, marks, unusual spaces and digits: rarely
			// merged, so at most a token per byte.
			n += size
		default:
			// Control characters and non-ASCII letters: one each.
			n++
		}
		i += size
	}
	return n
}

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// letterRun charges a run of ASCII letters: a token per three letters of a
// word, more where the run does not look like words. It cuts the run into
// segments as camelCase reads ("CrashLoopBackOff", "OOMKilled": a capital
// and the lower-case letters after it, or a run of capitals). Segments of
// fewer than three letters on average are random mixed case (base64,
// generated IDs), which BPE tokenizes at about one token per one and a half
// letters; a segment longer than 15 letters is no word, about one per two.
func letterRun(s string) int {
	l := len(s)
	segs, extra := 0, 0
	for i := 0; i < l; {
		j := i + 1
		if s[i] < 'a' {
			for j < l && s[j] < 'a' {
				j++
			}
			switch {
			case j == i+1:
				for j < l && s[j] >= 'a' {
					j++
				}
			case j < l:
				j-- // the last capital starts the next segment
			}
		} else {
			for j < l && s[j] >= 'a' {
				j++
			}
		}
		segs++
		if n := j - i; n > 15 {
			extra += 5 + (n-14)/2 - (n+2)/3
		}
		i = j
	}
	if segs > 1 && segs*3 > l {
		return (2*l + 2) / 3
	}
	return (l+2)/3 + extra
}

// alnumRun returns the length of the run of ASCII letters and digits
// around s[i:j].
func alnumRun(s string, i, j int) int {
	isAlnum := func(b byte) bool { return isASCIILetter(b) || isDigit(b) }
	for i > 0 && isAlnum(s[i-1]) {
		i--
	}
	for j < len(s) && isAlnum(s[j]) {
		j++
	}
	return j - i
}

func isASCIIPunct(b byte) bool {
	return b > ' ' && b < 0x7f && !isASCIILetter(b) && (b < '0' || b > '9')
}

// TrimToTokens cuts s to at most max tokens by c, on a line boundary where
// one is near, and appends a note saying how much was cut. It returns s
// unchanged when it fits.
func TrimToTokens(c Counter, s string, max int) string {
	if max <= 0 {
		return ""
	}
	total := c.Count(s)
	if total <= max {
		return s
	}
	note := func(cut int) string {
		return "\n[... cut to fit the context: " + itoa(cut) + " more tokens]"
	}
	budget := max - c.Count(note(total))
	if budget <= 0 {
		return ""
	}
	// Binary search the longest prefix within budget: counting is linear,
	// so this is O(n log n) on the rare texts that need it.
	lo, hi := 0, len(s)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if c.Count(s[:mid]) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	cut := lo
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if nl := strings.LastIndexByte(s[:cut], '\n'); nl > cut*3/4 {
		cut = nl
	}
	return s[:cut] + note(total-c.Count(s[:cut]))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// CounterFor returns the best counter for a model: the model family's own
// tokenizer when sleuth has it, else the conservative Estimator.
func CounterFor(model string) Counter {
	if c := familyCounter(model); c != nil {
		return c
	}
	return Estimator()
}
