package runbook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// The seed mounts two ConfigMaps of HolmesGPT runbooks; testdata/seed holds
// them as mounted, written from the seed's description.
const seedDir = "testdata/seed"

// seedAlerts are alerts of the seed's cluster and the runbooks HolmesGPT
// gives each, as FILE#INDEX.
var seedAlerts = []struct {
	name   string
	source string // "" for an Alertmanager alert
	want   []string
}{
	{"KubePodCrashLooping", "", []string{"custom-runbooks.yaml#1", "sre-runbooks.yaml#1"}},
	{"KubePodNotReady", "", []string{"custom-runbooks.yaml#1"}},
	{"KubeContainerWaiting", "", []string{"custom-runbooks.yaml#1"}},
	{"KubeDeploymentReplicasMismatch", "", []string{"custom-runbooks.yaml#1"}},
	// The same title from a client that is not Alertmanager: source differs.
	{"KubePodCrashLooping", "robusta", nil},
	{"ContainerOOMKilled", "", []string{"sre-runbooks.yaml#0"}},
	{"KubernetesContainerOomKiller", "", []string{"sre-runbooks.yaml#0"}},
	{"CPUThrottlingHigh", "", []string{"sre-runbooks.yaml#2"}},
	{"NodeHighCPU", "", []string{"sre-runbooks.yaml#3"}},
	{"NodeCpuSaturation", "", []string{"sre-runbooks.yaml#3"}},
	{"NodeCPUHighUsage", "", nil}, // the pattern is case-sensitive
	{"NginxIngressHigh5xxRate", "", []string{"sre-runbooks.yaml#4"}},
	{"HTTPHighErrorRate", "", []string{"sre-runbooks.yaml#4"}},
	{"KubePersistentVolumeFillingUp", "", []string{"sre-runbooks.yaml#5"}},
	{"KubePersistentVolumeErrors", "", []string{"sre-runbooks.yaml#5"}},
	{"KubePersistentVolumeInodesFillingUp", "", nil}, // FillingUp$ after the prefix only
	{"NodeFilesystemAlmostOutOfSpace", "", []string{"sre-runbooks.yaml#6"}},
	{"NodeFilesystemSpaceFillingUp", "", []string{"sre-runbooks.yaml#6"}},
	{"KubeNodeNotReady", "", []string{"sre-runbooks.yaml#7"}},
	{"KubeNodeUnreachable", "", []string{"sre-runbooks.yaml#7"}},
	{"KubeNodeReadinessFlapping", "", nil},
	{"LLMProxyDown", "", []string{"custom-runbooks.yaml#0", "custom-runbooks.yaml#2"}},
	{"TailscaleDisconnected", "", []string{"custom-runbooks.yaml#0"}},
	{"HolmesLLMConnectionError", "", []string{"custom-runbooks.yaml#2"}},
	{"Watchdog", "", nil},
}

func seedAlert(name, source string) Alert {
	return Alert{
		Labels:      map[string]string{"alertname": name, "namespace": "shop"},
		Fingerprint: "0123456789abcdef",
		StartsAt:    time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Source:      source,
	}
}

