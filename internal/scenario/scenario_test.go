package scenario

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSpecExample(t *testing.T) {
	s, err := ReadFile("testdata/spec-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Resolve(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if !r.FixedNow || !r.Now.Equal(now) {
		t.Fatalf("now = %v (fixed %v), want the file's %v", r.Now, r.FixedNow, now)
	}
	if r.Name != "checkout-oomkilled" || len(r.Alerts) != 1 {
		t.Fatalf("name %q, %d alerts", r.Name, len(r.Alerts))
	}
	a := r.Alerts[0]
	if !a.StartsAt.Equal(now.Add(-15*time.Minute)) || a.Status != "firing" || a.Labels["pod"] != "checkout-7d4b9c-9xk2p" {
		t.Errorf("alert = %+v", a)
	}
	fin := r.Kubernetes[0]["status"].(map[string]any)["containerStatuses"].([]any)[0].(map[string]any)["lastState"].(map[string]any)["terminated"].(map[string]any)["finishedAt"]
	if fin != "2026-03-01T11:58:00Z" {
		t.Errorf("finishedAt = %v, want ${now-2m} resolved", fin)
	}
	samples, err := r.Samples(r.Metrics.Series[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 41 || !samples[40].T.Equal(now) || samples[40].V != 260000000 || !samples[0].T.Equal(now.Add(-40*time.Minute)) {
		t.Errorf("samples: %d, first %v, last %v", len(samples), samples[0], samples[len(samples)-1])
	}
	recs := r.Records(func(ns, pod string) (map[string]string, string) {
		return map[string]string{"app": "checkout"}, "node-1"
	})
	if len(recs) != 31 {
		t.Fatalf("%d records, want 1 + 30", len(recs))
	}
	last := recs[30]
	if !last.Time.Equal(now.Add(-11*time.Minute + 29*10*time.Second)) {
		t.Errorf("last repeat at %v", last.Time)
	}
	want := map[string]string{FieldNamespace: "shop", FieldPod: "checkout-7d4b9c-9xk2p", FieldContainer: "app",
		FieldPodLabelPrefix + "app": "checkout", FieldNode: "node-1"}
	if d := cmp.Diff(want, last.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if d := cmp.Diff(Expect{Categories: []string{"oom-killed"}, Culprits: []Object{{"Deployment", "shop", "checkout"}}, Mentions: []string{"256Mi"}}, r.Expect); d != "" {
		t.Errorf("expect (-want +got):\n%s", d)
	}
}

func TestDefaultNowIsTheLoadMoment(t *testing.T) {
	s, err := Parse("x.yaml", []byte(`
name: x
summary: s
alerts: [{labels: {alertname: A}, startsAt: "${now-10m}"}]
expect: {category: none}
logs:
  - stream: {namespace: a, pod: p}
    lines: [{at: -1m, msg: m, repeat: 100, every: 1s}]
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r, err := s.Resolve(now)
	if err != nil {
		t.Fatal(err)
	}
	if r.FixedNow || !r.Alerts[0].StartsAt.Equal(now.Add(-10*time.Minute)) {
		t.Errorf("startsAt %v (fixed %v)", r.Alerts[0].StartsAt, r.FixedNow)
	}
	// Repeats end no later than now: 61 of the 100 fit in the last minute.
	if n := len(r.Records(nil)); n != 61 {
		t.Errorf("%d records, want 61", n)
	}
}

func TestParseErrors(t *testing.T) {
	f := func(name, doc, want string) {
		t.Helper()
		_, err := Parse("bad.yaml", []byte(doc))
		if err == nil {
			t.Errorf("%s: parsed, want error %q", name, want)
			return
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q, want it to contain %q", name, err, want)
		}
	}
	const head = "name: x\nsummary: s\n"
	const alerts = "alerts: [{labels: {alertname: A}}]\n"
	f("unknown top key", head+alerts+"expect: {category: none}\nhint: x\n", "bad.yaml:5: hint: unknown key")
	f("unknown alert key", head+"alerts:\n  - labels: {alertname: A}\n    startAt: -5m\nexpect: {category: none}\n", "bad.yaml:5: alerts[0].startAt: unknown key")
	f("unknown expect key", head+alerts+"expect:\n  category: none\n  culprits: []\n", "bad.yaml:6: expect.culprits: unknown key")
	f("bad category", head+alerts+"expect: {category: oom}\n", "unknown category \"oom\"")
	f("missing expect", head+alerts, "expect: required key is missing")
	f("no alertname", head+"alerts: [{labels: {a: b}}]\nexpect: {category: none}\n", "alerts[0].labels.alertname")
	f("bad offset", head+"alerts: [{labels: {alertname: A}, startsAt: 15 minutes ago}]\nexpect: {category: none}\n", "alerts[0].startsAt: want an offset")
	f("bad now ref", head+"alerts: [{labels: {alertname: A}, startsAt: '${now-5x}'}]\nexpect: {category: none}\n", "${now-5x}")
	f("bad values", head+alerts+"metrics:\n  series:\n    - {series: 'up{job=\"a\"}', values: '1+1xz'}\nexpect: {category: none}\n", "bad.yaml:6: metrics.series[0].values")
	f("matcher", head+alerts+"metrics:\n  series:\n    - {series: 'up{job=~\"a\"}', values: '1'}\nexpect: {category: none}\n", "exact label values")
	f("bad name", "name: X_1\nsummary: s\n"+alerts+"expect: {category: none}\n", "name: want [a-z0-9-]+")
	f("repeat without every", head+alerts+"logs:\n  - stream: {pod: p}\n    lines: [{msg: m, repeat: 3}]\nexpect: {category: none}\n", "every")
	f("syntax", head+"alerts: [\n", "bad.yaml:")
	f("empty", "", "empty file")
}

func TestExpandValues(t *testing.T) {
	f := func(in string, want ...float64) {
		t.Helper()
		vs, err := ExpandValues(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		var got []float64
		for _, v := range vs {
			switch {
			case v.Missing:
				got = append(got, -1000)
			case v.Stale:
				got = append(got, -2000)
			default:
				got = append(got, v.V)
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", in, d)
		}
	}
	f("1", 1)
	f("1+2x3", 1, 3, 5, 7)
	f("10-1x2", 10, 9, 8)
	f("-5+5x2", -5, 0, 5)
	f("5x2", 5, 5, 5)
	f("1e3+1e2x1", 1000, 1100)
	f("1 _ 3 stale", 1, -1000, 3, -2000)
	f("_x3 1", -1000, -1000, -1000, 1)
	vs, _ := ExpandValues("Inf -Inf NaN")
	if !math.IsInf(vs[0].V, 1) || !math.IsInf(vs[1].V, -1) || !math.IsNaN(vs[2].V) {
		t.Errorf("Inf -Inf NaN = %v", vs)
	}
	for _, bad := range []string{"", "a", "1+x", "1+1x-1", "1+1x99999999", "stalex2"} {
		if _, err := ExpandValues(bad); err == nil {
			t.Errorf("%q expanded, want an error", bad)
		}
	}
}

func TestScore(t *testing.T) {
	e := Expect{
		Categories: []string{"bad-rollout", "crash-loop"},
		Culprits:   []Object{{"Deployment", "shop", "checkout"}, {"Node", "", "node-1"}},
		Mentions:   []string{"v2.4.0", "NullPointerException"},
	}
	f := func(name string, v Verdict, pass, cat, cul, men bool) {
		t.Helper()
		r := Score(e, v)
		if r.Pass != pass || r.CategoryOK != cat || r.CulpritOK != cul || r.MentionsOK != men {
			t.Errorf("%s: %+v", name, r)
		}
	}
	text := "rolled out v2.4.0; java.lang.nullpointerexception at start"
	f("pass", Verdict{"crash-loop", Object{"deployment", "SHOP", "Checkout"}, text}, true, true, true, true)
	f("node without namespace", Verdict{"bad-rollout", Object{"Node", "", "node-1"}, text}, true, true, true, true)
	f("wrong category", Verdict{"oom-killed", Object{"Deployment", "shop", "checkout"}, text}, false, false, true, true)
	f("wrong namespace", Verdict{"crash-loop", Object{"Deployment", "prod", "checkout"}, text}, false, true, false, true)
	f("pod is not the deployment", Verdict{"crash-loop", Object{"Pod", "shop", "checkout-1"}, text}, false, true, false, true)
	f("missing mention", Verdict{"crash-loop", Object{"Deployment", "shop", "checkout"}, "v2.4.0"}, false, true, true, false)
	if r := Score(Expect{Categories: []string{"none"}}, Verdict{Category: "none"}); !r.Pass {
		t.Errorf("no culprit expected: %+v", r)
	}
}

func TestDurationsWithDays(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"${now-30d}":   "2026-01-30T12:00:00Z",
		"${now-1d12h}": "2026-02-28T00:00:00Z",
		"${now+1w}":    "2026-03-08T12:00:00Z",
		"${now-90s}":   "2026-03-01T11:58:30Z",
		"a ${now} b":   "a 2026-03-01T12:00:00Z b",
	} {
		got, err := substitute(in, now)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", in, got, err, want)
		}
	}
	if d, err := parseDuration("-2d"); err != nil || d != -48*time.Hour {
		t.Errorf("-2d = %v, %v", d, err)
	}
}
