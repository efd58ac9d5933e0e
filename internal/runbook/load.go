package runbook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sleuth-sre/sleuth/runbooks"
)

// maxFileBytes bounds a runbook file. It is a ConfigMap's size limit, the
// way the seed ships runbooks, so no real file comes near it.
const maxFileBytes = 1 << 20

// LoadError is a problem with a runbook file: where it is and what.
type LoadError struct {
	File string
	// Line is 1-based; 0 when the problem is the whole file.
	Line int
	// Key is the path of the offending key, such as
	// "sleuth_runbooks[2].steps[0].args.query"; empty for the whole file.
	Key string
	Msg string
}

func (e LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load loads the runbook files of each path: a directory's *.yaml and *.yml
// files in name order (skipping dot-files, so the ..data links of a mounted
// ConfigMap are not read twice), or a file named directly. A file holds
// legacy runbooks ("runbooks:"), native ones ("sleuth_runbooks:") or both;
// a Kubernetes ConfigMap manifest is read as the files its data keys
// ending in .yaml or .yml would be once mounted.
//
// A file with any error contributes no runbooks; the other files still
// load. The errors name the file, the line and the key.
func Load(paths ...string) (*Set, []LoadError) {
	l := newLoader()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			l.fail(p, 0, "", pathErr(err))
			continue
		}
		if !fi.IsDir() {
			l.readFile(p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			l.fail(p, 0, "", pathErr(err))
			continue
		}
		for _, e := range entries {
			if !runbookFileName(e.Name()) {
				continue
			}
			full := filepath.Join(p, e.Name())
			// Stat, not the entry's type: mounted ConfigMap files are symlinks.
			if fi, err := os.Stat(full); err == nil && fi.IsDir() {
				continue
			}
			l.readFile(full)
		}
	}
	return l.set, l.errs
}

// Builtin loads the runbooks shipped in the binary (the repository's
// runbooks directory). Their sources are named builtin/FILE.
func Builtin() (*Set, []LoadError) {
	l := newLoader()
	entries, err := fs.ReadDir(runbooks.FS, ".")
	if err != nil {
		l.fail("builtin", 0, "", err.Error())
		return l.set, l.errs
	}
	for _, e := range entries {
		if !runbookFileName(e.Name()) {
			continue
		}
		data, err := fs.ReadFile(runbooks.FS, e.Name())
		name := path.Join("builtin", e.Name())
		if err != nil {
			l.fail(name, 0, "", err.Error())
			continue
		}
		l.file(name, data)
	}
	return l.set, l.errs
}

func runbookFileName(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"))
}

func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

type loader struct {
	set   *Set
	errs  []LoadError
	names map[string]string // native runbook name -> file:line
}

func newLoader() *loader {
	return &loader{set: &Set{}, names: map[string]string{}}
}

func (l *loader) fail(file string, line int, key, msg string) {
	l.errs = append(l.errs, LoadError{File: file, Line: line, Key: key, Msg: msg})
	l.set.files = append(l.set.files, File{Path: file, Failed: true})
}

func (l *loader) readFile(name string) {
	f, err := os.Open(name)
	if err != nil {
		l.fail(name, 0, "", pathErr(err))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		l.fail(name, 0, "", pathErr(err))
		return
	}
	l.file(name, data)
}

// file loads one file's bytes under the name errors will show.
func (l *loader) file(name string, data []byte) {
	if len(data) > maxFileBytes {
		l.fail(name, 0, "", fmt.Sprintf("larger than %d bytes, a ConfigMap's limit", maxFileBytes))
		return
	}
	docs, err := decodeDocuments(data)
	if err != nil {
		line, msg := yamlError(err)
		l.fail(name, line, "", msg)
		return
	}
	if len(docs) > 0 && isManifest(docs[0]) {
		l.manifest(name, docs)
		return
	}
	if len(docs) > 1 {
		l.fail(name, docs[1].Line, "", fmt.Sprintf("%d YAML documents; a runbook file holds one", len(docs)))
		return
	}
	var root *yaml.Node
	if len(docs) == 1 {
		root = docs[0]
	}
	l.document(name, root, func(n int) int { return n })
}

func decodeDocuments(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(n.Content) > 0 {
			docs = append(docs, n.Content[0])
		}
	}
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlError splits the line number off a YAML parser error.
func yamlError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, msg[len(m[0]):]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// isManifest tells a Kubernetes object from a runbook file.
func isManifest(n *yaml.Node) bool {
	return valueNode(n, "apiVersion") != nil && valueNode(n, "kind") != nil
}

