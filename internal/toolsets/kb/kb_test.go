package kb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/report"
)

func open(t *testing.T, dir string) *Base {
	t.Helper()
	b, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSearchRanksTheRightSection(t *testing.T) {
	b := open(t, "testdata/kb")
	if b.Len() != 5 {
		t.Fatalf("indexed %d documents, want 5", b.Len())
	}
	f := func(q, wantPath, wantHeading, wantInExcerpt string) {
		t.Helper()
		hits := b.Search(q, 3)
		if len(hits) == 0 {
			t.Fatalf("%q: no hits", q)
		}
		h := hits[0]
		if h.Path != wantPath || h.Heading != wantHeading || !strings.Contains(h.Excerpt, wantInExcerpt) {
			t.Errorf("%q: best = %s > %s: %q; want %s > %s containing %q", q, h.Path, h.Heading, h.Excerpt, wantPath, wantHeading, wantInExcerpt)
		}
	}
	f("checkout OOMKilled memory limit", "postmortems/2025-11-03-checkout-oom.md", "Summary", "512Mi")
	f("connection refused 5432", "postmortems/2025-12-payments-db.md", "What happened", "connection refused")
	f("CACHE_MAX_ITEMS 768Mi", "postmortems/2025-11-03-checkout-oom.md", "Fix", "CACHE_MAX_ITEMS=5000")
	f("owner of checkout", "services/checkout.md", "checkout service", "team-shop")
	f("disk full node", "runbook-disk.md", "Disk full on a node", "node_filesystem_avail_bytes")
	f("checkout-api", "postmortems/2026-01-checkout-api-latency.md", "checkout-api latency", "bad flag")
	if hits := b.Search("the and of", 3); len(hits) != 0 {
		t.Errorf("stop words matched %v", hits)
	}
	// One hit per document, however many of its sections match.
	seen := map[string]bool{}
	for _, h := range b.Search("checkout", 10) {
		if seen[h.Path] {
			t.Errorf("%s returned twice", h.Path)
		}
		seen[h.Path] = true
	}
	if got := b.Search("runbook-disk", 3); len(got) == 0 || got[0].Kind != KindRunbook {
		t.Errorf("kind from the path: %+v", got)
	}
}

func TestPostmortemsOfTheSameAlertAndWorkload(t *testing.T) {
	b := open(t, "testdata/kb")
	f := func(alert, ns string, workloads []string, want ...string) {
		t.Helper()
		var got []string
		for _, r := range b.Postmortems(context.Background(), alert, ns, workloads) {
			got = append(got, r.Path)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Postmortems(%s, %s, %v) (-want +got):\n%s", alert, ns, workloads, diff)
		}
	}
	// From the front matter.
	f("KubePodCrashLooping", "shop", []string{"checkout"}, "postmortems/2025-11-03-checkout-oom.md")
	// From the text, without front matter.
	f("KubePodCrashLooping", "shop", []string{"payments"}, "postmortems/2025-12-payments-db.md")
	// checkout-api is another service: its postmortem is not checkout's.
	f("KubePodCrashLooping", "", []string{"checkout-api"}, "postmortems/2026-01-checkout-api-latency.md")
	// Another alert, another namespace, another workload: nothing.
	f("KubeNodeNotReady", "shop", []string{"checkout"})
	f("KubePodCrashLooping", "staging", []string{"checkout"})
	f("KubePodCrashLooping", "shop", []string{"cart"})
	// The service doc mentions checkout but is not a postmortem.
	refs := b.Postmortems(context.Background(), "KubePodCrashLooping", "shop", []string{"checkout"})
	if len(refs) != 1 || refs[0].Kind != KindPostmortem || refs[0].Title != "2025-11-03: checkout OOMKilled after the cache change" || refs[0].Excerpt == "" {
		t.Errorf("reference = %+v", refs)
	}
	var _ []report.Reference = refs
}

func TestReloadSeesAddedChangedAndRemovedFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mod time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		// Explicit times: two writes within the file system's timestamp
		// granularity must still count as a change.
		os.Chtimes(p, mod, mod)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write("a.md", "# A\nalpha", t0)
	b := open(t, dir)
	if changed, err := b.Reload(); err != nil || changed {
		t.Errorf("Reload with nothing changed = %v, %v", changed, err)
	}
	write("sub/b.md", "# B\nbravo", t0)
	write("notes.txt", "charlie", t0)
	if changed, _ := b.Reload(); !changed || len(b.Search("bravo", 1)) != 1 || len(b.Search("charlie", 1)) != 0 {
		t.Errorf("added file: changed=%v", changed)
	}
	write("a.md", "# A\ndelta", t0.Add(time.Second))
	if changed, _ := b.Reload(); !changed || len(b.Search("delta", 1)) != 1 || len(b.Search("alpha", 1)) != 0 {
		t.Errorf("modified file: changed=%v", changed)
	}
	os.Remove(filepath.Join(dir, "sub/b.md"))
	if changed, _ := b.Reload(); !changed || len(b.Search("bravo", 1)) != 0 {
		t.Errorf("removed file: changed=%v", changed)
	}
	// A ConfigMap mount: the files are symlinks into ..data.
	os.MkdirAll(filepath.Join(dir, "..2026_01_01", "x"), 0o755)
	write("..2026_01_01/cm.md", "# CM\necho", t0)
	os.Symlink("..2026_01_01/cm.md", filepath.Join(dir, "cm.md"))
	if changed, _ := b.Reload(); !changed || len(b.Search("echo", 5)) != 1 {
		t.Errorf("ConfigMap-style symlink: changed=%v hits=%v", changed, b.Search("echo", 5))
	}
}

func TestTools(t *testing.T) {
	b := open(t, "testdata/kb")
	ts := Toolset(b)
	search, read := ts.Tools[0], ts.Tools[1]
	res, err := search.Run(context.Background(), map[string]any{"query": "OOMKilled checkout", "limit": float64(2)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Text, "1. [postmortem] 2025-11-03: checkout OOMKilled after the cache change (postmortems/2025-11-03-checkout-oom.md > Summary, score ") {
		t.Errorf("search text:\n%s", res.Text)
	}
	res, err = read.Run(context.Background(), map[string]any{"path": "postmortems/2025-11-03-checkout-oom.md > Summary"})
	if err != nil || !strings.Contains(res.Text, "CACHE_MAX_ITEMS=5000") {
		t.Errorf("read: %v %q", err, res.Text)
	}
	for _, p := range []string{"../kb_test.go", "/etc/passwd", "postmortems/../../kb.go"} {
		if _, err := read.Run(context.Background(), map[string]any{"path": p}); err == nil {
			t.Errorf("read %q succeeded", p)
		}
	}
	res, err = search.Run(context.Background(), map[string]any{"query": "zzzz-nothing"})
	if err != nil || !res.NoData {
		t.Errorf("no hits: %v %+v", err, res)
	}
}
