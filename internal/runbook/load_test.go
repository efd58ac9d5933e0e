package runbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeFile writes a file into dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.TrimPrefix(content, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func errorStrings(errs []LoadError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// TestLoadErrors: each broken file is reported with its line and key, and
// contributes no runbooks.
func TestLoadErrors(t *testing.T) {
	f := func(content string, want ...string) {
		t.Helper()
		dir := t.TempDir()
		path := writeFile(t, dir, "rb.yaml", content)
		set, errs := Load(dir)
		got := errorStrings(errs)
		for i := range want {
			want[i] = path + ":" + want[i]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Load errors (-want +got):\n%s\nfile:\n%s", diff, content)
		}
		if set.Len() != 0 {
			t.Errorf("a broken file loaded %d runbooks", set.Len())
		}
		if files := set.Files(); len(files) != 1 || !files[0].Failed {
			t.Errorf("Files() = %+v, want the file marked failed", files)
		}
	}
	// YAML syntax.
	f("runbooks: A\nsleuth_runbooks: B\n  x: 1\n", "3: mapping values are not allowed in this context")
	f("runbooks:\n  - match: {issue_name: \"x}\n", "2: found unexpected end of stream")
	f("runbooks:\n  - match: {issue_name: A}\n    instructions: x\n    match: {issue_name: B}\n",
		`4: runbooks[0].match: repeated key (first at line 2)`)
	// Unknown keys, at every level, all of them at once.
	f(`
runbooks:
  - match: {issue_nme: "KubePod"}
    instructions: x
  - match: {issue_name: "KubePod"}
    instruction: x
runbook: []
`,
		`2: runbooks[0].match.issue_nme: unknown key (known: issue_id, issue_name, source)`,
		`5: runbooks[1].instruction: unknown key (known: match, instructions)`,
		`6: runbook: unknown key (known: runbooks, sleuth_runbooks)`,
		`4: runbooks[1].instructions: required (a HolmesGPT runbook has match and instructions)`)
	// A native key in a legacy entry, and the reverse, say where it belongs.
	f(`
runbooks:
  - match: {issue_name: "KubePod"}
    instructions: x
    steps: []
`, `4: runbooks[0].steps: unknown key (known: match, instructions); steps is a native runbook key: native runbooks go in the top-level list sleuth_runbooks`)
	f(`
sleuth_runbooks:
  - name: a
    match: {issue_name: x}
    instructions: x
`, `3: sleuth_runbooks[0].match: unknown key (known: name, category, alertname, matchers, instructions, steps); match is HolmesGPT's: such runbooks go in the top-level list runbooks, native ones use alertname and matchers`,
		`2: sleuth_runbooks[0]: needs alertname or matchers (alertname: ".*" matches every alert)`)
	// Wrong shapes.
	f("runbooks: {match: x}\n", `1: runbooks: want a list, got a mapping`)
	f("runbooks:\n  - match: {issue_name: [a]}\n    instructions: x\n",
		`2: runbooks[0].match.issue_name: want a string, got a list`)
	f("- a\n- b\n", `1: want a mapping with the keys runbooks (HolmesGPT's format) and/or sleuth_runbooks`)
	// HolmesGPT requires match and instructions.
	f("runbooks:\n  - instructions: x\n", `2: runbooks[0].match: required (a HolmesGPT runbook has match and instructions)`)
	// Regexps Go cannot compile.
	f(`
runbooks:
  - match:
      issue_name: "(?!Watchdog).*"
    instructions: x
`, "3: runbooks[0].match.issue_name: invalid regexp \"(?!Watchdog).*\": invalid or unsupported Perl syntax: `(?!` (Go's RE2 syntax has no lookahead, lookbehind, backreferences, conditionals or (?x) verbose mode; rewrite the pattern without them)")
	// Native runbooks.
	f(`
sleuth_runbooks:
  - name: Bad_Name
    category: [oom-killed, oom]
    alertname: "(Kube"
    matchers: ['severity=="x"', 'namespace="shop"']
`,
		`2: sleuth_runbooks[0].name: "Bad_Name": want lower-case letters, digits and dashes, at most 63`,
		`3: sleuth_runbooks[0].category: unknown category "oom"; the taxonomy's are `+strings.Join(categories, ", "),
		"4: sleuth_runbooks[0].alertname: invalid regexp \"(Kube\": missing closing ): `(Kube`",
		`5: sleuth_runbooks[0].matchers[0]: bad matcher "severity==\"x\"": double-quote a value holding quotes, commas or braces (one matcher per list item)`,
		`2: sleuth_runbooks[0].instructions: required: say what the evidence means and what to do`)
	f(`
sleuth_runbooks:
  - name: everything
    instructions: x
`, `2: sleuth_runbooks[0]: needs alertname or matchers (alertname: ".*" matches every alert)`)
	f(`
sleuth_runbooks:
  - {name: a, alertname: A, instructions: x}
  - {name: a, alertname: B, instructions: y}
`, `3: sleuth_runbooks[1].name: runbook "a" is already defined at line 2`)
	// Steps: unknown tools, arguments, types, templates.
	f(`
sleuth_runbooks:
  - name: a
    alertname: A
    instructions: x
    steps:
      - tool: metrics.qeury
        args: {query: up}
      - tool: metrics.query_range
        args: {querry: up, range: forever, step: "{{.Labels.step}}"}
      - tool: kubernetes.logs
        args: {namespace: a, pod: b, previous: maybe, tail: 100000}
      - tool: metrics.query
        args: {query: 'up{pod={{.Labels.pod}}}'}
      - tool: logs.query
        args: {query: 'kubernetes.pod_name:{{.Labels.pod}}'}
      - tool: metrics.query
        args: {query: 'sum(rate(up[5m])'}
      - tool: kubernetes.get
        args: {kind: Pod, name: '{{.Lables.pod}}'}
      - tool: metrics.query
        args: {query: 'rate(sum(up))'}
      - tool: metrics.query_range
        args: {query: up, range: 7d, step: 10s}
`,
		`6: sleuth_runbooks[0].steps[0].tool: unknown tool "metrics.qeury"; want one of `+strings.Join(ToolNames(), ", "),
		`9: sleuth_runbooks[0].steps[1].args.querry: unknown argument of metrics.query_range; it takes query (required), range, step`,
		`8: sleuth_runbooks[0].steps[1].args.query: required by metrics.query_range`,
		`9: sleuth_runbooks[0].steps[1].args.range: want a duration such as 30m, 1h or 2d, at most 7d; got "forever"`,
		`9: sleuth_runbooks[0].steps[1].args.step: a duration is written literally; templates are for queries and names`,
		`11: sleuth_runbooks[0].steps[2].args.previous: want true or false; got "maybe"`,
		`11: sleuth_runbooks[0].steps[2].args.tail: want a whole number from 1 to 1000; got "100000"`,
		`13: sleuth_runbooks[0].steps[3].args.query: template query:1:9: {{.Labels.pod}} is in a query: a value substituted into a query must sit inside a double-quoted string, where it is escaped (label values are untrusted)`,
		`15: sleuth_runbooks[0].steps[4].args.query: template query:1:22: {{.Labels.pod}} is in a query: a value substituted into a query must sit inside a double-quoted string, where it is escaped (label values are untrusted)`,
		`17: sleuth_runbooks[0].steps[5].args.query: invalid MetricsQL: argList: unexpected token ""; want ",", ")"; unparsed data: ""`,
		`19: sleuth_runbooks[0].steps[6].args.name: template name:1:9: TemplateData has no field Lables (TemplateData has Labels, Annotations, Target, Pod, Container, Node, Alert)`,
		`21: sleuth_runbooks[0].steps[7].args.query: likely invalid MetricsQL: a rollup function over something other than a series selector (rate(sum(x)) rather than sum(rate(x[5m])))`,
		`22: sleuth_runbooks[0].steps[8].args.step: range 7d at step 10s is 60480 points; the limit is 11000`)
	// More than MaxSteps.
	var b strings.Builder
	b.WriteString("sleuth_runbooks:\n  - name: a\n    alertname: A\n    instructions: x\n    steps:\n")
	for range MaxSteps + 1 {
		b.WriteString("      - {tool: metrics.query, args: {query: up}}\n")
	}
	f(b.String(), `6: sleuth_runbooks[0].steps: 21 steps; a runbook may have at most 20`)
	// Templates are bounded.
	f("sleuth_runbooks:\n  - name: a\n    alertname: A\n    instructions: x\n    steps:\n      - {tool: metrics.query, args: {query: 'up{a=\""+strings.Repeat("x", maxTemplateBytes)+"\"}'}}\n",
		`6: sleuth_runbooks[0].steps[0].args.query: template is 4104 bytes; the limit is 4096`)
	// More documents than one.
	f("runbooks: []\n---\nrunbooks: []\n", `3: 2 YAML documents; a runbook file holds one`)
}

// TestLoadKeepsGoodFiles: a broken file does not stop the others.
func TestLoadKeepsGoodFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", "runbooks:\n  - match: {issue_name: A}\n    instructions: a\n")
	bad := writeFile(t, dir, "b.yaml", "runbooks:\n  - match: {issue_name: \"(\"}\n    instructions: b\n")
	writeFile(t, dir, "c.yml", "runbooks:\n  - match: {issue_name: C}\n    instructions: c\n")
	writeFile(t, dir, "notes.txt", "not a runbook")
	writeFile(t, dir, ".hidden.yaml", "garbage: [")
	set, errs := Load(dir, filepath.Join(dir, "missing"))
	got := errorStrings(errs)
	want := []string{
		bad + ":2: runbooks[0].match.issue_name: invalid regexp \"(\": missing closing ): `(`",
		filepath.Join(dir, "missing") + ": no such file or directory",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	var instr []string
	for _, r := range set.Runbooks() {
		instr = append(instr, r.Instructions)
	}
	if diff := cmp.Diff([]string{"a", "c"}, instr); diff != "" {
		t.Errorf("runbooks (-want +got):\n%s", diff)
	}
	wantFiles := []File{
		{Path: filepath.Join(dir, "a.yaml"), Runbooks: 1},
		{Path: bad, Failed: true},
		{Path: filepath.Join(dir, "c.yml"), Runbooks: 1},
		{Path: filepath.Join(dir, "missing"), Failed: true},
	}
	if diff := cmp.Diff(wantFiles, set.Files()); diff != "" {
		t.Errorf("Files() (-want +got):\n%s", diff)
	}
}

// TestLoadMountedConfigMap: a ConfigMap volume is a directory of symlinks
// into a timestamped directory through ..data. Each file loads once.
func TestLoadMountedConfigMap(t *testing.T) {
	dir := t.TempDir()
	ts := filepath.Join(dir, "..2026_03_01_12_00_00.123")
	writeFile(t, ts, "custom-runbooks.yaml", "runbooks:\n  - match: {issue_name: A}\n    instructions: a\n")
	writeFile(t, ts, "sre-runbooks.yaml", "runbooks:\n  - match: {issue_name: B}\n    instructions: b\n")
	must(t, os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")))
	for _, n := range []string{"custom-runbooks.yaml", "sre-runbooks.yaml"} {
		must(t, os.Symlink(filepath.Join("..data", n), filepath.Join(dir, n)))
	}
	set, errs := Load(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, r := range set.Runbooks() {
		got = append(got, filepath.Base(r.Source)+":"+r.Instructions)
	}
	if diff := cmp.Diff([]string{"custom-runbooks.yaml:a", "sre-runbooks.yaml:b"}, got); diff != "" {
		t.Errorf("runbooks (-want +got):\n%s", diff)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoadConfigMapManifest: the manifest kept in git loads as the files it
// mounts, with lines pointing into the manifest.
func TestLoadConfigMapManifest(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "sre-runbooks.yaml", `
apiVersion: v1
kind: ConfigMap
metadata:
  name: sre-runbooks
  namespace: holmesgpt
data:
  sre-runbooks.yaml: |
    runbooks:
      - match:
          issue_name: "KubePodCrashLooping"
        instructions: >
          Check the previous logs.
  README: not a runbook
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
data:
  broken.yaml: |
    runbooks:
      - match:
          issue_name: "(?=x)"
        instructions: x
`)
	set, errs := Load(dir)
	want := []string{path + "[broken.yaml]:23: runbooks[0].match.issue_name: invalid regexp \"(?=x)\": invalid or unsupported Perl syntax: `(?=` (Go's RE2 syntax has no lookahead, lookbehind, backreferences, conditionals or (?x) verbose mode; rewrite the pattern without them)"}
	if diff := cmp.Diff(want, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	rbs := set.Runbooks()
	if len(rbs) != 1 || rbs[0].Source != path+"[sre-runbooks.yaml]" || rbs[0].Line != 9 || rbs[0].Instructions != "Check the previous logs.\n" {
		t.Fatalf("runbooks = %+v", rbs)
	}

	other := writeFile(t, t.TempDir(), "deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
	_, errs = Load(other)
	if diff := cmp.Diff([]string{other + ":1: document 1 is not a ConfigMap; a manifest file may hold only ConfigMaps of runbooks"}, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestLoadLimits(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "big.yaml", "runbooks: []\n#"+strings.Repeat("x", maxFileBytes))
	_, errs := Load(path)
	if diff := cmp.Diff([]string{path + ": larger than 1048576 bytes, a ConfigMap's limit"}, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestNamesAcrossFiles: within one Load a native name is unique; Join lets
// a later set override an earlier one, which is how an operator replaces a
// builtin runbook.
func TestNamesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", "sleuth_runbooks:\n  - {name: x, alertname: A, instructions: first}\n")
	b := writeFile(t, dir, "b.yaml", "sleuth_runbooks:\n  - {name: x, alertname: B, instructions: second}\n")
	_, errs := Load(dir)
	want := []string{b + `:2: sleuth_runbooks[0].name: runbook "x" is already defined at ` + filepath.Join(dir, "a.yaml") + ":2"}
	if diff := cmp.Diff(want, errorStrings(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	builtin, errs := Builtin()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	own := writeFile(t, t.TempDir(), "own.yaml", `
sleuth_runbooks:
  - name: crash-loop
    alertname: KubePodCrashLooping
    matchers: ['namespace="shop"']
    instructions: ours
runbooks:
  - match: {issue_name: KubePodCrashLooping}
    instructions: legacy
`)
	user, errs := Load(own)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	joined := Join(builtin, user)
	if joined.Len() != builtin.Len()+1 {
		t.Errorf("Join: %d runbooks, want %d (one replaced, one added)", joined.Len(), builtin.Len()+1)
	}
	var crash []*Runbook
	for _, r := range joined.Runbooks() {
		if r.Name == "crash-loop" {
			crash = append(crash, r)
		}
	}
	if len(crash) != 1 || crash[0].Instructions != "ours" {
		t.Fatalf("crash-loop after Join = %+v, want only ours", crash)
	}
	alert := Alert{Labels: map[string]string{"alertname": "KubePodCrashLooping", "namespace": "other", "pod": "p"}}
	for _, m := range joined.Match(alert) {
		if m.Runbook.Name == "crash-loop" {
			t.Errorf("the builtin crash-loop still matches after being overridden")
		}
	}
}
