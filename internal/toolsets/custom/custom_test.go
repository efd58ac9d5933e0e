package custom

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/syntax"

	"github.com/sleuth-sre/sleuth/internal/tools"
	"github.com/sleuth-sre/sleuth/internal/toolsets/bounded"
)

func opts(env ...string) Options {
	return Options{Environ: func() []string { return append([]string{"PATH=" + os.Getenv("PATH")}, env...) }}
}

// parseOne parses a file holding one toolset and returns it.
func parseOne(t *testing.T, yml string, o Options) *Toolset {
	t.Helper()
	sets, err := Parse("test.yaml", []byte(yml), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 1 {
		t.Fatalf("got %d toolsets", len(sets))
	}
	return sets[0]
}

func oneTool(t *testing.T, command string, o Options) *Tool {
	t.Helper()
	yml := "toolsets:\n  t:\n    description: d\n    tools:\n      - name: tool\n        description: d\n        command: " + yamlString(command) + "\n"
	return parseOne(t, yml, o).Tools[0]
}

func yamlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func TestCompileContexts(t *testing.T) {
	set := func(name string) bool { return name == "SET" }
	f := func(src, want string) {
		t.Helper()
		tm, err := compile(src, syntax.LangBash, set)
		if err != nil {
			t.Fatalf("compile(%q): %v", src, err)
		}
		if tm.shell != want {
			t.Errorf("compile(%q)\n got %s\nwant %s", src, tm.shell, want)
		}
	}
	f(`echo {{ x }}`, `echo ${SLEUTH_PARAM_x:+"$SLEUTH_PARAM_x"}`)
	f(`echo "a {{x}} b"`, `echo "a ${SLEUTH_PARAM_x} b"`)
	f(`echo 'a {{ x }} b'`, `echo 'a '"${SLEUTH_PARAM_x}"' b'`)
	f(`echo "$(echo {{ x }})"`, `echo "$(echo ${SLEUTH_PARAM_x:+"$SLEUTH_PARAM_x"})"`)
	f("cat <<EOF\nv={{ x }}\nEOF", "cat <<EOF\nv=${SLEUTH_PARAM_x}\nEOF")
	f(`curl '${SET}/a' '${UNSET}/b' "${SET}"`, `curl ''"${SET}"'/a' '${UNSET}/b' "${SET}"`)
	f(`echo {{ x }}-{{ y }} {{x}}`, `echo ${SLEUTH_PARAM_x:+"$SLEUTH_PARAM_x"}-${SLEUTH_PARAM_y:+"$SLEUTH_PARAM_y"} ${SLEUTH_PARAM_x:+"$SLEUTH_PARAM_x"}`)

	refuse := func(src, want string) {
		t.Helper()
		_, err := compile(src, syntax.LangBash, set)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("compile(%q) = %v, want an error containing %q", src, err, want)
		}
	}
	refuse(`echo $(( {{ n }} + 1 ))`, "arithmetic")
	refuse(`(( {{ n }} > 1 ))`, "arithmetic")
	refuse(`let x={{ n }}`, "let")
	refuse(`[[ {{ n }} -eq 1 ]]`, "arithmetic comparison")
	refuse(`echo ${a[{{ n }}]}`, "subscript")
	refuse(`echo ${a:{{ n }}}`, "offset")
	refuse(`echo $'{{ x }}'`, "$'...'")
	refuse(`eval echo {{ x }}`, "eval")
	refuse(`sh -c "echo {{ x }}"`, "sh -c")
	refuse(`bash -ec 'echo {{ x }}'`, "bash -c")
	refuse("cat <<'EOF'\n{{ x }}\nEOF", "quoted here-document")
	refuse(`echo {{ x | upper }}`, "only {{ name }} placeholders")
	refuse(`{% if x %}echo{% endif %}`, "not supported")
	refuse(`echo "unterminated`, "not valid shell")
}