// manifest loads the runbook files a ConfigMap manifest holds, so that CI
// can check the manifests kept in git, which is how the seed keeps its
// runbooks. Each data key becomes a file named MANIFEST[KEY].
func (l *loader) manifest(name string, docs []*yaml.Node) {
	found := false
	for i, doc := range docs {
		if kind := valueNode(doc, "kind"); kind == nil || kind.Value != "ConfigMap" {
			l.fail(name, doc.Line, "", fmt.Sprintf("document %d is not a ConfigMap; a manifest file may hold only ConfigMaps of runbooks", i+1))
			return
		}
		data := valueNode(doc, "data")
		if data == nil || data.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(data.Content); j += 2 {
			k, v := data.Content[j], data.Content[j+1]
			if !runbookFileName(k.Value) {
				continue
			}
			found = true
			file := fmt.Sprintf("%s[%s]", name, k.Value)
			// A literal block's content starts on the line after its
			// indicator, so inner line n is outer line v.Line+n; other
			// styles fold lines and can only point at the value.
			lines := func(int) int { return v.Line }
			if v.Style == yaml.LiteralStyle {
				lines = func(n int) int { return v.Line + n }
			}
			inner, err := decodeDocuments([]byte(v.Value))
			if err != nil {
				line, msg := yamlError(err)
				l.fail(file, lines(line), "", msg)
				continue
			}
			if len(inner) > 1 {
				l.fail(file, lines(inner[1].Line), "", fmt.Sprintf("%d YAML documents; a runbook file holds one", len(inner)))
				continue
			}
			var root *yaml.Node
			if len(inner) == 1 {
				root = inner[0]
			}
			l.document(file, root, lines)
		}
	}
	if !found {
		l.fail(name, 0, "", "a manifest without data keys ending in .yaml or .yml: no runbooks")
	}
}

// The shape of a runbook file. The yaml tags are the keys users write;
// checkNode compares documents against these types key by key.
type fileDoc struct {
	Runbooks       []legacyDoc `yaml:"runbooks"`
	SleuthRunbooks []nativeDoc `yaml:"sleuth_runbooks"`
}

// legacyDoc is HolmesGPT's Runbook model: match and instructions, both
// required, nothing else (its pydantic model forbids extra keys).
type legacyDoc struct {
	Match        matchDoc `yaml:"match"`
	Instructions string   `yaml:"instructions"`
}

type matchDoc struct {
	IssueID   *string `yaml:"issue_id"`
	IssueName *string `yaml:"issue_name"`
	Source    *string `yaml:"source"`
}

type nativeDoc struct {
	Name         string     `yaml:"name"`
	Category     stringList `yaml:"category"`
	AlertName    *string    `yaml:"alertname"`
	Matchers     []string   `yaml:"matchers"`
	Instructions string     `yaml:"instructions"`
	Steps        []stepDoc  `yaml:"steps"`
}

type stepDoc struct {
	Tool        string    `yaml:"tool"`
	Description string    `yaml:"description"`
	Args        yaml.Node `yaml:"args"` // checked against the tool's arguments
}

// stringList is a string or a list of strings.
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var v string
		if err := n.Decode(&v); err != nil {
			return err
		}
		*s = stringList{v}
		return nil
	}
	var v []string
	if err := n.Decode(&v); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = v
	return nil
}

// fileErrors collects one file's errors.
type fileErrors struct {
	file  string
	lines func(int) int
	errs  []LoadError
	// structural says checkNode found errors: a value of the wrong type
	// was reported there and is not reported again when decoding.
	structural bool
}

// decodeFailed reports a decoding error unless checkNode already did.
func (fe *fileErrors) decodeFailed(n *yaml.Node, key string, err error) {
	if !fe.structural {
		fe.add(n, key, "%s", yamlMessage(err))
	}
}

