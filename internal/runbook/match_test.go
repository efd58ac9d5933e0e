package runbook

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompilePython(t *testing.T) {
	f := func(pattern, input string, want bool) {
		t.Helper()
		re, err := compilePython(pattern)
		if err != nil {
			t.Fatalf("compilePython(%q): %v", pattern, err)
		}
		if got := re.MatchString(input); got != want {
			t.Errorf("re.match(%q, %q) = %v, want %v", pattern, input, got, want)
		}
	}
	// Anchored at the start only: a prefix matches.
	f("KubePod", "KubePodCrashLooping", true)
	f("PodCrash", "KubePodCrashLooping", false)
	f("KubePodCrashLooping", "KubePodCrashLooping", true)
	// $ anchors the end.
	f("KubePod$", "KubePodCrashLooping", false)
	f("KubePodCrashLooping$", "KubePodCrashLooping", true)
	// ^ binds every alternative, not just the first.
	f("A|KubePod", "KubePodCrashLooping", true)
	f("A|PodCrash", "KubePodCrashLooping", false)
	f("KubeNode(NotReady|Unreachable)", "KubeNodeUnreachable", true)
	f("(KubeSchedulerDown)|(KubeControllerManagerDown)", "KubeControllerManagerDown", true)
	f("X$|KubePod", "KubePodCrashLooping", true)
	f("KubePod$|X", "KubePodCrashLooping", false)
	// Flags and named groups work as in Python.
	f("(?i)kubepod", "KubePodCrashLooping", true)
	f("kubepod", "KubePodCrashLooping", false)
	f("(?P<kind>Kube)Pod", "KubePodCrashLooping", true)
	// Python's \Z is Go's \z.
	f(`KubePod\Z`, "KubePod", true)
	f(`KubePod\Z`, "KubePodCrashLooping", false)
	f(`KubePod\\Z`, `KubePod\Z`, true)
	// The empty pattern matches everything, as in Python.
	f("", "anything", true)
	f(".*", "", true)

	bad := func(pattern, want string) {
		t.Helper()
		_, err := compilePython(pattern)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("compilePython(%q) = %v, want an error containing %q", pattern, err, want)
		}
	}
	bad("(?!Kube)Pod", "no lookahead")
	bad("(?<=Kube)Pod", "no lookahead")
	bad(`(a)\1`, "backreferences")
	bad("(Kube", "missing closing )")
	// The error quotes the pattern as written, not our ^(?:...) wrapping.
	bad("(Kube", `"(Kube"`)
}

// pythonMatches runs Python's re.match over pattern/input pairs.
func pythonMatches(t *testing.T, cases [][2]string) []bool {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: cannot compare with Python's re")
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(py, "-c", `
import json, re, sys
print(json.dumps([re.match(p, s) is not None for p, s in json.load(sys.stdin)]))`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var got []bool
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python3 output %q: %v", out, err)
	}
	return got
}

// TestCompilePythonAgainstPython checks our re.match emulation against
// Python itself on the patterns runbooks use.
func TestCompilePythonAgainstPython(t *testing.T) {
	patterns := []string{
		"KubePod", "KubePod$", "PodCrash", "A|KubePod", "KubePod$|X", "X|Kube.*Looping$",
		"(?i)kubepod", "KubeNode(NotReady|Unreachable)", `KubePod\Z`, "", ".*OOMKill.*",
		"(KubeSchedulerDown)|(KubeControllerManagerDown)", "Kube[A-Z][a-z]+", `\w+Down$`,
		"KubePersistentVolume(FillingUp|Errors)$", "(?P<n>Node)Filesystem", "a{2}|b?c",
	}
	inputs := []string{
		"KubePodCrashLooping", "KubePod", "kubepodcrashlooping", "XKubePod", "KubeNodeUnreachable",
		"KubeControllerManagerDown", "ContainerOOMKilled", "KubePersistentVolumeInodesFillingUp",
		"KubePersistentVolumeFillingUp", "NodeFilesystemAlmostOutOfSpace", "aa", "c", "",
		"KubePodCrashLooping-0123456789abcdef-2026-03-01 12:00:00+00:00",
	}
	var cases [][2]string
	for _, p := range patterns {
		for _, s := range inputs {
			cases = append(cases, [2]string{p, s})
		}
	}
	want := pythonMatches(t, cases)
	for i, c := range cases {
		re, err := compilePython(c[0])
		if err != nil {
			t.Fatalf("compilePython(%q): %v", c[0], err)
		}
		if got := re.MatchString(c[1]); got != want[i] {
			t.Errorf("re.match(%q, %q): Go %v, Python %v", c[0], c[1], got, want[i])
		}
	}
}

