package llm

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// TextCalls are the tool calls found in an assistant message's text.
type TextCalls struct {
	// Calls are in the order written. A call whose arguments could not be
	// read keeps them as written in Function.Arguments (not valid JSON), so
	// that running it yields an error the model can correct.
	Calls []ToolCall
	// Text is the content without the calls.
	Text string
}

// ParseTextToolCalls finds tool calls that a model wrote into its answer
// instead of returning them natively, as local servers do when their
// tool-call parser does not recognise the model's format:
//   - Hermes/Qwen 2.5 blocks: <tool_call>{"name": ..., "arguments": {...}}</tool_call>
//   - Qwen3-Coder blocks: <tool_call><function=NAME><parameter=P>value</parameter></function></tool_call>
//   - a fenced ```json block holding a call object (or a list of them)
//   - the whole answer being a call object or a list of them, possibly
//     after a marker such as [TOOL_CALLS] (Mistral) or <|python_tag|> (Llama)
//
// A call object has a "name" and "arguments" (or "parameters", "args",
// "input"), or a "function" object holding those. Other JSON (a final
// answer) is not a call. IDs are left empty for the caller to assign.
func ParseTextToolCalls(content string) TextCalls {
	if calls, rest, ok := taggedCalls(content); ok {
		return TextCalls{Calls: calls, Text: strings.TrimSpace(rest)}
	}
	if calls, rest, ok := fencedCalls(content); ok {
		return TextCalls{Calls: calls, Text: strings.TrimSpace(rest)}
	}
	s := strings.TrimSpace(content)
	for _, marker := range []string{"[TOOL_CALLS]", "<|python_tag|>", "<|tool_call|>", "<tool_calls>"} {
		s = strings.TrimSpace(strings.TrimPrefix(s, marker))
	}
	s = strings.TrimSpace(strings.TrimSuffix(s, "</tool_calls>"))
	if calls, ok := callsFromJSON([]byte(s)); ok {
		return TextCalls{Calls: calls}
	}
	return TextCalls{Text: content}
}

var (
	toolCallBlock = regexp.MustCompile(`(?s)<tool_call>(.*?)(?:</tool_call>|$)`)
	functionBlock = regexp.MustCompile(`(?s)<function=([^>\s]+)>(.*?)(?:</function>|$)`)
	parameterTag  = regexp.MustCompile(`(?s)<parameter=([^>\s]+)>(.*?)(?:</parameter>|$)`)
	fenced        = regexp.MustCompile("(?s)```(?:json|JSON|tool_call|tool_code)?\\s*\\n?(.*?)```")
	nameField     = regexp.MustCompile(`"name"\s*:\s*"([^"]+)"`)
)

// taggedCalls reads <tool_call> blocks and bare Qwen3-Coder <function=...>
// blocks.
func taggedCalls(content string) ([]ToolCall, string, bool) {
	var calls []ToolCall
	rest := content
	if strings.Contains(content, "<tool_call>") {
		for _, m := range toolCallBlock.FindAllStringSubmatch(content, -1) {
			inner := strings.TrimSpace(m[1])
			if fm := functionBlock.FindAllStringSubmatch(inner, -1); fm != nil {
				for _, f := range fm {
					calls = append(calls, xmlCall(f[1], f[2]))
				}
				continue
			}
			if c, ok := callsFromJSON([]byte(inner)); ok {
				calls = append(calls, c...)
				continue
			}
			calls = append(calls, malformedCall(inner))
		}
		rest = toolCallBlock.ReplaceAllString(content, "")
		return calls, rest, len(calls) > 0
	}
	if fm := functionBlock.FindAllStringSubmatch(content, -1); fm != nil {
		for _, f := range fm {
			calls = append(calls, xmlCall(f[1], f[2]))
		}
		return calls, functionBlock.ReplaceAllString(content, ""), true
	}
	return nil, content, false
}

