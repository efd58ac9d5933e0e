package deploy

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// knownChartVersions lists, per third-party chart, the versions known to
// exist. CI cannot reach the chart repositories, so the list is pinned
// here: these are the versions the seed's cluster runs (its report). A
// version outside it fails the test until someone checks the repository
// and adds it; victoria-logs-collector 0.16.0, which does not exist, cost
// the seed a failed sync.
var knownChartVersions = map[string][]string{
	"https://victoriametrics.github.io/helm-charts/ victoria-metrics-k8s-stack": {"0.45.0"},
	"https://victoriametrics.github.io/helm-charts/ victoria-logs-single":       {"0.11.26"},
	"https://victoriametrics.github.io/helm-charts/ victoria-logs-collector":    {"0.2.9"},
}

// grafanaPlugins are datasource plugin ids as grafana.com publishes them;
// builtinDatasources need no plugin.
var (
	grafanaPlugins     = []string{"victoriametrics-metrics-datasource", "victoriametrics-logs-datasource"}
	builtinDatasources = []string{"prometheus", "alertmanager", "loki", "elasticsearch", "tempo", "jaeger"}
)

// application is the part of an ArgoCD Application the checks read.
type application struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Source struct {
			RepoURL        string `json:"repoURL"`
			Chart          string `json:"chart"`
			Path           string `json:"path"`
			TargetRevision string `json:"targetRevision"`
			Helm           struct {
				ValuesObject map[string]any `json:"valuesObject"`
			} `json:"helm"`
		} `json:"source"`
		Destination struct {
			Namespace string `json:"namespace"`
		} `json:"destination"`
		IgnoreDifferences []struct {
			Group        string   `json:"group"`
			Kind         string   `json:"kind"`
			JSONPointers []string `json:"jsonPointers"`
		} `json:"ignoreDifferences"`
		SyncPolicy struct {
			SyncOptions []string `json:"syncOptions"`
		} `json:"syncPolicy"`
	} `json:"spec"`
}

func stackApps(t *testing.T, args ...string) map[string]application {
	t.Helper()
	apps := map[string]application{}
	for _, o := range render(t, stackChart, "sleuth-stack", "argocd", args...) {
		if o.GetKind() != "Application" {
			t.Errorf("the stack renders a %s", o.GetKind())
			continue
		}
		var a application
		into(t, o.Object, &a)
		apps[a.Metadata.Name] = a
	}
	want := []string{"sleuth", "sleuth-rules", "victoria-logs", "victoria-logs-collector", "vm-k8s-stack"}
	if diff := cmp.Diff(want, keys(apps)); diff != "" {
		t.Fatalf("Applications (-want +got):\n%s", diff)
	}
	return apps
}

func dig(t *testing.T, m map[string]any, path ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(m, path...)
	if !ok || err != nil {
		t.Fatalf("%s: missing (%v)", strings.Join(path, "."), err)
	}
	return v
}

// TestStackChartVersionsExist: every third-party chart is pinned to a
// version known to exist (pitfall 3 of the seed).
func TestStackChartVersionsExist(t *testing.T) {
	for name, a := range stackApps(t) {
		src := a.Spec.Source
		if src.Chart == "" {
			if src.Path == "" || src.RepoURL != "https://github.com/sleuth-sre/sleuth.git" {
				t.Errorf("%s: neither a pinned chart nor a path of this repository: %+v", name, src)
			}
			continue
		}
		known, ok := knownChartVersions[src.RepoURL+" "+src.Chart]
		if !ok {
			t.Errorf("%s: chart %s from %s is not in knownChartVersions", name, src.Chart, src.RepoURL)
		} else if !slices.Contains(known, src.TargetRevision) {
			t.Errorf("%s: %s %s is not a version known to exist (%v)", name, src.Chart, src.TargetRevision, known)
		}
	}
}