func (fe *fileErrors) add(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = fe.lines(n.Line)
	}
	fe.errs = append(fe.errs, LoadError{File: fe.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// document loads one runbook document. lines maps the document's line
// numbers to the file's.
func (l *loader) document(name string, root *yaml.Node, lines func(int) int) {
	fe := &fileErrors{file: name, lines: lines}
	var rbs []*Runbook
	switch {
	case root == nil || root.Tag == "!!null":
		// An empty file holds no runbooks.
	case root.Kind != yaml.MappingNode:
		fe.add(root, "", "want a mapping with the keys runbooks (HolmesGPT's format) and/or sleuth_runbooks")
	default:
		fe.checkNode(root, reflect.TypeFor[fileDoc](), "")
		// Go on after a structural error, so that one run reports every
		// mistake; the file's runbooks are dropped below either way.
		fe.structural = len(fe.errs) > 0
		rbs = l.runbooks(fe, root)
	}
	if len(fe.errs) > 0 {
		l.errs = append(l.errs, fe.errs...)
		l.set.files = append(l.set.files, File{Path: name, Failed: true})
		return
	}
	for _, r := range rbs {
		if r.Kind == Native {
			l.names[r.Name] = fmt.Sprintf("%s:%d", r.Source, r.Line)
		}
	}
	l.set.runbooks = append(l.set.runbooks, rbs...)
	l.set.files = append(l.set.files, File{Path: name, Runbooks: len(rbs)})
}

func (l *loader) runbooks(fe *fileErrors, root *yaml.Node) []*Runbook {
	var rbs []*Runbook
	if seq := valueNode(root, "runbooks"); seq != nil && seq.Kind == yaml.SequenceNode {
		for i, item := range seq.Content {
			if r := fe.legacy(resolve(item), i); r != nil {
				rbs = append(rbs, r)
			}
		}
	}
	seen := map[string]int{}
	if seq := valueNode(root, "sleuth_runbooks"); seq != nil && seq.Kind == yaml.SequenceNode {
		for i, item := range seq.Content {
			item = resolve(item)
			r := fe.native(item, i)
			if r == nil {
				continue
			}
			key := fmt.Sprintf("sleuth_runbooks[%d].name", i)
			if at, ok := l.names[r.Name]; ok {
				fe.add(valueNode(item, "name"), key, "runbook %q is already defined at %s", r.Name, at)
				continue
			}
			if j, ok := seen[r.Name]; ok {
				fe.add(valueNode(item, "name"), key, "runbook %q is already defined at line %d", r.Name, fe.lines(j))
				continue
			}
			seen[r.Name] = item.Line
			rbs = append(rbs, r)
		}
	}
	return rbs
}

func (fe *fileErrors) legacy(item *yaml.Node, i int) *Runbook {
	prefix := fmt.Sprintf("runbooks[%d]", i)
	var doc legacyDoc
	if err := item.Decode(&doc); err != nil {
		fe.decodeFailed(item, prefix, err)
		return nil
	}
	ok := true
	for _, k := range []string{"match", "instructions"} {
		if valueNode(item, k) == nil {
			fe.add(item, prefix+"."+k, "required (a HolmesGPT runbook has match and instructions)")
			ok = false
		}
	}
	r := &Runbook{
		Kind: Legacy, Line: fe.lines(item.Line), Index: i, Source: fe.file,
		Instructions: doc.Instructions,
		IssueID:      doc.Match.IssueID, IssueName: doc.Match.IssueName, IssueSource: doc.Match.Source,
	}
	match := valueNode(item, "match")
	for k, p := range []*string{doc.Match.IssueID, doc.Match.IssueName, doc.Match.Source} {
		if p == nil {
			continue
		}
		re, err := compilePython(*p)
		if err != nil {
			fe.add(valueNode(match, issueKeys[k]), prefix+".match."+issueKeys[k], "%v", err)
			ok = false
			continue
		}
		r.issue[k] = re
	}
	if !ok {
		return nil
	}
	return r
}

// runbookNameRE is a native runbook's name: a DNS label, like a scenario's.
var runbookNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (fe *fileErrors) native(item *yaml.Node, i int) *Runbook {
	prefix := fmt.Sprintf("sleuth_runbooks[%d]", i)
	var doc nativeDoc
	if err := item.Decode(&doc); err != nil {
		fe.decodeFailed(item, prefix, err)
		return nil
	}
	before := len(fe.errs)
	bad := func(key, format string, args ...any) {
		n := valueNode(item, key)
		if n == nil {
			n = item
		}
		fe.add(n, prefix+"."+key, format, args...)
	}
	r := &Runbook{
		Kind: Native, Name: doc.Name, Line: fe.lines(item.Line), Index: i, Source: fe.file,
		Instructions: doc.Instructions, Categories: doc.Category,
	}
	switch {
	case doc.Name == "":
		bad("name", "required")
	case len(doc.Name) > 63 || !runbookNameRE.MatchString(doc.Name):
		bad("name", "%q: want lower-case letters, digits and dashes, at most 63", doc.Name)
	}
	for _, c := range doc.Category {
		if !slices.Contains(categories, c) {
			bad("category", "unknown category %q; the taxonomy's are %s", c, strings.Join(categories, ", "))
		}
	}
	if doc.AlertName != nil {
		r.AlertName = *doc.AlertName
		re, err := compileFull(*doc.AlertName)
		if err != nil {
			bad("alertname", "%v", err)
		}
		r.alertName = re
	}
	ms := valueNode(item, "matchers")
	for j, s := range doc.Matchers {
		m, err := ParseMatcher(s)
		if err != nil {
			fe.add(ms.Content[j], fmt.Sprintf("%s.matchers[%d]", prefix, j), "%v", err)
			continue
		}
		r.Matchers = append(r.Matchers, m)
	}
	if doc.AlertName == nil && len(doc.Matchers) == 0 {
		fe.add(item, prefix, "needs alertname or matchers (alertname: \".*\" matches every alert)")
	}
	if strings.TrimSpace(doc.Instructions) == "" {
		bad("instructions", "required: say what the evidence means and what to do")
	}
	steps := valueNode(item, "steps")
	if len(doc.Steps) > MaxSteps {
		bad("steps", "%d steps; a runbook may have at most %d", len(doc.Steps), MaxSteps)
	} else {
		for j := range doc.Steps {
			if s := fe.step(resolve(steps.Content[j]), doc.Steps[j], fmt.Sprintf("%s.steps[%d]", prefix, j)); s != nil {
				s.Runbook, s.Index = doc.Name, j
				r.Steps = append(r.Steps, s)
			}
		}
	}
	if len(fe.errs) > before {
		return nil
	}
	return r
}

func (fe *fileErrors) step(n *yaml.Node, doc stepDoc, prefix string) *Step {
	specs, ok := tools[doc.Tool]
	if !ok {
		at := valueNode(n, "tool")
		if at == nil {
			at = n
		}
		if doc.Tool == "" {
			fe.add(at, prefix+".tool", "required: one of %s", strings.Join(ToolNames(), ", "))
		} else {
			fe.add(at, prefix+".tool", "unknown tool %q; want one of %s", doc.Tool, strings.Join(ToolNames(), ", "))
		}
		return nil
	}
	before := len(fe.errs)
	s := &Step{Tool: doc.Tool, Description: doc.Description, Line: fe.lines(n.Line)}
	given := map[string]*yaml.Node{}
	args := valueNode(n, "args")
	if args != nil && args.Kind != yaml.MappingNode && args.Tag != "!!null" {
		fe.add(args, prefix+".args", "want a mapping of argument names to values")
		return nil
	}
	if args != nil && args.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(args.Content); i += 2 {
			k, v := args.Content[i], resolve(args.Content[i+1])
			if !slices.ContainsFunc(specs, func(a argSpec) bool { return a.name == k.Value }) {
				fe.add(k, prefix+".args."+k.Value, "unknown argument of %s; it takes %s", doc.Tool, argNames(specs))
				continue
			}
			if v.Kind != yaml.ScalarNode {
				fe.add(v, prefix+".args."+k.Value, "want a single value, not a list or mapping")
				continue
			}
			if v.Tag != "!!null" {
				given[k.Value] = v
			}
		}
	}
	for _, spec := range specs {
		key := prefix + ".args." + spec.name
		v, ok := given[spec.name]
		if !ok {
			if spec.required {
				fe.add(n, key, "required by %s", doc.Tool)
			}
			s.args = append(s.args, stepArg{spec: spec, raw: spec.def})
			continue
		}
		a, err := newArg(spec, v.Value)
		if err != nil {
			fe.add(v, key, "%v", err)
			continue
		}
		s.args = append(s.args, a)
	}
	if len(fe.errs) > before {
		return nil
	}
	if err := checkRangeStep(s); err != nil {
		fe.add(n, prefix+".args.step", "%v", err)
		return nil
	}
	slices.SortFunc(s.args, func(a, b stepArg) int { return strings.Compare(a.spec.name, b.spec.name) })
	return s
}

func argNames(specs []argSpec) string {
	var names []string
	for _, a := range specs {
		n := a.name
		if a.required {
			n += " (required)"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// newArg validates one argument as written.
func newArg(spec argSpec, v string) (stepArg, error) {
	a := stepArg{spec: spec, raw: v}
	if !spec.typ.templated() && strings.Contains(v, "{{") {
		return a, fmt.Errorf("a %s is written literally; templates are for queries and names", spec.typ)
	}
	switch spec.typ {
	case argPromQL, argLogsQL, argName, argKind:
		t, err := parseArg(spec.name, v, spec.typ)
		if err != nil {
			return a, err
		}
		if err := checkQuery(t, spec.typ); err != nil {
			return a, err
		}
		if !strings.Contains(v, "{{") {
			if err := validateValue(spec.typ, v); err != nil {
				return a, err
			}
		}
		a.tmpl = t
	case argDuration:
		d, err := parseDuration(v)
		if err != nil || d <= 0 || d > maxRange {
			return a, fmt.Errorf("want a duration such as 30m, 1h or 2d, at most %s; got %q", fmtDuration(maxRange), v)
		}
	case argInt:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLines {
			return a, fmt.Errorf("want a whole number from 1 to %d; got %q", maxLines, v)
		}
	case argBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return a, fmt.Errorf("want true or false; got %q", v)
		}
	}
	return a, nil
}

// checkRangeStep bounds a range query's points.
func checkRangeStep(s *Step) error {
	var rng, step string
	for _, a := range s.args {
		switch a.spec.name {
		case "range":
			rng = a.raw
		case "step":
			step = a.raw
		}
	}
	if s.Tool != ToolMetricsQueryRange || step == "" {
		return nil
	}
	r, _ := parseDuration(rng)
	st, _ := parseDuration(step)
	if st > r {
		return fmt.Errorf("step %s is longer than the range %s", step, rng)
	}
	if r/st > maxPoints {
		return fmt.Errorf("range %s at step %s is %d points; the limit is %d", rng, step, r/st, maxPoints)
	}
	return nil
}

func fmtDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// checkNode walks a YAML node against the Go type it decodes into and
// reports each unknown key and each value of the wrong shape with its path
// and line, all of them, not just the first: a CI run should list every
// mistake in one go. This follows internal/config's checkKeys.
func (fe *fileErrors) checkNode(n *yaml.Node, t reflect.Type, path string) {
	n = resolve(n)
	if t == reflect.TypeFor[yaml.Node]() {
		return
	}
	if n.Tag == "!!null" {
		return // absent; required keys are checked by the loaders
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			fe.add(n, path, "%s", yamlMessage(err))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		fe.checkNode(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			fe.add(n, path, "want a mapping, got %s", describe(n))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if path != "" {
				key = path + "." + k.Value
			}
			// The YAML decoder accepts a repeated key when decoding into a
			// node, and PyYAML keeps the last one silently; either way one of
			// the two is ignored, which is never what the author meant.
			if first, dup := seen[k.Value]; dup {
				fe.add(k, key, "repeated key (first at line %d)", fe.lines(first))
				continue
			}
			seen[k.Value] = k.Line
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				fe.add(k, key, "unknown key%s", unknownKeyHint(t, k.Value))
				continue
			}
			fe.checkNode(v, f.Type, key)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			fe.add(n, path, "want a list, got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			fe.checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			fe.add(n, path, "want a %s, got %s", t.Kind(), describe(n))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			fe.add(n, path, "%s", yamlMessage(err))
		}
	}
}

// unknownKeyHint points at the other format when a key belongs to it, the
// likeliest cause of an unknown key in a file that holds both.
func unknownKeyHint(t reflect.Type, key string) string {
	var known []string
	for i := 0; i < t.NumField(); i++ {
		known = append(known, strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
	}
	hint := " (known: " + strings.Join(known, ", ") + ")"
	switch {
	case t == reflect.TypeFor[legacyDoc]() && fieldExists(reflect.TypeFor[nativeDoc](), key):
		hint += "; " + key + " is a native runbook key: native runbooks go in the top-level list sleuth_runbooks"
	case t == reflect.TypeFor[nativeDoc]() && key == "match":
		hint += "; match is HolmesGPT's: such runbooks go in the top-level list runbooks, native ones use alertname and matchers"
	}
	return hint
}

func fieldExists(t reflect.Type, key string) bool {
	_, ok := fieldByTag(t, key)
	return ok
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if strings.Split(f.Tag.Get("yaml"), ",")[0] == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// yamlMessage is a decoding error without the "line N: " the YAML decoder
// starts its messages with, for use after a FILE:LINE prefix.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if _, after, ok := strings.Cut(rest, ": "); ok {
				m = after
			}
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// valueNode returns the value of key in mapping m, nil when absent.
func valueNode(m *yaml.Node, key string) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return resolve(m.Content[i+1])
		}
	}
	return nil
}