func TestMatcher(t *testing.T) {
	f := func(matcher string, labels map[string]string, label string, want bool) {
		t.Helper()
		m, err := ParseMatcher(matcher)
		if err != nil {
			t.Fatalf("ParseMatcher(%q): %v", matcher, err)
		}
		if got := m.Matches(labels[label]); got != want {
			t.Errorf("%s on %v = %v, want %v", matcher, labels, got, want)
		}
	}
	l := map[string]string{"severity": "critical", "namespace": "shop", "pod": "a.b"}
	f(`severity="critical"`, l, "severity", true)
	f(`severity = "warning"`, l, "severity", false)
	f(`severity=critical`, l, "severity", true) // bare values, as Alertmanager accepts
	f(`namespace!="kube-system"`, l, "namespace", true)
	f(`namespace!="shop"`, l, "namespace", false)
	// Regex matchers are anchored at both ends, as in Alertmanager.
	f(`severity=~"critical|warning"`, l, "severity", true)
	f(`severity=~"crit"`, l, "severity", false)
	f(`severity=~"crit.*"`, l, "severity", true)
	f(`severity!~"critical|warning"`, l, "severity", false)
	f(`namespace!~"kube-.*"`, l, "namespace", true)
	// A missing label is the empty value.
	f(`node=""`, l, "node", true)
	f(`node!=""`, l, "node", false)
	f(`namespace!="kube-system"`, map[string]string{}, "namespace", true)
	f(`reason=~"|ErrImagePull"`, map[string]string{}, "reason", true)
	// Escapes in quoted values.
	f(`pod="a\"b"`, map[string]string{"pod": `a"b`}, "pod", true)
	f(`pod=~"a\\.b"`, l, "pod", true)
	f(`pod=~"a\\.b"`, map[string]string{"pod": "axb"}, "pod", false)

	bad := func(matcher, want string) {
		t.Helper()
		_, err := ParseMatcher(matcher)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMatcher(%q) = %v, want an error containing %q", matcher, err, want)
		}
	}
	bad(`severity`, "want NAME OP VALUE")
	bad(`severity=="x"`, "double-quote a value")
	bad(`a="x",b="y"`, "not a complete double-quoted string")
	bad(`{a="x"}`, "want NAME OP VALUE")
	bad(`severity=~"(crit"`, "invalid regexp")
	bad(`severity="unterminated`, "not a complete double-quoted string")
}

func TestPythonTime(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		ts, err := time.Parse(time.RFC3339Nano, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := pythonTime(ts); got != want {
			t.Errorf("pythonTime(%s) = %q, want %q", in, got, want)
		}
	}
	f("2026-03-01T12:00:00Z", "2026-03-01 12:00:00+00:00")
	f("2026-03-01T12:00:00.5Z", "2026-03-01 12:00:00.500000+00:00")
	f("2026-03-01T12:00:00.123456789+03:00", "2026-03-01 12:00:00.123456+03:00")
	f("2026-03-01T12:00:00.000000999Z", "2026-03-01 12:00:00+00:00")
}

