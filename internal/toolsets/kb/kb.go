// Package kb provides the knowledge base: search over a directory of
// markdown documents (postmortems, service docs, runbooks) with ranked
// excerpts, reloaded when the files change. The model reaches it through
// the knowledge_base_search and knowledge_base_read tools; the
// deterministic investigation asks it for past postmortems of the same
// alert on the same workload, which the report cites.
//
// Ranking is BM25 over sections (a document split at its headings), which
// needs no model and no dependency and is what a person expects from a
// search box over a few hundred pages. Reloading polls modification times:
// a directory mounted from a ConfigMap changes by an atomic symlink swap
// that inotify-based watchers miss unless they watch the parent, and a
// poll of a few hundred files every 30 s costs nothing.
package kb

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// Document kinds.
const (
	KindPostmortem = "postmortem"
	KindRunbook    = "runbook"
	KindDoc        = "doc"
)

// maxFileBytes bounds one document: a knowledge base holds write-ups, not
// log dumps.
const maxFileBytes = 1 << 20

// Base is a knowledge base over one directory. It is safe for concurrent
// use.
type Base struct {
	dir  string
	log  *slog.Logger
	mu   sync.RWMutex
	idx  *index
	seen map[string]fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// Open indexes the directory. A missing directory is an error; an empty
// one is an empty base.
func Open(dir string, log *slog.Logger) (*Base, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("knowledge base: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("knowledge base: %s is not a directory", dir)
	}
	b := &Base{dir: dir, log: log}
	if _, err := b.Reload(); err != nil {
		return nil, err
	}
	return b, nil
}

// Watch reloads the base every interval until ctx ends.
func (b *Base) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed, err := b.Reload(); err != nil {
				b.log.Warn("knowledge base not reloaded", "dir", b.dir, "err", err)
			} else if changed {
				b.log.Info("knowledge base reloaded", "dir", b.dir, "documents", b.Len())
			}
		}
	}
}

// Reload re-reads the directory if any file was added, removed or
// modified since the last load, and reports whether it did.
func (b *Base) Reload() (bool, error) {
	stamps := map[string]fileStamp{}
	err := filepath.WalkDir(b.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// ConfigMap mounts keep the real files in ..data and ..<timestamp>
			// dirs behind symlinks; index the visible names only.
			if path != b.dir && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !isMarkdown(name) {
			return nil
		}
		info, err := os.Stat(path) // follows the ConfigMap symlinks
		if err != nil {
			return nil // vanished between the listing and now
		}
		stamps[path] = fileStamp{info.ModTime(), info.Size()}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("knowledge base %s: %w", b.dir, err)
	}
	b.mu.RLock()
	same := b.seen != nil && maps(b.seen, stamps)
	b.mu.RUnlock()
	if same {
		return false, nil
	}
	var docs []*Document
	for path, st := range stamps {
		if st.size > maxFileBytes {
			b.log.Warn("knowledge base document skipped: too large", "path", path, "bytes", st.size)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			b.log.Warn("knowledge base document not read", "path", path, "err", err)
			continue
		}
		rel, _ := filepath.Rel(b.dir, path)
		docs = append(docs, parseDocument(filepath.ToSlash(rel), string(data)))
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Path < docs[j].Path })
	idx := build(docs)
	b.mu.Lock()
	b.idx, b.seen = idx, stamps
	b.mu.Unlock()
	return true, nil
}

func maps(a, b map[string]fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !w.mod.Equal(v.mod) || w.size != v.size {
			return false
		}
	}
	return true
}

func isMarkdown(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".md", ".markdown":
		return true
	}
	return false
}

// Len returns the number of documents.
func (b *Base) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.idx.docs)
}

// Document is one markdown file.
type Document struct {
	// Path is relative to the base directory, with slashes.
	Path  string
	Title string
	Kind  string
	// Alerts, Workloads and Namespace come from the front matter.
	Alerts    []string
	Workloads []string
	Namespace string
	Body      string
	sections  []section
}

type section struct {
	heading string
	text    string
}

// frontMatter is the optional YAML block a document may start with.
type frontMatter struct {
	Title     string   `yaml:"title"`
	Type      string   `yaml:"type"`
	Kind      string   `yaml:"kind"`
	Alertname string   `yaml:"alertname"`
	Alerts    []string `yaml:"alerts"`
	Workload  string   `yaml:"workload"`
	Workloads []string `yaml:"workloads"`
	Service   string   `yaml:"service"`
	Namespace string   `yaml:"namespace"`
}

