package alert_test

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/alert"
)

// smokePayload is the seed's hand-written curl check: no version, no
// fingerprint, no startsAt.
const smokePayload = `{"alerts":[{"status":"firing","labels":{"alertname":"TestAlert","severity":"warning","namespace":"default"},"annotations":{"description":"Test alert for verification"}}]}`

// promFingerprint is Prometheus' model.LabelSet.Fingerprint written out from
// its definition, independently of the package: FNV-1a 64 over the label
// names in sorted order, each followed by 0xff, its value and 0xff.
func promFingerprint(labels map[string]string) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
	}
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		add(name)
		add("\xff")
		add(labels[name])
		add("\xff")
	}
	return h
}

func decodeFile(t *testing.T, name string) *alert.Payload {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := alert.Decode(f)
	if err != nil {
		t.Fatalf("Decode(%s): %v", name, err)
	}
	return p
}

// TestDecodeAlertmanager decodes the bytes Alertmanager v0.35.0's own webhook
// notifier sent (testdata/amgen regenerates them).
func TestDecodeAlertmanager(t *testing.T) {
	p := decodeFile(t, "testdata/alertmanager_v4.json")

	start := time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)
	labels := func(pod string) map[string]string {
		return map[string]string{
			"alertname": "KubePodCrashLooping", "container": "checkout", "endpoint": "http",
			"instance": "10.244.1.17:8080", "job": "kube-state-metrics", "namespace": "shop",
			"pod": pod, "prometheus": "monitoring/k8s", "reason": "CrashLoopBackOff",
			"service": "kube-state-metrics", "severity": "warning",
		}
	}
	annotations := func(pod string) map[string]string {
		return map[string]string{
			"description": "Pod shop/" + pod + ` (checkout) is in waiting state (reason: "CrashLoopBackOff").`,
			"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
			"summary":     "Pod is crash looping.",
		}
	}
	const generatorURL = "http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Bjob%3D%22kube-state-metrics%22%2Creason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1"
	common := labels("")
	delete(common, "pod")
	want := &alert.Payload{
		Version:            "4",
		GroupKey:           `{}/{severity=~"warning|critical"}:{alertname="KubePodCrashLooping", namespace="shop"}`,
		TruncatedAlerts:    1,
		Status:             alert.StatusFiring,
		Receiver:           "sleuth",
		GroupLabels:        map[string]string{"alertname": "KubePodCrashLooping", "namespace": "shop"},
		CommonLabels:       common,
		CommonAnnotations:  map[string]string{"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping", "summary": "Pod is crash looping."},
		ExternalURL:        "http://alertmanager-main-0.alertmanager-operated.monitoring.svc:9093",
		NotificationReason: "new alerts added",
		RouteLabels:        map[string]string{"team": "payments"},
		Alerts: []alert.Alert{
			{
				Status:       alert.StatusFiring,
				Labels:       labels("checkout-7d9f8b6c5d-x2k4p"),
				Annotations:  annotations("checkout-7d9f8b6c5d-x2k4p"),
				StartsAt:     start,
				EndsAt:       time.Time{}, // Alertmanager zeroes endsAt of firing alerts
				GeneratorURL: generatorURL,
				Fingerprint:  "9d05f713c8f727fe",
			},
			{
				Status:       alert.StatusResolved,
				Labels:       labels("checkout-7d9f8b6c5d-q8zmw"),
				Annotations:  annotations("checkout-7d9f8b6c5d-q8zmw"),
				StartsAt:     start.Add(-3 * time.Minute),
				EndsAt:       start.Add(19 * time.Minute),
				GeneratorURL: generatorURL,
				Fingerprint:  "e85df018959e2068",
			},
		},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}

	// Alertmanager computed these fingerprints itself: ours must agree, or
	// hand-written payloads would not dedupe against real ones.
	for i, a := range p.Alerts {
		if got := alert.Fingerprint(a.Labels); got != a.Fingerprint {
			t.Errorf("alerts[%d]: Fingerprint(labels) = %s, Alertmanager sent %s", i, got, a.Fingerprint)
		}
	}

	a := &p.Alerts[0]
	if a.Name() != "KubePodCrashLooping" || a.Severity() != "warning" || a.Namespace() != "shop" {
		t.Errorf("Name, Severity, Namespace = %q, %q, %q", a.Name(), a.Severity(), a.Namespace())
	}
}