func TestSeedRunbooks(t *testing.T) {
	set, errs := Load(seedDir)
	if len(errs) > 0 {
		t.Fatalf("the seed's runbooks do not load: %v", errs)
	}
	wantFiles := []File{
		{Path: filepath.Join(seedDir, "custom-runbooks.yaml"), Runbooks: 3},
		{Path: filepath.Join(seedDir, "sre-runbooks.yaml"), Runbooks: 8},
	}
	if diff := cmp.Diff(wantFiles, set.Files()); diff != "" {
		t.Fatalf("Files() (-want +got):\n%s", diff)
	}
	// Loaded as written: each runbook's patterns and instructions are
	// the file's, byte for byte after YAML's own folding.
	for _, f := range wantFiles {
		data, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Runbooks []struct {
				Match        map[string]string `yaml:"match"`
				Instructions string            `yaml:"instructions"`
			} `yaml:"runbooks"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		for i, want := range doc.Runbooks {
			var r *Runbook
			for _, x := range set.Runbooks() {
				if x.Source == f.Path && x.Index == i {
					r = x
				}
			}
			if r == nil || r.Kind != Legacy {
				t.Fatalf("%s#%d: not loaded as a legacy runbook", f.Path, i)
			}
			got := map[string]string{}
			for k, p := range []*string{r.IssueID, r.IssueName, r.IssueSource} {
				if p != nil {
					got[issueKeys[k]] = *p
				}
			}
			if diff := cmp.Diff(want.Match, got); diff != "" || r.Instructions != want.Instructions {
				t.Errorf("%s#%d differs from the file: match (-file +loaded):\n%s", f.Path, i, diff)
			}
		}
	}
	for _, c := range seedAlerts {
		var got []string
		for _, m := range set.Match(seedAlert(c.name, c.source)) {
			got = append(got, fmt.Sprintf("%s#%d", filepath.Base(m.Source), m.Runbook.Index))
			if m.Kind != Legacy {
				t.Errorf("%s: kind %s", c.name, m.Kind)
			}
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (source %q) (-want +got):\n%s", c.name, c.source, diff)
		}
	}
}

// holmesMatch is HolmesGPT's runbook loading and matching, reduced to what
// decides the outcome: its pydantic models (extra keys forbidden, patterns
// compiled with re) and RunbookManager.get_instructions_for_issue.
const holmesMatch = `
import json, os, sys
from typing import List, Optional, Pattern
import yaml
from pydantic import BaseModel, ConfigDict

class RobustaBaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

class IssueMatcher(RobustaBaseConfig):
    issue_id: Optional[Pattern] = None
    issue_name: Optional[Pattern] = None
    source: Optional[Pattern] = None

class Runbook(RobustaBaseConfig):
    match: IssueMatcher
    instructions: str

class ListOfRunbooks(BaseModel):
    runbooks: List[Runbook]

req = json.load(sys.stdin)
runbooks = []
for path in req["files"]:
    with open(path) as f:
        for i, rb in enumerate(ListOfRunbooks(**yaml.safe_load(f)).runbooks):
            runbooks.append(("%s#%d" % (os.path.basename(path), i), rb))
out = []
for issue in req["issues"]:
    got = []
    for name, rb in runbooks:
        if rb.match.issue_id and not rb.match.issue_id.match(issue["id"]):
            continue
        if rb.match.issue_name and not rb.match.issue_name.match(issue["name"]):
            continue
        if rb.match.source and not rb.match.source.match(issue["source"]):
            continue
        got.append(name)
    out.append(got)
print(json.dumps(out))
`

// TestSeedRunbooksAgainstHolmesGPT runs the same files and alerts through
// HolmesGPT's models and matching loop in Python, where pydantic is
// installed, and expects the same runbooks in the same order.
func TestSeedRunbooksAgainstHolmesGPT(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if exec.Command(py, "-c", "import pydantic, yaml").Run() != nil {
		t.Skip("python3 lacks pydantic or PyYAML")
	}
	set, errs := Load(seedDir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var req struct {
		Files  []string `json:"files"`
		Issues []Issue  `json:"issues"`
	}
	for _, f := range set.Files() {
		req.Files = append(req.Files, f.Path)
	}
	var alerts []Alert
	for _, c := range seedAlerts {
		a := seedAlert(c.name, c.source)
		alerts = append(alerts, a)
		req.Issues = append(req.Issues, a.Issue())
	}
	// issue_id patterns too: HolmesGPT's ids embed str(startsAt).
	idFile := writeFile(t, t.TempDir(), "ids.yaml", `
runbooks:
  - match: {issue_id: "KubePodCrashLooping-0123456789abcdef-2026-03-01 12:00:00\\+00:00$"}
    instructions: exact id
  - match: {issue_id: ".*-2026-03-01 12"}
    instructions: started at noon
`)
	ids, errs := Load(idFile)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	req.Files = append(req.Files, idFile)
	set = Join(set, ids)

	in, err := json.Marshal(map[string]any{"files": req.Files, "issues": lowerIssues(req.Issues)})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", holmesMatch)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	var want [][]string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for i, a := range alerts {
		var got []string
		for _, m := range set.Match(a) {
			got = append(got, fmt.Sprintf("%s#%d", filepath.Base(m.Source), m.Runbook.Index))
		}
		if diff := cmp.Diff(want[i], got, cmp.Transformer("nil", func(s []string) []string {
			if s == nil {
				return []string{}
			}
			return s
		})); diff != "" {
			t.Errorf("%s: HolmesGPT and sleuth disagree (-holmes +sleuth):\n%s", a.Issue().ID, diff)
		}
		if strings.HasPrefix(a.Issue().ID, "KubePodCrashLooping-") && a.Source == "" && !slices.Contains(got, "ids.yaml#0") {
			t.Errorf("the exact issue_id pattern does not match %q", a.Issue().ID)
		}
	}
}

func lowerIssues(is []Issue) []map[string]string {
	var out []map[string]string
	for _, i := range is {
		out = append(out, map[string]string{"id": i.ID, "name": i.Name, "source": i.Source})
	}
	return out
}