func parseDocument(path, text string) *Document {
	d := &Document{Path: path}
	body := strings.ReplaceAll(text, "\r\n", "\n")
	if rest, ok := strings.CutPrefix(body, "---\n"); ok {
		if fm, after, ok := strings.Cut(rest, "\n---"); ok {
			var m frontMatter
			// A broken front matter is text, not a reason to drop the page.
			if yaml.Unmarshal([]byte(fm), &m) == nil {
				d.Title = m.Title
				d.Kind = strings.ToLower(firstNonEmpty(m.Type, m.Kind))
				d.Alerts = nonEmpty(append(m.Alerts, m.Alertname))
				d.Workloads = nonEmpty(append(m.Workloads, m.Workload, m.Service))
				d.Namespace = m.Namespace
				// after starts with the rest of the closing --- line.
				_, body, _ = strings.Cut(after, "\n")
			}
		}
	}
	d.Body = body
	var cur section
	flush := func() {
		// A heading with nothing under it (a title before its first
		// section) has nothing to quote.
		if strings.TrimSpace(cur.text) != "" {
			d.sections = append(d.sections, cur)
		}
	}
	inFence := false
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if !inFence && strings.HasPrefix(line, "#") {
			h := strings.TrimSpace(strings.TrimLeft(line, "#"))
			if d.Title == "" && strings.HasPrefix(line, "# ") {
				d.Title = h
			}
			flush()
			cur = section{heading: h}
			continue
		}
		cur.text += line + "\n"
	}
	flush()
	if d.Title == "" {
		d.Title = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if d.Kind == "" {
		lp := strings.ToLower(path)
		switch {
		case strings.Contains(lp, "postmortem"), strings.Contains(lp, "post-mortem"), strings.Contains(lp, "incident"):
			d.Kind = KindPostmortem
		case strings.Contains(lp, "runbook"):
			d.Kind = KindRunbook
		default:
			d.Kind = KindDoc
		}
	}
	return d
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(s []string) []string {
	var out []string
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// index is BM25 over the sections of all documents.
type index struct {
	docs   []*Document
	chunks []chunk
	df     map[string]int
	avgLen float64
}

type chunk struct {
	doc     *Document
	heading string
	text    string
	tf      map[string]int
	length  int
}

func build(docs []*Document) *index {
	idx := &index{docs: docs, df: map[string]int{}}
	total := 0
	for _, d := range docs {
		for _, s := range d.sections {
			// The title and heading count as part of every section: a
			// section titled "Timeline" of the checkout postmortem is about
			// checkout.
			toks := tokens(d.Title + " " + s.heading + " " + s.text)
			c := chunk{doc: d, heading: s.heading, text: s.text, tf: map[string]int{}, length: len(toks)}
			for _, t := range toks {
				c.tf[t]++
			}
			for t := range c.tf {
				idx.df[t]++
			}
			total += len(toks)
			idx.chunks = append(idx.chunks, c)
		}
	}
	if len(idx.chunks) > 0 {
		idx.avgLen = float64(total) / float64(len(idx.chunks))
	}
	return idx
}

// BM25 parameters: the usual ones.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

func (idx *index) score(c *chunk, q []string) float64 {
	n := float64(len(idx.chunks))
	s := 0.0
	for _, t := range q {
		f := float64(c.tf[t])
		if f == 0 {
			continue
		}
		df := float64(idx.df[t])
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		s += idf * f * (bm25K1 + 1) / (f + bm25K1*(1-bm25B+bm25B*float64(c.length)/idx.avgLen))
	}
	return s
}

// Hit is one search result: a section of a document.
type Hit struct {
	Path    string  `json:"path"`
	Title   string  `json:"title"`
	Kind    string  `json:"kind"`
	Heading string  `json:"heading,omitempty"`
	Score   float64 `json:"score"`
	Excerpt string  `json:"excerpt"`
}

// excerptBytes bounds an excerpt: enough for a paragraph.
const excerptBytes = 600

// Search returns the best sections for the query, at most one per
// document, best first.
func (b *Base) Search(query string, limit int) []Hit {
	b.mu.RLock()
	idx := b.idx
	b.mu.RUnlock()
	return idx.search(query, limit, nil)
}

func (idx *index) search(query string, limit int, keep func(*Document) bool) []Hit {
	q := nonEmpty(tokens(query))
	if len(q) == 0 || limit <= 0 {
		return nil
	}
	best := map[*Document]int{}
	scores := make([]float64, len(idx.chunks))
	for i := range idx.chunks {
		c := &idx.chunks[i]
		if keep != nil && !keep(c.doc) {
			continue
		}
		scores[i] = idx.score(c, q)
		if scores[i] == 0 {
			continue
		}
		if j, ok := best[c.doc]; !ok || scores[i] > scores[j] {
			best[c.doc] = i
		}
	}
	var hits []Hit
	for _, i := range best {
		c := idx.chunks[i]
		hits = append(hits, Hit{Path: c.doc.Path, Title: c.doc.Title, Kind: c.doc.Kind, Heading: c.heading,
			Score: math.Round(scores[i]*100) / 100, Excerpt: excerpt(c.text, q)})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Path < hits[j].Path
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	return hits
}

// excerpt returns the lines around the first line holding a query term.
func excerpt(text string, q []string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	at := 0
	for i, l := range lines {
		lt := tokens(l)
		if slices.ContainsFunc(q, func(t string) bool { return slices.Contains(lt, t) }) {
			at = i
			break
		}
	}
	var b strings.Builder
	for _, l := range lines[max(at-1, 0):] {
		if b.Len()+len(l) > excerptBytes {
			if b.Len() == 0 {
				b.WriteString(l[:excerptBytes])
			}
			break
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

// Read returns a document by its path, or false.
func (b *Base) Read(path string) (*Document, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, d := range b.idx.docs {
		if d.Path == path {
			return d, true
		}
	}
	return nil, false
}

// Postmortems returns the past postmortems about the alert on one of the
// workloads, best first, for the deterministic stage to cite. A postmortem
// matches when its front matter (alertname/alerts, workload/workloads/
// service) or, lacking that, its text names both the alert and a workload;
// a namespace in the front matter must agree.
func (b *Base) Postmortems(_ context.Context, alertname, namespace string, workloads []string) []report.Reference {
	if alertname == "" || len(nonEmpty(workloads)) == 0 {
		return nil
	}
	b.mu.RLock()
	idx := b.idx
	b.mu.RUnlock()
	workloads = nonEmpty(workloads)
	keep := func(d *Document) bool {
		if d.Kind != KindPostmortem {
			return false
		}
		if d.Namespace != "" && namespace != "" && d.Namespace != namespace {
			return false
		}
		alertOK := slices.ContainsFunc(d.Alerts, func(a string) bool { return strings.EqualFold(a, alertname) })
		if len(d.Alerts) == 0 {
			alertOK = mentions(d, alertname)
		}
		workOK := slices.ContainsFunc(d.Workloads, func(w string) bool {
			return slices.ContainsFunc(workloads, func(x string) bool { return strings.EqualFold(w, x) })
		})
		if len(d.Workloads) == 0 {
			workOK = slices.ContainsFunc(workloads, func(w string) bool { return mentions(d, w) })
		}
		return alertOK && workOK
	}
	hits := idx.search(alertname+" "+strings.Join(workloads, " "), 3, keep)
	var out []report.Reference
	for _, h := range hits {
		out = append(out, report.Reference{Kind: h.Kind, Title: h.Title, Path: h.Path, Excerpt: h.Excerpt})
	}
	return out
}

// mentions reports whether the document's text names the identifier as a
// whole: "checkout" is not mentioned by "checkout-api", a different
// service.
func mentions(d *Document, name string) bool {
	name = strings.ToLower(strings.Trim(name, "-_."))
	if name == "" {
		return false
	}
	return slices.Contains(identifiers(d.Title+"\n"+d.Body), name)
}

// identifiers splits text into lowercase words that keep their inner
// hyphens, underscores and dots (checkout-api, kube-state-metrics).
func identifiers(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' && r != '.'
	}) {
		if w = strings.Trim(w, "-_."); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// tokenize splits text into lowercase words of letters and digits; the
// parts of checkout-api are checkout and api.
func tokenize(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// tokens are the index terms of text: its words without stop words, and
// each hyphenated or dotted identifier whole as well, so that a search for
// checkout-api ranks that service above every page saying "checkout".
func tokens(s string) []string {
	var out []string
	for _, w := range identifiers(s) {
		parts := tokenize(w)
		if len(parts) > 1 {
			out = append(out, w)
		}
		for _, p := range parts {
			if !stopWords[p] {
				out = append(out, p)
			}
		}
	}
	return out
}

var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be but by for from has have in into is it its of on or that the
		their then there these this to was were will with not no we our you your i he she they them what when which who
		why how do does did so if than too very can could should would`) {
		stopWords[w] = true
	}
}