// xmlCall builds a call from Qwen3-Coder's XML form. Parameter values are
// text; a value that is valid JSON (a number, a list) is kept as such.
func xmlCall(name, body string) ToolCall {
	args := map[string]any{}
	for _, p := range parameterTag.FindAllStringSubmatch(body, -1) {
		v := strings.TrimSpace(p[2])
		var j any
		if (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) && json.Unmarshal([]byte(v), &j) == nil {
			args[p[1]] = j
		} else {
			args[p[1]] = v
		}
	}
	b, _ := json.Marshal(args)
	return ToolCall{Type: "function", Function: FunctionCall{Name: strings.TrimSpace(name), Arguments: string(b)}}
}

// malformedCall keeps what can be read of a call that is not valid JSON:
// the name if one is written, and the text as its arguments, so that the
// model is told what was wrong.
func malformedCall(inner string) ToolCall {
	name := ""
	if m := nameField.FindStringSubmatch(inner); m != nil {
		name = m[1]
	}
	args := inner
	if i := strings.Index(inner, `"arguments"`); i >= 0 {
		args = strings.TrimSpace(inner[i+len(`"arguments"`):])
		args = strings.TrimSpace(strings.TrimPrefix(args, ":"))
		args = strings.TrimSuffix(strings.TrimSpace(args), "}")
	}
	if args == "" || json.Valid([]byte(args)) {
		// Keep it invalid: the call as a whole was not readable.
		args = inner
	}
	return ToolCall{Type: "function", Function: FunctionCall{Name: name, Arguments: args}}
}

func fencedCalls(content string) ([]ToolCall, string, bool) {
	var calls []ToolCall
	rest := content
	for _, m := range fenced.FindAllStringSubmatch(content, -1) {
		if c, ok := callsFromJSON([]byte(strings.TrimSpace(m[1]))); ok {
			calls = append(calls, c...)
			rest = strings.Replace(rest, m[0], "", 1)
		}
	}
	return calls, rest, len(calls) > 0
}

// callsFromJSON reads a call object, a list of them, or {"tool_calls": [...]}.
func callsFromJSON(b []byte) ([]ToolCall, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, false
	}
	if b[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(b, &list) != nil || len(list) == 0 {
			return nil, false
		}
		var calls []ToolCall
		for _, item := range list {
			c, ok := callFromObject(item)
			if !ok {
				return nil, false
			}
			calls = append(calls, c)
		}
		return calls, true
	}
	var wrapper struct {
		ToolCalls []json.RawMessage `json:"tool_calls"`
	}
	if json.Unmarshal(b, &wrapper) == nil && len(wrapper.ToolCalls) > 0 {
		var calls []ToolCall
		for _, item := range wrapper.ToolCalls {
			if c, ok := callFromObject(item); ok {
				calls = append(calls, c)
			}
		}
		return calls, len(calls) > 0
	}
	if c, ok := callFromObject(b); ok {
		return []ToolCall{c}, true
	}
	return nil, false
}

func callFromObject(b []byte) (ToolCall, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil {
		return ToolCall{}, false
	}
	if fn, ok := obj["function"]; ok {
		if c, ok := callFromObject(fn); ok {
			return c, true
		}
	}
	var name string
	for _, k := range []string{"name", "tool", "tool_name"} {
		if raw, ok := obj[k]; ok && json.Unmarshal(raw, &name) == nil && name != "" {
			break
		}
	}
	if name == "" {
		return ToolCall{}, false
	}
	for _, k := range []string{"arguments", "parameters", "args", "input"} {
		raw, ok := obj[k]
		if !ok {
			continue
		}
		args := string(bytes.TrimSpace(raw))
		var s string
		if json.Unmarshal(raw, &s) == nil {
			// Arguments as a JSON string, as the API itself encodes them.
			args = s
		}
		return ToolCall{Type: "function", Function: FunctionCall{Name: name, Arguments: args}}, true
	}
	if len(obj) == 1 {
		// {"name": "kubectl_events"}: a call without arguments.
		return ToolCall{Type: "function", Function: FunctionCall{Name: name, Arguments: "{}"}}, true
	}
	return ToolCall{}, false
}