// TestPythonTimeAgainstPython compares with str() of the datetime pydantic
// parses from the same RFC 3339 text, which is what HolmesGPT's issue ids hold.
func TestPythonTimeAgainstPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	inputs := []string{"2026-03-01T12:00:00+00:00", "2026-03-01T12:00:00.5+00:00", "2026-03-01T12:00:00.123456+03:00", "2026-11-25T10:00:00-07:00"}
	in, _ := json.Marshal(inputs)
	cmd := exec.Command(py, "-c", `
import json, sys, datetime
print(json.dumps([str(datetime.datetime.fromisoformat(s)) for s in json.load(sys.stdin)]))`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, s := range inputs {
		ts, _ := time.Parse(time.RFC3339Nano, s)
		if got := pythonTime(ts); got != want[i] {
			t.Errorf("pythonTime(%s) = %q, Python says %q", s, got, want[i])
		}
	}
}

func TestIssue(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a := Alert{Labels: map[string]string{"alertname": "KubePodCrashLooping"}, Fingerprint: "0123456789abcdef", StartsAt: at}
	want := Issue{ID: "KubePodCrashLooping-0123456789abcdef-2026-03-01 12:00:00+00:00", Name: "KubePodCrashLooping", Source: "prometheus"}
	if diff := cmp.Diff(want, a.Issue()); diff != "" {
		t.Errorf("Issue() (-want +got):\n%s", diff)
	}
	// A HolmesGPT /api/investigate request brings its own source and id.
	a.Name, a.Source, a.IssueID = "checkout is down", "robusta", "ctx-42"
	want = Issue{ID: "ctx-42", Name: "checkout is down", Source: "robusta"}
	if diff := cmp.Diff(want, a.Issue()); diff != "" {
		t.Errorf("Issue() with overrides (-want +got):\n%s", diff)
	}
}

func TestSetMatch(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", `
runbooks:
  - match: {issue_name: "KubePod"}
    instructions: prefix
  - match: {issue_name: "KubePod$"}
    instructions: exact
  - match: {issue_name: "KubePodCrashLooping", source: "prometheus"}
    instructions: name and source
  - match: {issue_name: "KubePodCrashLooping", source: "robusta"}
    instructions: wrong source
  - match: {issue_id: "KubePodCrashLooping-0123456789abcdef-2026-03-01 12:00"}
    instructions: by id
  - match: {issue_id: "KubePodCrashLooping-ffff"}
    instructions: other id
  - match: {}
    instructions: every issue
sleuth_runbooks:
  - name: crash-shop
    alertname: KubePod.*
    matchers: ['namespace="shop"', 'severity=~"critical|warning"']
    instructions: native, shop
  - name: crash-prefix
    alertname: KubePod
    instructions: native alertname is anchored at both ends
  - name: not-kube-system
    matchers: ['namespace!="kube-system"']
    instructions: matchers only
`)
	writeFile(t, dir, "b.yaml", `
runbooks:
  - match: {issue_name: "KubePodCrash"}
    instructions: second file
`)
	set, errs := Load(dir)
	if len(errs) > 0 {
		t.Fatalf("Load: %v", errs)
	}
	f := func(name string, labels map[string]string, want ...string) {
		t.Helper()
		labels["alertname"] = name
		a := Alert{Labels: labels, Fingerprint: "0123456789abcdef", StartsAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		var got []string
		for _, m := range set.Match(a) {
			got = append(got, m.Runbook.Instructions)
			if m.Source != m.Runbook.Source || m.Kind != m.Runbook.Kind {
				t.Errorf("match %+v disagrees with its runbook", m)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Match(%s %v) (-want +got):\n%s", name, labels, diff)
		}
	}
	f("KubePodCrashLooping", map[string]string{"namespace": "shop", "severity": "critical"},
		"prefix", "name and source", "by id", "every issue", "native, shop", "matchers only", "second file")
	f("KubePodCrashLooping", map[string]string{"namespace": "kube-system", "severity": "info"},
		"prefix", "name and source", "by id", "every issue", "second file")
	f("KubePod", map[string]string{},
		"prefix", "exact", "every issue", "native alertname is anchored at both ends", "matchers only")
	f("NodeFilesystemAlmostOutOfSpace", map[string]string{"namespace": "kube-system"}, "every issue")
}
