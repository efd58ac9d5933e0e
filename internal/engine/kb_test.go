package engine

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/toolsets/kb"
)

// TestPastPostmortemIsCited checks the knowledge-base hook: a postmortem
// of the same alert on the same workload is cited in the report and its
// HolmesGPT sections, and one about another workload is not.
func TestPastPostmortemIsCited(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("postmortem-checkout.md", "---\ntype: postmortem\nalertname: KubePodCrashLooping\nworkload: checkout\n---\n# Checkout OOM in November\n\n## Cause\nThe cache grew past the limit.\n")
	write("postmortem-cart.md", "---\ntype: postmortem\nalertname: KubePodCrashLooping\nworkload: cart\n---\n# Cart crash\n\n## Cause\nA bad flag.\n")
	base, err := kb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	investigate := func(b Backends) *report.Report {
		e := New(Config{}, b, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
		r, err := e.InvestigateAlerts(context.Background(), []store.Alert{firing(map[string]string{
			"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "checkout-7d9f8b6c5d-x2k4p",
		}, time.Now().Add(-5*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := investigate(Backends{KB: base})
	if len(r.References) != 1 || r.References[0].Path != "postmortem-checkout.md" || r.References[0].Title != "Checkout OOM in November" {
		t.Fatalf("references = %+v", r.References)
	}
	if kf := r.Sections[report.SectionKeyFindings]; !strings.Contains(kf, "past postmortem: Checkout OOM in November (postmortem-checkout.md)") {
		t.Errorf("Key Findings lacks the postmortem:\n%s", kf)
	}
	if !strings.Contains(r.Text(), "SEEN BEFORE") || !strings.Contains(r.Markdown(), "**Seen before**") {
		t.Error("the text and markdown renderings lack the postmortem")
	}
	if r := investigate(Backends{}); len(r.References) != 0 {
		t.Errorf("without a knowledge base: %+v", r.References)
	}
}
