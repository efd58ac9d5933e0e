package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

var nsGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// pinnedCRD is a CRD file inside a Go module zip from the module proxy.
type pinnedCRD struct {
	module, version string
	// sum is the module's go.sum hash (h1:), checked after the download:
	// the VictoriaMetrics operator is missing from sum.golang.org, so the
	// checksum database cannot vouch for it and this pin does instead.
	sum  string
	file string
	// noSumDB downloads without asking the checksum database.
	noSumDB bool
}

// The CRDs every manifest here is judged against, never hand-written:
//   - VictoriaMetrics operator v0.55.0: victoria-metrics-k8s-stack 0.41.0
//     moved to it and 0.45.0 (the seed's) still ships it. Its
//     config/crd/overlay/crd.yaml is the bundle the operator's chart installs
//     (VMRule, VMServiceScrape, VMAlertmanagerConfig, VMSingle,
//     VMAlertmanager, ...).
//   - Prometheus operator v0.85.0: the ServiceMonitor of kube-prometheus-stack
//     users (the seed pins none; the only root-module version the proxy lists).
//   - ArgoCD v3.5.7: the Application CRD (the seed pins no ArgoCD; the newest
//     release that builds with this Go, v3.6 wants Go 1.27).
var pinnedCRDs = []pinnedCRD{
	{module: "github.com/VictoriaMetrics/operator", version: "v0.55.0", sum: "h1:hA2zcL6kY3LMnF2DCtd0p8KcX4TiJjJuEBbWmAQdFhI=", file: "config/crd/overlay/crd.yaml", noSumDB: true},
	{module: "github.com/prometheus-operator/prometheus-operator", version: "v0.85.0", sum: "h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=", file: "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
	{module: "github.com/argoproj/argo-cd/v3", version: "v3.5.7", sum: "h1:Xm1BF+I5OgDKUG3SDK49vn2/Y5AMyaNVko+/JT08gj0=", file: "manifests/crds/application-crd.yaml"},
}

// moduleDir downloads a module through the Go module proxy (once; the
// module cache keeps it) and returns its directory.
func moduleDir(t *testing.T, crd pinnedCRD) string {
	t.Helper()
	module, version := crd.module, crd.version
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	// Outside any module, so that nothing touches the repository's go.mod.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if crd.noSumDB {
		cmd.Env = append(cmd.Env, "GONOSUMDB="+module)
	}
	out, err := cmd.Output()
	var info struct{ Dir, Sum, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || info.Error != "" || err != nil {
		t.Fatalf("go mod download %s@%s: %v %s %s", module, version, err, info.Error, out)
	}
	if info.Sum != crd.sum {
		t.Fatalf("%s@%s has hash %s, want the pinned %s", module, version, info.Sum, crd.sum)
	}
	if !strings.HasPrefix(info.Dir, "/") {
		t.Fatalf("%s@%s: no module directory in %s", module, version, out)
	}
	return info.Dir
}
