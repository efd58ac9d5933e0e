package tools

import "testing"

func TestPromptNotes(t *testing.T) {
	var r Registry
	if got := r.PromptNotes(); got != "" {
		t.Errorf("empty registry: %q", got)
	}
	r.Add(Toolset{Name: "knowledge_base", Enabled: true, Instructions: "Search postmortems first. "})
	r.Add(Toolset{Name: "victorialogs", Enabled: false, Reason: "environment variable VLOGS_URL not set (vl.yaml:5)"})
	r.Add(Toolset{Name: "plain", Enabled: true})
	want := "- knowledge_base: Search postmortems first.\n- victorialogs is unavailable: environment variable VLOGS_URL not set (vl.yaml:5)\n"
	if got := r.PromptNotes(); got != want {
		t.Errorf("PromptNotes =\n%q\nwant\n%q", got, want)
	}
}