func TestDecodeSmokePayload(t *testing.T) {
	fromFile := decodeFile(t, "testdata/smoke.json")
	p, err := alert.Decode(strings.NewReader(smokePayload))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(p, fromFile); diff != "" {
		t.Errorf("testdata/smoke.json is not the smoke payload (-const +file):\n%s", diff)
	}
	labels := map[string]string{"alertname": "TestAlert", "severity": "warning", "namespace": "default"}
	want := &alert.Payload{Alerts: []alert.Alert{{
		Status:      alert.StatusFiring,
		Labels:      labels,
		Annotations: map[string]string{"description": "Test alert for verification"},
		Fingerprint: fmt.Sprintf("%016x", promFingerprint(labels)),
	}}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
}

// A fingerprint the sender gives is kept as is, even if it is not the hash
// of the labels: Alertmanager is the authority on its own alerts.
func TestDecodeKeepsFingerprint(t *testing.T) {
	p, err := alert.Decode(strings.NewReader(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"},"fingerprint":"0123456789abcdef"},{"status":"resolved","labels":{"alertname":"A"}}]}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	got := []string{p.Alerts[0].Fingerprint, p.Alerts[1].Fingerprint}
	want := []string{"0123456789abcdef", fmt.Sprintf("%016x", promFingerprint(map[string]string{"alertname": "A"}))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fingerprints (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	const ok = `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`
	f := func(name, body, wantField, wantMsg string) {
		t.Helper()
		p, err := alert.Decode(strings.NewReader(body))
		var ae *alert.Error
		if !errors.As(err, &ae) {
			t.Errorf("%s: Decode(%.60q) = %v, %v; want *alert.Error", name, body, p, err)
			return
		}
		if p != nil {
			t.Errorf("%s: Decode returned a payload with its error", name)
		}
		if ae.Field != wantField || !strings.Contains(ae.Msg, wantMsg) {
			t.Errorf("%s: Decode(%.60q) = Field %q Msg %q; want Field %q, Msg containing %q", name, body, ae.Field, ae.Msg, wantField, wantMsg)
		}
		wantErr := ae.Msg
		if ae.Field != "" {
			wantErr = ae.Field + ": " + ae.Msg
		}
		if err.Error() != wantErr {
			t.Errorf("%s: Error() = %q, want %q", name, err.Error(), wantErr)
		}
	}

	// The baseline the cases below break one thing of.
	if _, err := alert.Decode(strings.NewReader(ok)); err != nil {
		t.Fatalf("Decode(%s): %v", ok, err)
	}

	f("truncated", `{"version":"4","alerts":[`, "", "truncated JSON")
	f("not JSON", `not json`, "", "malformed JSON at byte 2")
	f("trailing comma", `{"alerts":[{"status":"firing",}]}`, "", "malformed JSON at byte")
	f("empty body", ``, "", "empty body")
	f("blank body", " \r\n\t", "", "empty body")
	f("trailing garbage", ok+` garbage`, "", "unexpected data after the JSON object")
	f("two objects", ok+ok, "", "unexpected data after the JSON object")
	f("trailing bracket", ok+`]`, "", "unexpected data after the JSON object")

	f("version 3", strings.Replace(ok, `"4"`, `"3"`, 1), "version", `unsupported payload version "3", want "4"`)
	f("version as number", strings.Replace(ok, `"4"`, `4`, 1), "version", "expected string, got JSON number")
	f("bad payload status", `{"status":"pending","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`, "status", `got "pending"`)

	f("no alerts key", `{"version":"4"}`, "alerts", "at least one alert")
	f("empty alerts", `{"version":"4","alerts":[]}`, "alerts", "at least one alert")
	f("null alerts", `{"version":"4","alerts":null}`, "alerts", "at least one alert")
	f("null body", `null`, "alerts", "at least one alert")

	f("missing status", `{"alerts":[{"labels":{"alertname":"A"}}]}`, "alerts[0].status", "required")
	f("missing status of second alert", `{"alerts":[{"status":"firing","labels":{"alertname":"A"}},{"labels":{"alertname":"B"}}]}`, "alerts[1].status", "required")
	f("bad status", `{"alerts":[{"status":"pending","labels":{"alertname":"A"}}]}`, "alerts[0].status", `must be "firing" or "resolved", got "pending"`)
	f("status is case-sensitive", `{"alerts":[{"status":"Firing","labels":{"alertname":"A"}}]}`, "alerts[0].status", `got "Firing"`)

	f("missing alertname", `{"alerts":[{"status":"firing","labels":{"severity":"critical"}}]}`, "alerts[0].labels.alertname", "required")
	f("empty alertname", `{"alerts":[{"status":"firing","labels":{"alertname":""}}]}`, "alerts[0].labels.alertname", "required")
	f("no labels", `{"alerts":[{"status":"firing"}]}`, "alerts[0].labels.alertname", "required")
	f("missing alertname of third alert", `{"alerts":[{"status":"firing","labels":{"alertname":"A"}},{"status":"firing","labels":{"alertname":"B"}},{"status":"resolved","labels":{}}]}`, "alerts[2].labels.alertname", "required")

	// Type errors name the alert by its index.
	f("labels as a list", `{"alerts":[{"status":"firing","labels":["alertname","A"]}]}`, "alerts[0].labels", "expected map[string]string, got JSON array")
	f("label value as a number", `{"alerts":[{"status":"firing","labels":{"alertname":1}}]}`, "alerts[0].labels", "expected string, got JSON number")
	f("truncatedAlerts as a string", `{"truncatedAlerts":"1","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`, "truncatedAlerts", "expected int, got JSON string")
	f("payload as a list", `[`+ok+`]`, "(root)", "got JSON array")
	f("status as a bool", `{"alerts":[{"status":true,"labels":{"alertname":"A"}}]}`, "alerts[0].status", "expected string, got JSON bool")

	// Timestamps are parsed with their field named.
	f("startsAt as a number", `{"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":1741944413}]}`, "alerts[0].startsAt", "want an RFC 3339 string, got JSON 1741944413")
	f("bad startsAt", `{"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"yesterday"}]}`, "alerts[0].startsAt", `bad timestamp "yesterday": want RFC 3339`)
	f("startsAt without T", `{"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2025-03-14 09:26:53Z"}]}`, "alerts[0].startsAt", `bad timestamp "2025-03-14 09:26:53Z"`)
	f("endsAt without zone", `{"alerts":[{"status":"resolved","labels":{"alertname":"A"},"endsAt":"2025-03-14T09:26:53"}]}`, "alerts[0].endsAt", "bad timestamp")
	f("startsAt month 13 in the second alert", `{"alerts":[{"status":"firing","labels":{"alertname":"A"}},{"status":"firing","labels":{"alertname":"A"},"startsAt":"2025-13-14T09:26:53Z"}]}`, "alerts[1].startsAt", "bad timestamp")

	f("short fingerprint", `{"alerts":[{"status":"firing","labels":{"alertname":"A"},"fingerprint":"9d05f713c8f727f"}]}`, "alerts[0].fingerprint", `want 16 hex digits, got "9d05f713c8f727f"`)
	f("long fingerprint", `{"alerts":[{"status":"firing","labels":{"alertname":"A"},"fingerprint":"9d05f713c8f727fe0"}]}`, "alerts[0].fingerprint", "want 16 hex digits")
	f("non-hex fingerprint", `{"alerts":[{"status":"firing","labels":{"alertname":"A"},"fingerprint":"9d05f713c8f727fg"}]}`, "alerts[0].fingerprint", "want 16 hex digits")
	f("upper-case fingerprint", `{"alerts":[{"status":"firing","labels":{"alertname":"A"},"fingerprint":"9D05F713C8F727FE"}]}`, "alerts[0].fingerprint", "want 16 hex digits")
	f("fingerprint of second alert", `{"alerts":[{"status":"firing","labels":{"alertname":"A"}},{"status":"firing","labels":{"alertname":"B"},"fingerprint":"xyz"}]}`, "alerts[1].fingerprint", `got "xyz"`)
}

// A body that cannot be read is not a malformed payload: the caller must be
// able to tell it apart (errors.Is/As), because retrying it may succeed and
// http.MaxBytesReader reports an oversized body this way.
func TestDecodeReadError(t *testing.T) {
	errReset := errors.New("connection reset by peer")
	f := func(name string, r io.Reader) {
		t.Helper()
		p, err := alert.Decode(r)
		if p != nil || !errors.Is(err, errReset) {
			t.Errorf("%s: Decode = %v, %v; want an error wrapping %v", name, p, err, errReset)
		}
		var ae *alert.Error
		if errors.As(err, &ae) {
			t.Errorf("%s: Decode = *alert.Error %q for a failed read; that says the payload is malformed", name, err)
		}
	}
	f("nothing read", iotest.ErrReader(errReset))
	f("mid-body", io.MultiReader(strings.NewReader(`{"version":"4","alerts":[{"status":"fir`), iotest.ErrReader(errReset)))
	f("after the object", io.MultiReader(strings.NewReader(smokePayload), iotest.ErrReader(errReset)))
}

func TestFingerprint(t *testing.T) {
	f := func(labels map[string]string, want string) {
		t.Helper()
		if got := alert.Fingerprint(labels); got != want {
			t.Errorf("Fingerprint(%v) = %s, want %s", labels, got, want)
		}
		if indep := fmt.Sprintf("%016x", promFingerprint(labels)); indep != want {
			t.Errorf("test vector for %v is wrong: FNV-1a gives %s, want %s", labels, indep, want)
		}
	}
	// Vectors from Prometheus' own tests (prometheus/common
	// model/fingerprinting_test.go, TestMetricToFingerprint and the
	// BenchmarkMetricToFingerprint* expectations), in decimal there.
	f(nil, fmt.Sprintf("%016x", uint64(14695981039346656037)))
	f(map[string]string{}, "cbf29ce484222325") // the FNV-1a 64 offset basis
	f(map[string]string{"name": "garland, briggs", "fear": "love is not enough"}, fmt.Sprintf("%016x", uint64(5799056148416392346)))
	f(map[string]string{"first-label": "first-label-value"}, fmt.Sprintf("%016x", uint64(5146282821936882169)))
	f(map[string]string{"first-label": "first-label-value", "second-label": "second-label-value"}, fmt.Sprintf("%016x", uint64(3195800080984914717)))
	f(map[string]string{"first-label": "first-label-value", "second-label": "second-label-value", "third-label": "third-label-value"}, fmt.Sprintf("%016x", uint64(13843036195897128121)))
	// The smoke payload's labels.
	f(map[string]string{"alertname": "TestAlert", "severity": "warning", "namespace": "default"}, "b7793d4f042e42b3")

	// The separator keeps name/value boundaries: without it these collide.
	if alert.Fingerprint(map[string]string{"a": "bc"}) == alert.Fingerprint(map[string]string{"ab": "c"}) {
		t.Error(`Fingerprint({a: bc}) == Fingerprint({ab: c})`)
	}
	// An empty value is still a label.
	if alert.Fingerprint(map[string]string{"a": ""}) == alert.Fingerprint(nil) {
		t.Error(`Fingerprint({a: ""}) == Fingerprint({})`)
	}
}

func TestFingerprintOrderIndependent(t *testing.T) {
	// Map iteration order is random per range, so hashing the same label
	// set many times would catch an implementation that forgets to sort.
	labels := map[string]string{}
	for i := range 32 {
		labels[fmt.Sprintf("label_%02d", i)] = fmt.Sprintf("value %d", i)
	}
	want := fmt.Sprintf("%016x", promFingerprint(labels))
	for i := range 50 {
		// A fresh map built in a different insertion order each time.
		m := map[string]string{}
		names := slices.Sorted(maps.Keys(labels))
		for j := range names {
			n := names[(j*7+i)%len(names)]
			m[n] = labels[n]
		}
		if got := alert.Fingerprint(m); got != want {
			t.Fatalf("round %d: Fingerprint = %s, want %s", i, got, want)
		}
	}
}

// Fingerprints are always 16 lower-case hex digits, zero-padded, as
// Alertmanager's model.Fingerprint.String prints them.
func TestFingerprintPadding(t *testing.T) {
	// Find label sets whose hash has leading zero nibbles.
	found := 0
	for i := 0; found < 3 && i < 1_000_000; i++ {
		labels := map[string]string{"alertname": "A", "i": fmt.Sprint(i)}
		h := promFingerprint(labels)
		if h>>56 != 0 {
			continue
		}
		found++
		got := alert.Fingerprint(labels)
		if want := fmt.Sprintf("%016x", h); got != want || !strings.HasPrefix(got, "00") {
			t.Errorf("Fingerprint(%v) = %q, want %q", labels, got, want)
		}
	}
	if found == 0 {
		t.Fatal("no label set with a small hash found")
	}
}