// TestValuesNeverChangeTheCommand runs hostile values through every
// quoting context and checks that each arrives as one argument, byte for
// byte, and that nothing it tries to run runs.
func TestValuesNeverChangeTheCommand(t *testing.T) {
	dir := t.TempDir()
	canary := filepath.Join(dir, "pwned")
	values := []string{
		"'; touch " + canary + "; '",
		`"; touch ` + canary + `; "`,
		"$(touch " + canary + ")",
		"`touch " + canary + "`",
		"x\ntouch " + canary,
		"a b  c",
		"*",
		"${PATH}",
		"$((1+1))",
		`\'\"\\`,
		"{a,b}",
		"-n",
		"a'b\"c",
		"x;touch " + canary + "&&id|cat",
		"\u2018quoted\u2019 \uFF04(touch " + canary + ")",
	}
	// printf prints each argument in brackets: one pair per argument.
	commands := map[string]string{
		"unquoted":  `printf '[%s]' {{ v }}`,
		"double":    `printf '[%s]' "{{ v }}"`,
		"single":    `printf '[%s]' '{{ v }}'`,
		"mixed":     `printf '[%s]' pre-{{ v }}-post`,
		"cmdsubst":  `printf '[%s]' "$(printf '%s' {{ v }})"`,
		"heredoc":   "cat <<EOF\n[{{ v }}]\nEOF",
		"assign":    `x={{ v }}; printf '[%s]' "$x"`,
		"case":      "case {{ v }} in *) printf '[%s]' {{ v }};; esac",
		"default":   `printf '[%s]' "${UNSET_VAR:-{{ v }}}"`,
		"in a loop": `for a in {{ v }}; do printf '[%s]' "$a"; done`,
	}
	for name, cmd := range commands {
		tool := oneTool(t, cmd, opts())
		for _, v := range values {
			res, err := tool.Run(context.Background(), map[string]any{"v": v})
			if err != nil {
				t.Errorf("%s, %q: %v", name, v, err)
				continue
			}
			want := "[" + v + "]"
			if name == "mixed" {
				want = "[pre-" + v + "-post]"
			}
			if res.Text != strings.TrimSpace(want) {
				t.Errorf("%s: value %q arrived as %q, want %q", name, v, res.Text, want)
			}
		}
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("a value ran a command: the canary file exists")
	}
}

func TestOptionalEmptyValueIsNoWord(t *testing.T) {
	yml := `toolsets:
  t:
    description: d
    tools:
      - name: count
        description: counts its arguments
        command: "sh -s -- {{ a }} {{ b }} <<'EOF'\necho $#\nEOF"
        parameters:
          a: {type: string}
          b: {type: string, required: false}
`
	tool := parseOne(t, yml, opts()).Tools[0]
	f := func(args map[string]any, want string) {
		t.Helper()
		res, err := tool.Run(context.Background(), args)
		if err != nil {
			t.Fatal(err)
		}
		if res.Text != want {
			t.Errorf("Run(%v) = %q, want %q", args, res.Text, want)
		}
	}
	f(map[string]any{"a": "x"}, "1")
	f(map[string]any{"a": "x", "b": "y z"}, "2")
	if _, err := tool.Run(context.Background(), map[string]any{"b": "y"}); err == nil || !strings.Contains(err.Error(), `missing required parameter "a"`) {
		t.Errorf("missing a: err = %v", err)
	}
}

