package kb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/toolcall"
	"github.com/sleuth-sre/sleuth/internal/tools"
)

// Tool names.
const (
	SearchTool = "knowledge_base_search"
	ReadTool   = "knowledge_base_read"
)

// maxReadBytes bounds a document read by the model: a long page would
// crowd out the evidence in a small context.
const maxReadBytes = 8 << 10

// Toolset returns the knowledge-base toolset over b.
func Toolset(b *Base) tools.Toolset {
	return tools.Toolset{
		Name:         "knowledge_base",
		Description:  "Search the team's postmortems, service docs and runbooks.",
		Enabled:      true,
		Instructions: "Search the knowledge base for the alert, the service and the error before concluding: a past postmortem of the same failure names its cause and fix.",
		Tools:        []tools.Tool{&searchTool{b}, &readTool{b}},
	}
}

type searchTool struct{ b *Base }

func (t *searchTool) Name() string { return SearchTool }
func (t *searchTool) Description() string {
	return "Search postmortems, service docs and runbooks; returns ranked excerpts with their paths."
}
func (t *searchTool) Parameters() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","description":"Words to look for: alert name, service, error message"},"limit":{"type":"integer","description":"Most results (default 5)"}},"required":["query"]}`)
}

func (t *searchTool) Run(_ context.Context, args map[string]any) (tools.Result, error) {
	q, _ := args["query"].(string)
	if strings.TrimSpace(q) == "" {
		return tools.Result{}, fmt.Errorf("query is required")
	}
	limit := 5
	if l, ok := args["limit"].(float64); ok && l >= 1 {
		limit = min(int(l), 20)
	}
	res := tools.Result{Description: fmt.Sprintf("knowledge_base_search %q", q)}
	hits := t.b.Search(q, limit)
	if len(hits) == 0 {
		res.NoData = true
		return res, nil
	}
	var b strings.Builder
	for i, h := range hits {
		loc := h.Path
		if h.Heading != "" {
			loc += " > " + h.Heading
		}
		fmt.Fprintf(&b, "%d. [%s] %s (%s, score %.2f)\n", i+1, h.Kind, h.Title, loc, h.Score)
		for _, l := range strings.Split(h.Excerpt, "\n") {
			fmt.Fprintf(&b, "   %s\n", l)
		}
	}
	res.Text = strings.TrimRight(b.String(), "\n")
	return res, nil
}

type readTool struct{ b *Base }

func (t *readTool) Name() string { return ReadTool }
func (t *readTool) Description() string {
	return "Read one knowledge-base document by the path a search returned."
}
func (t *readTool) Parameters() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"path":{"type":"string","description":"The document's path, as knowledge_base_search printed it"}},"required":["path"]}`)
}

func (t *readTool) Run(_ context.Context, args map[string]any) (tools.Result, error) {
	p, _ := args["path"].(string)
	// Only indexed documents can be read: a path is a key, never opened as
	// given, so ../ leads nowhere.
	p, _, _ = strings.Cut(p, " > ")
	d, ok := t.b.Read(strings.TrimSpace(p))
	if !ok {
		return tools.Result{}, fmt.Errorf("no document %q in the knowledge base; search first", p)
	}
	text, cut := toolcall.Truncate("# "+d.Title+"\n"+d.Body, maxReadBytes)
	if cut {
		text += "\n[cut at 8 KiB]"
	}
	return tools.Result{Text: text, Truncated: cut, Description: "knowledge_base_read " + d.Path}, nil
}