// TestStackGrafanaPlugins: plugin ids are real ones (pitfall 1: the seed's
// "victoriametrics-datasource" crash-looped Grafana), and every datasource
// type is builtin or has its plugin installed.
func TestStackGrafanaPlugins(t *testing.T) {
	vals := stackApps(t)["vm-k8s-stack"].Spec.Source.Helm.ValuesObject
	var plugins []string
	into(t, dig(t, vals, "grafana", "plugins"), &plugins)
	for _, p := range plugins {
		if !slices.Contains(grafanaPlugins, p) {
			t.Errorf("grafana plugin %q is not a known plugin id %v", p, grafanaPlugins)
		}
	}
	var datasources []struct{ Name, Type, URL string }
	var vm, extra []struct{ Name, Type, URL string }
	into(t, dig(t, vals, "defaultDatasources", "victoriametrics", "datasources"), &vm)
	into(t, dig(t, vals, "defaultDatasources", "extra"), &extra)
	datasources = append(vm, extra...)
	types := map[string]bool{}
	for _, ds := range datasources {
		types[ds.Type] = true
		if !slices.Contains(builtinDatasources, ds.Type) && !slices.Contains(plugins, ds.Type) {
			t.Errorf("datasource %s has type %q, which is neither builtin nor an installed plugin %v", ds.Name, ds.Type, plugins)
		}
	}
	for _, want := range []string{"victoriametrics-metrics-datasource", "victoriametrics-logs-datasource"} {
		if !types[want] {
			t.Errorf("no datasource of type %s", want)
		}
	}
}

// TestStackStorageShapes: the storage specs the stack gives VMSingle and
// VMAlertmanager pass the operator's real CRDs with strict validation
// (pitfall 4: the seed gave VMAlertmanager VMSingle's shape), and the seed's
// broken shape is refused by the same check.
func TestStackStorageShapes(t *testing.T) {
	c := apiServer(t)
	c.ensureNamespace(t, "monitoring")
	a := stackApps(t)["vm-k8s-stack"]
	vals := a.Spec.Source.Helm.ValuesObject
	cr := func(kind string, spec any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "operator.victoriametrics.com/v1beta1", "kind": kind,
			"metadata": map[string]any{"name": "stack-check", "namespace": "monitoring"},
			"spec":     spec,
		}}
	}
	if err := c.dryRun(cr("VMSingle", dig(t, vals, "vmsingle", "spec"))); err != nil {
		t.Errorf("the stack's vmsingle.spec: %v", err)
	}
	if err := c.dryRun(cr("VMAlertmanager", dig(t, vals, "alertmanager", "spec"))); err != nil {
		t.Errorf("the stack's alertmanager.spec: %v", err)
	}
	var seed map[string]any
	if err := yaml.Unmarshal([]byte(`{storage: {storageClassName: openebs-hostpath, resources: {requests: {storage: 5Gi}}}}`), &seed); err != nil {
		t.Fatal(err)
	}
	if err := c.dryRun(cr("VMAlertmanager", seed)); err == nil || !unknownField(err) {
		t.Errorf("the seed's VMAlertmanager storage passed: %v", err)
	}
	if dig(t, vals, "alertmanager", "spec", "disableNamespaceMatcher") != true {
		t.Error("VMAlertmanager adds namespace=sleuth to sleuth's route unless disableNamespaceMatcher is set")
	}

	// The operator fills the storage specs in: ArgoCD must ignore those
	// fields, with server-side apply respecting that.
	ignored := map[string]bool{}
	for _, d := range a.Spec.IgnoreDifferences {
		if d.Group == "operator.victoriametrics.com" && slices.Contains(d.JSONPointers, "/spec/storage") {
			ignored[d.Kind] = true
		}
	}
	if !ignored["VMSingle"] || !ignored["VMAlertmanager"] {
		t.Errorf("ignoreDifferences %+v: want /spec/storage of VMSingle and VMAlertmanager", a.Spec.IgnoreDifferences)
	}
	for _, opt := range []string{"ServerSideApply=true", "RespectIgnoreDifferences=true"} {
		if !slices.Contains(a.Spec.SyncPolicy.SyncOptions, opt) {
			t.Errorf("syncOptions %v lack %s", a.Spec.SyncPolicy.SyncOptions, opt)
		}
	}
}