func TestSchemaAndTypes(t *testing.T) {
	yml := `toolsets:
  t:
    description: d
    tools:
      - name: typed
        description: d
        command: "echo {{ n }} {{ flag }} {{ mode }} {{ undeclared }}"
        parameters:
          n: {type: integer, description: how many}
          flag: {type: boolean, required: false}
          mode: {type: string, enum: [fast, slow]}
`
	tool := parseOne(t, yml, opts()).Tools[0]
	got := string(tool.Parameters())
	want := `{"properties":{"flag":{"type":"boolean"},"mode":{"enum":["fast","slow"],"type":"string"},"n":{"description":"how many","type":"integer"},"undeclared":{"type":"string"}},"required":["mode","n","undeclared"],"type":"object"}`
	if got != want {
		t.Errorf("schema\n got %s\nwant %s", got, want)
	}
	res, err := tool.Run(context.Background(), map[string]any{"n": float64(3), "flag": true, "mode": "fast", "undeclared": "u"})
	if err != nil || res.Text != "3 true fast u" {
		t.Errorf("Run = %q, %v", res.Text, err)
	}
	for _, args := range []map[string]any{
		{"n": "three", "mode": "fast", "undeclared": "u"},
		{"n": 1.5, "mode": "fast", "undeclared": "u"},
		{"n": 1.0, "mode": "medium", "undeclared": "u"},
		{"n": 1.0, "mode": "fast", "undeclared": "nul\x00byte"},
	} {
		if _, err := tool.Run(context.Background(), args); err == nil {
			t.Errorf("Run(%v) succeeded, want a parameter error", args)
		}
	}
}

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	f := func(file, want string) {
		t.Helper()
		_, err := Load([]string{filepath.Join("testdata", file)}, opts())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want an error containing %q", file, err, want)
		}
	}
	f("unknown_key.yaml", `testdata/unknown_key.yaml:10: unknown key "toolsets.broken.tools[1].comand"`)
	f("param_list.yaml", "testdata/param_list.yaml:")
	f("approval.yaml", `testdata/approval.yaml:4: toolsets.gated.approval_required_tools: tool approval is not supported`)
	f("arithmetic.yaml", `testdata/arithmetic.yaml:5: toolset "arith": tool "t": placeholder {{ n }} stands in an arithmetic expansion`)
}

func TestDuplicateToolAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	body := "toolsets:\n  %s:\n    description: d\n    tools:\n      - name: same\n        description: d\n        command: echo\n"
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(strings.Replace(body, "%s", "one", 1)), 0o600)
	os.WriteFile(filepath.Join(dir, "b.yml"), []byte(strings.Replace(body, "%s", "two", 1)), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a toolset"), 0o600)
	sets, err := Load([]string{dir}, opts())
	if err == nil || !strings.Contains(err.Error(), `b.yml:5: tool "same" is already defined at `+filepath.Join(dir, "a.yaml")+":5") {
		t.Errorf("err = %v", err)
	}
	if len(sets) != 1 || sets[0].Name != "one" {
		t.Errorf("loaded %d toolsets, want the first file's", len(sets))
	}
}

func TestPrerequisites(t *testing.T) {
	f := func(prereqs string, env []string, wantReason string) {
		t.Helper()
		yml := "toolsets:\n  p:\n    description: d\n    prerequisites:\n" + prereqs + "    tools:\n      - name: t\n        description: d\n        command: echo ok\n"
		ts := parseOne(t, yml, opts(env...))
		got := ts.Check(context.Background())
		if wantReason == "" {
			if !got.Enabled {
				t.Errorf("%s: disabled: %s", prereqs, got.Reason)
			}
			return
		}
		if got.Enabled || !strings.Contains(got.Reason, wantReason) {
			t.Errorf("%s: enabled=%v reason=%q, want disabled with %q", prereqs, got.Enabled, got.Reason, wantReason)
		}
	}
	f("      - env: [TOKEN]\n", nil, "environment variable TOKEN not set (test.yaml:5)")
	f("      - env: [TOKEN]\n", []string{"TOKEN=x"}, "")
	f("      - command: \"exit 3\"\n", nil, "prerequisite `exit 3` (test.yaml:5) failed with exit code 3")
	f("      - command: \"echo version 2\"\n        expected_output: \"version 3\"\n", nil, `did not print "version 3"`)
	f("      - command: \"echo version 3\"\n        expected_output: \"version 3\"\n", nil, "")
	f("      - enabled: false\n        disabled_reason: needs a license\n", nil, "needs a license (test.yaml:5)")
	// The command's output is shown with the variable's value hidden.
	f("      - command: \"echo cannot reach $URL; exit 1\"\n", []string{"URL=http://secret-host:9428"}, "cannot reach ${URL}")
	// Cheap checks first: the env check fails before the command runs.
	f("      - command: \"touch should-not-exist; exit 1\"\n      - env: [MISSING]\n", nil, "MISSING not set")
	if _, err := os.Stat("should-not-exist"); err == nil {
		os.Remove("should-not-exist")
		t.Error("the command prerequisite ran before the env one")
	}
	// enabled: false wins without running anything.
	yml := "toolsets:\n  off:\n    enabled: false\n    description: d\n    tools:\n      - name: t\n        description: d\n        command: echo\n"
	if got := parseOne(t, yml, opts()).Check(context.Background()); got.Enabled || got.Reason != "enabled: false in test.yaml:2" {
		t.Errorf("enabled: false gave %+v", got)
	}
}

