package main

import (
	"strings"

	"github.com/sleuth-sre/sleuth/internal/llm"
)

// renderQwen3 renders a request with Qwen3's chat template (the
// chat_template of the tokenizer_config.json beside the tokenizer.json that
// internal/llm/tokenizer/qwen3 embeds), as a vLLM or MLX server does before
// tokenizing: the system prompt and the tools (tojson: Python's separators)
// in the first turn, tool calls as <tool_call> blocks, consecutive tool
// answers in one user turn as <tool_response> blocks, then the generation
// prompt. Thinking blocks are left out: sleuth sends none back.
func renderQwen3(req chatRequest) string {
	var b strings.Builder
	msgs := req.Messages
	start := 0
	if len(req.Tools) > 0 {
		b.WriteString("<|im_start|>system\n")
		if len(msgs) > 0 && msgs[0].Role == "system" {
			b.WriteString(msgs[0].text() + "\n\n")
			start = 1
		}
		b.WriteString("# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>")
		for _, t := range req.Tools {
			b.WriteString("\n" + llm.PythonJSON(t))
		}
		b.WriteString("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n")
	}
	for i := start; i < len(msgs); i++ {
		m := msgs[i]
		switch m.Role {
		case "system", "user":
			b.WriteString("<|im_start|>" + m.Role + "\n" + m.text() + "<|im_end|>\n")
		case "assistant":
			content := m.text()
			b.WriteString("<|im_start|>assistant\n" + content)
			for k, tc := range m.ToolCalls {
				if k > 0 || content != "" {
					b.WriteString("\n")
				}
				b.WriteString("<tool_call>\n{\"name\": \"" + tc.Function.Name + "\", \"arguments\": " + tc.Function.Arguments + "}\n</tool_call>")
			}
			b.WriteString("<|im_end|>\n")
		case "tool":
			if i == 0 || msgs[i-1].Role != "tool" {
				b.WriteString("<|im_start|>user")
			}
			b.WriteString("\n<tool_response>\n" + m.text() + "\n</tool_response>")
			if i == len(msgs)-1 || msgs[i+1].Role != "tool" {
				b.WriteString("<|im_end|>\n")
			}
		}
	}
	b.WriteString("<|im_start|>assistant\n")
	return b.String()
}