// TestStackSleuthValuesPassTheChart: the values the stack hands sleuth's
// chart pass its schema and render (pitfall 2: the seed passed an object
// where holmes' chart wants a string), and route alerts to it as the seed
// did.
func TestStackSleuthValuesPassTheChart(t *testing.T) {
	a := stackApps(t)["sleuth"]
	if a.Spec.Source.Path != sleuthChart && a.Spec.Source.Path != "deploy/"+sleuthChart {
		t.Fatalf("sleuth's Application renders %s", a.Spec.Source.Path)
	}
	values := writeYAML(t, "sleuth-values.yaml", a.Spec.Source.Helm.ValuesObject)
	objs := render(t, sleuthChart, "sleuth", a.Spec.Destination.Namespace, "-f", values)
	checkAlertmanagerConfig(t, objs, "sleuth", "sleuth-auth", "webhook-token", 8080)
	cfg := loadRenderedConfig(t, objs)
	if cfg.Prometheus.URL == "" || cfg.VictoriaLogs.URL == "" {
		t.Errorf("sleuth is not pointed at the stack's backends: %+v %+v", cfg.Prometheus, cfg.VictoriaLogs)
	}
	one(t, objs, "VMServiceScrape", "")
	if dash := one(t, objs, "ConfigMap", "sleuth-dashboard"); dash.GetNamespace() != "monitoring" {
		t.Errorf("dashboard in %s, where Grafana's sidecar does not look", dash.GetNamespace())
	}
	rules := stackApps(t)["sleuth-rules"]
	if rules.Spec.Source.Path != "deploy/"+rulesChart || rules.Spec.Destination.Namespace != "monitoring" {
		t.Errorf("sleuth-rules: %+v", rules.Spec)
	}
}

// TestStackStorageInOnePlace: storage class, sizes and retention set once in
// the stack's values reach every component, and none is left hard-coded.
func TestStackStorageInOnePlace(t *testing.T) {
	apps := stackApps(t,
		"--set", "storage.storageClassName=fast-ssd",
		"--set", "storage.metrics.retention=90d", "--set", "storage.metrics.size=123Gi",
		"--set", "storage.alertmanager.size=7Gi",
		"--set", "storage.logs.retention=45d", "--set", "storage.logs.size=77Gi",
		"--set", "storage.sleuth.size=3Gi")
	b, err := yaml.Marshal(apps)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "openebs-hostpath") {
		t.Errorf("a storage class is hard-coded:\n%s", b)
	}
	f := func(app string, want any, path ...string) {
		t.Helper()
		if got := dig(t, apps[app].Spec.Source.Helm.ValuesObject, path...); got != want {
			t.Errorf("%s %s = %v, want %v", app, strings.Join(path, "."), got, want)
		}
	}
	f("vm-k8s-stack", "fast-ssd", "vmsingle", "spec", "storage", "storageClassName")
	f("vm-k8s-stack", "123Gi", "vmsingle", "spec", "storage", "resources", "requests", "storage")
	f("vm-k8s-stack", "90d", "vmsingle", "spec", "retentionPeriod")
	f("vm-k8s-stack", "fast-ssd", "alertmanager", "spec", "storage", "volumeClaimTemplate", "spec", "storageClassName")
	f("vm-k8s-stack", "7Gi", "alertmanager", "spec", "storage", "volumeClaimTemplate", "spec", "resources", "requests", "storage")
	f("victoria-logs", "fast-ssd", "server", "persistentVolume", "storageClassName")
	f("victoria-logs", "77Gi", "server", "persistentVolume", "size")
	f("victoria-logs", "45d", "server", "retentionPeriod")
	f("sleuth", "fast-ssd", "persistence", "storageClassName")
	f("sleuth", "3Gi", "persistence", "size")

	// The defaults are the seed's.
	def := stackApps(t)
	for _, c := range []struct {
		app  string
		want any
		path []string
	}{
		{"vm-k8s-stack", "15d", []string{"vmsingle", "spec", "retentionPeriod"}},
		{"vm-k8s-stack", "50Gi", []string{"vmsingle", "spec", "storage", "resources", "requests", "storage"}},
		{"vm-k8s-stack", "openebs-hostpath", []string{"vmsingle", "spec", "storage", "storageClassName"}},
		{"victoria-logs", "30d", []string{"server", "retentionPeriod"}},
		{"victoria-logs", "50Gi", []string{"server", "persistentVolume", "size"}},
	} {
		if got := dig(t, def[c.app].Spec.Source.Helm.ValuesObject, c.path...); got != c.want {
			t.Errorf("default %s %s = %v, want the seed's %v", c.app, strings.Join(c.path, "."), got, c.want)
		}
	}
	var remote []map[string]string
	into(t, dig(t, def["victoria-logs-collector"].Spec.Source.Helm.ValuesObject, "remoteWrite"), &remote)
	if len(remote) != 1 || remote[0]["url"] != "http://victoria-logs-victoria-logs-single-server.victorialogs.svc:9428" {
		t.Errorf("collector remoteWrite %v, want the VictoriaLogs of the stack", remote)
	}
}
