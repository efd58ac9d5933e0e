package llm

import (
	"bytes"
	"encoding/json"
	"strings"
)

// PythonJSON re-writes JSON the way Hugging Face chat templates print it
// (Jinja's tojson in transformers is Python's json.dumps with
// ensure_ascii=False, and llama.cpp's minja imitates it): ", " between
// items, ": " after keys, no HTML escapes, keys in their order. That is a
// token or two more per key than compact JSON. Invalid JSON is returned as
// it is.
func PythonJSON(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b strings.Builder
	type frame struct {
		object bool
		n      int
	}
	var stack []frame
	var sb bytes.Buffer
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	for {
		tok, err := dec.Token()
		if err != nil {
			if len(stack) > 0 || b.Len() == 0 {
				return string(raw)
			}
			return b.String()
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			b.WriteByte(byte(d))
			continue
		}
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			switch {
			case f.object && f.n%2 == 1:
				b.WriteString(": ")
			case f.n > 0:
				b.WriteString(", ")
			}
			f.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			b.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{'})
		case string:
			sb.Reset()
			enc.Encode(v)
			b.Write(bytes.TrimSuffix(sb.Bytes(), []byte("\n")))
		case json.Number:
			b.WriteString(v.String())
		case bool:
			if v {
				b.WriteString("true")
			} else {
				b.WriteString("false")
			}
		case nil:
			b.WriteString("null")
		}
	}
}