func TestRunBounds(t *testing.T) {
	o := opts()
	o.Limits = bounded.Limits{Timeout: 300 * time.Millisecond, MaxOutput: 100}
	res, err := oneTool(t, "sleep 100", o).Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("sleep: %v, %+v", err, res)
	}
	o.Limits.Timeout = time.Hour
	res, err = oneTool(t, "yes", o).Run(context.Background(), nil)
	if err != nil || !res.Truncated || !strings.HasSuffix(res.Text, "[output cut at 100 bytes]") {
		t.Errorf("yes: %v, %+v", err, res)
	}
	res, err = oneTool(t, "echo oops; exit 2", o).Run(context.Background(), nil)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 || res.Text != "oops" {
		t.Errorf("exit 2: %v, %+v", err, res)
	}
	res, err = oneTool(t, "true", o).Run(context.Background(), nil)
	if err != nil || !res.NoData {
		t.Errorf("true: %v, %+v", err, res)
	}
}

func TestEnvIsInvisibleToTheModel(t *testing.T) {
	o := opts("API_URL=https://user:tok3n@example.internal")
	tool := oneTool(t, "echo calling ${API_URL}/x?q={{ q }}", o)
	res, err := tool.Run(context.Background(), map[string]any{"q": "a b"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Description != "echo calling ${API_URL}/x?q='a b'" {
		t.Errorf("description = %q", res.Description)
	}
	if strings.Contains(res.Text, "tok3n") || res.Text != "calling ${API_URL}/x?q=a b" {
		t.Errorf("output = %q, want the value redacted", res.Text)
	}
}

func TestForeignScriptGetsParametersFromTheEnvironment(t *testing.T) {
	yml := "toolsets:\n  t:\n    description: d\n    tools:\n      - name: a\n        description: d\n        parameters:\n          word: {type: string}\n        script: |\n          #!/usr/bin/awk -f\n          BEGIN { print \"got \" ENVIRON[\"SLEUTH_PARAM_word\"] }\n"
	tool := parseOne(t, yml, opts()).Tools[0]
	res, err := tool.Run(context.Background(), map[string]any{"word": "it's $(here)"})
	if err != nil || res.Text != "got it's $(here)" {
		t.Errorf("awk script: %q, %v", res.Text, err)
	}
	perl := "toolsets:\n  t:\n    description: d\n    tools:\n      - name: p\n        description: d\n        script: |\n          #!/usr/bin/env perl\n          print \"{{ word }}\";\n"
	if _, err := Parse("x.yaml", []byte(perl), opts()); err == nil || !strings.Contains(err.Error(), "not a shell") {
		t.Errorf("placeholder in a perl script: %v", err)
	}
}

func TestSeedVictoriaLogsToolsetLoads(t *testing.T) {
	sets, err := Load([]string{"testdata/victorialogs.yaml"}, opts())
	if err != nil {
		t.Fatal(err)
	}
	ts := sets[0].Check(context.Background())
	if ts.Enabled || !strings.Contains(ts.Reason, "VLOGS_URL not set") {
		t.Errorf("without VLOGS_URL: %+v", ts)
	}
	if ts.Instructions == "" || len(ts.Tools) != 2 {
		t.Errorf("toolset = %+v", ts)
	}
	var reg tools.Registry
	if err := reg.Add(ts); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get("logsql_query"); ok {
		t.Error("a disabled toolset's tool is callable")
	}
}
