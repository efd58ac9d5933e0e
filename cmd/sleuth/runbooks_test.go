package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runRunbooks(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runbooksCmd(context.Background(), args, &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunbooksCheck(t *testing.T) {
	f := func(args []string, wantCode int, wantOut ...string) {
		t.Helper()
		code, out := runRunbooks(t, append([]string{"check"}, args...)...)
		if code != wantCode {
			t.Errorf("runbooks check %v = %d, want %d:\n%s", args, code, wantCode, out)
		}
		for _, w := range wantOut {
			if !strings.Contains(out, w) {
				t.Errorf("runbooks check %v output lacks %q:\n%s", args, w, out)
			}
		}
	}
	dir := t.TempDir()
	good := writeTestFile(t, dir, "good.yaml", `runbooks:
  - match: {issue_name: KubePodCrashLooping}
    instructions: check the previous logs
sleuth_runbooks:
  - name: crash-loop
    alertname: KubePodCrashLooping
    instructions: ours
`)
	bad := writeTestFile(t, dir, "bad.yml", `runbooks:
  - match:
      issue_name: "(?!Watchdog)"
    instructions: x
  - match: {}
    instrutions: y
`)
	f([]string{dir}, 1,
		bad+`:3: runbooks[0].match.issue_name: invalid regexp "(?!Watchdog)"`,
		bad+`:6: runbooks[1].instrutions: unknown key`,
		good+": 2 runbooks\n",
		good+`:5: note: "crash-loop" replaces the builtin runbook of that name`,
		"2 files, 1 with errors\n")
	f([]string{good}, 0, good+": 2 runbooks\n", "1 file, 2 runbooks, no errors\n")
	// The shipped runbooks and the seed's pass, as CI runs them.
	f([]string{"../../runbooks"}, 0, "pods.yaml: ", "no errors")
	if _, out := runRunbooks(t, "check", "../../runbooks"); strings.Contains(out, "note:") {
		t.Errorf("the shipped runbooks are reported as replacing themselves:\n%s", out)
	}
	f([]string{"../../internal/runbook/testdata/seed"}, 0, "custom-runbooks.yaml: 3 runbooks", "sre-runbooks.yaml: 8 runbooks")
	// A path with nothing to check is a mistake in CI.
	empty := t.TempDir()
	f([]string{empty}, 1, empty+": no *.yaml or *.yml files")
	f([]string{filepath.Join(dir, "missing")}, 1, "missing: no such file or directory")
	f(nil, 2, "name at least one file or directory")
}

func TestRunbooksList(t *testing.T) {
	code, out := runRunbooks(t, "list", "--no-builtin", "../../internal/runbook/testdata/seed")
	if code != 0 {
		t.Fatalf("list = %d:\n%s", code, out)
	}
	for _, want := range []string{
		"SOURCE", "KIND",
		"testdata/seed/custom-runbooks.yaml:4",
		`legacy  -     -         0      {issue_name="KubePodCrashLooping", source="prometheus"}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "builtin/") {
		t.Errorf("--no-builtin listed builtin runbooks:\n%s", out)
	}
	code, out = runRunbooks(t, "list")
	if code != 0 || !strings.Contains(out, "builtin/pods.yaml:") || !strings.Contains(out, "crash-loop") {
		t.Errorf("list = %d:\n%s", code, out)
	}
}

func TestRunbooksMatch(t *testing.T) {
	dir := t.TempDir()
	payload := writeTestFile(t, dir, "payload.json", `{"version":"4","status":"firing","receiver":"sleuth","alerts":[
  {"status":"firing","labels":{"alertname":"KubePodCrashLooping","namespace":"shop","pod":"checkout-7d4b9c-9xk2p","container":"app"},
   "annotations":{"summary":"Pod is crash looping."},"startsAt":"2026-03-01T12:00:00Z","fingerprint":"0123456789abcdef"},
  {"status":"firing","labels":{"alertname":"Watchdog"},"startsAt":"2026-03-01T12:00:00Z"}]}`)
	// One alert as Alertmanager's API returns it: status is an object.
	one := writeTestFile(t, dir, "one.json", `{"labels":{"alertname":"CPUThrottlingHigh","namespace":"shop",
  "pod":"x\"} or vector(1) or up{a=\"","container":"app"},"annotations":{},"startsAt":"2026-03-01T12:00:00Z",
  "status":{"state":"active","silencedBy":[],"inhibitedBy":[]}}`)
	f := func(args []string, wantCode int, wantOut ...string) {
		t.Helper()
		code, out := runRunbooks(t, append([]string{"match"}, args...)...)
		if code != wantCode {
			t.Errorf("runbooks match %v = %d, want %d:\n%s", args, code, wantCode, out)
		}
		for _, w := range wantOut {
			if !strings.Contains(out, w) {
				t.Errorf("runbooks match %v output lacks %q:\n%s", args, w, out)
			}
		}
	}
	f([]string{"--alert", payload, "../../internal/runbook/testdata/seed"}, 0,
		`issue_id="KubePodCrashLooping-0123456789abcdef-2026-03-01 12:00:00+00:00" issue_name="KubePodCrashLooping" source="prometheus"`,
		"target (guessed from the labels; the investigation follows owner references): Deployment shop/checkout",
		`metrics.query query="kube_replicaset_created{namespace=\"shop\",replicaset=~\"checkout-[a-z0-9]+\"}"`,
		"1. crash-loop (native, builtin/pods.yaml:",
		`kubernetes.logs container="app" namespace="shop" pod="checkout-7d4b9c-9xk2p" previous="true" tail="100"`,
		"match {issue_name=\"KubePod(CrashLooping|NotReady)|KubeContainerWaiting|KubeDeploymentReplicasMismatch\", source=\"prometheus\"} (legacy, ../../internal/runbook/testdata/seed/custom-runbooks.yaml:",
		"alert Watchdog",
		"no runbook applies")
	// The hostile pod name is escaped in queries and refused as a name.
	f([]string{"--alert", one}, 0,
		"1. cpu-throttling (native, builtin/cpu.yaml:",
		`pod=\"x\\\"} or vector(1) or up{a=\\\"\"`,
		`skipped step 4 (kubernetes.get): name: "x\"} or vector(1) or up{a=\"" is not a valid Kubernetes name`)
	f([]string{"--no-builtin", "--alert", one}, 0, "no runbook applies")
	f([]string{"--target", "StatefulSet/db/postgres", "--alert", one}, 0, "target: StatefulSet db/postgres",
		`kubernetes.get kind="StatefulSet" name="postgres" namespace="db"`)
	f([]string{"--target", "postgres", "--alert", one}, 2, "want KIND/NAMESPACE/NAME or KIND/NAME")
	f(nil, 2, "--alert FILE is required")
	f([]string{"--alert", writeTestFile(t, dir, "bad.json", `[1,2]`)}, 1, "want a JSON object")
	f([]string{"--alert", writeTestFile(t, dir, "noname.json", `{"labels":{}}`)}, 1, "alerts[0].labels.alertname: required")
	f([]string{"--alert", payload, writeTestFile(t, dir, "broken.yaml", "runbooks: {")}, 1, "broken.yaml:")
}

func TestRunbooksUsage(t *testing.T) {
	if code, out := runRunbooks(t); code != 2 || !strings.Contains(out, "sleuth runbooks check PATH") {
		t.Errorf("runbooks = %d %q", code, out)
	}
	if code, out := runRunbooks(t, "frobnicate"); code != 2 || !strings.Contains(out, `unknown command "frobnicate"`) {
		t.Errorf("runbooks frobnicate = %d %q", code, out)
	}
	if code, _ := runRunbooks(t, "help"); code != 0 {
		t.Errorf("runbooks help = %d", code)
	}
}

func TestTargetFromLabels(t *testing.T) {
	f := func(labels map[string]string, want string) {
		t.Helper()
		o := targetFromLabels(labels)
		if got := o.Kind + " " + objectName(o); got != want {
			t.Errorf("targetFromLabels(%v) = %s, want %s", labels, got, want)
		}
	}
	f(map[string]string{"namespace": "shop", "pod": "checkout-7d4b9c8f5d-x2k4p"}, "Deployment shop/checkout")
	f(map[string]string{"namespace": "db", "pod": "postgres-0"}, "StatefulSet db/postgres")
	f(map[string]string{"namespace": "batch", "pod": "report-29012345-bcdfg"}, "CronJob batch/report")
	f(map[string]string{"namespace": "logs", "pod": "fluent-bit-x2k4p"}, "DaemonSet logs/fluent-bit")
	f(map[string]string{"namespace": "default", "pod": "debug"}, "Pod default/debug")
	f(map[string]string{"namespace": "shop", "deployment": "checkout", "pod": "x-0"}, "Deployment shop/checkout")
	f(map[string]string{"namespace": "batch", "job_name": "report-29012345"}, "Job batch/report-29012345")
	f(map[string]string{"node": "worker-2"}, "Node worker-2")
	f(map[string]string{"persistentvolume": "pvc-0a1b"}, "PersistentVolume pvc-0a1b")
	f(map[string]string{"namespace": "db", "persistentvolumeclaim": "data-postgres-0"}, "PersistentVolumeClaim db/data-postgres-0")
	f(map[string]string{}, " (none)")
}
