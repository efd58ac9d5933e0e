package deploy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/sleuth-sre/sleuth/internal/config"
	"github.com/sleuth-sre/sleuth/internal/runbook"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
	"github.com/sleuth-sre/sleuth/internal/toolsets/custom"
)

// The values files CI renders sleuth's chart with: the defaults, every
// option on, and the external-store (Deployment) shape.
var sleuthValues = map[string][]string{
	"defaults":       nil,
	"all":            {"-f", sleuthChart + "/ci/all-values.yaml"},
	"external-store": {"-f", sleuthChart + "/ci/external-store-values.yaml"},
}

func TestHelmLint(t *testing.T) {
	f := func(chart string, args ...string) {
		t.Helper()
		if out, err := helm(t, nil, append([]string{"lint", "--strict", chart}, args...)...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
	for _, args := range sleuthValues {
		f(sleuthChart, args...)
	}
	f(rulesChart)
	f(stackChart)
}

// podSpec returns the workload's pod spec and the workload.
func workload(t *testing.T, objs []*unstructured.Unstructured) (kind string, pod corev1.PodSpec, sts *appsv1.StatefulSet, dep *appsv1.Deployment) {
	t.Helper()
	switch {
	case len(find(objs, "StatefulSet")) == 1 && len(find(objs, "Deployment")) == 0:
		sts = new(appsv1.StatefulSet)
		into(t, one(t, objs, "StatefulSet", "").Object, sts)
		return "StatefulSet", sts.Spec.Template.Spec, sts, nil
	case len(find(objs, "Deployment")) == 1 && len(find(objs, "StatefulSet")) == 0:
		dep = new(appsv1.Deployment)
		into(t, one(t, objs, "Deployment", "").Object, dep)
		return "Deployment", dep.Spec.Template.Spec, nil, dep
	}
	t.Fatalf("want exactly one StatefulSet or Deployment, got %d and %d", len(find(objs, "StatefulSet")), len(find(objs, "Deployment")))
	return
}

func envNames(c corev1.Container) []string {
	var out []string
	for _, e := range c.Env {
		out = append(out, e.Name)
	}
	return out
}

func TestSleuthChartDefaults(t *testing.T) {
	objs := render(t, sleuthChart, "sleuth", "sleuth")
	kind, pod, sts, _ := workload(t, objs)
	if kind != "StatefulSet" || *sts.Spec.Replicas != 1 {
		t.Fatalf("embedded store: %s with %d replicas, want a StatefulSet of 1", kind, *sts.Spec.Replicas)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Errorf("volumeClaimTemplates: %+v, want one named data", sts.Spec.VolumeClaimTemplates)
	}
	c := pod.Containers[0]
	if !slices.Contains(c.Args, "serve") {
		t.Errorf("args %v: want serve", c.Args)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
		t.Errorf("liveness probe %+v, want GET /healthz on http", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", p)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v: want memory request and limit and a CPU request", c.Resources)
	}
	sc, psc := c.SecurityContext, pod.SecurityContext
	switch {
	case sc == nil || psc == nil:
		t.Fatal("no securityContext")
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0:
		t.Errorf("pod securityContext %+v: want non-root", psc)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation allowed")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities %+v, want all dropped", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("seccomp %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/var/lib/sleuth"] != "data" || mounts["/tmp"] == "" {
		t.Errorf("mounts %v: want the data volume at /var/lib/sleuth and a writable /tmp", mounts)
	}

	// The generated Secret holds both tokens the env references.
	secret := one(t, objs, "Secret", "sleuth-auth")
	for _, key := range []string{"webhook-token", "api-token"} {
		v, _, _ := unstructured.NestedString(secret.Object, "data", key)
		if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) < 32 {
			t.Errorf("generated %s: %q", key, v)
		}
	}
	for _, e := range c.Env[:2] {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "sleuth-auth" {
			t.Errorf("%s is not read from the generated Secret: %+v", e.Name, e.ValueFrom)
		}
	}
	for _, kind := range []string{"VMServiceScrape", "ServiceMonitor", "VMAlertmanagerConfig"} {
		if n := len(find(objs, kind)); n != 0 {
			t.Errorf("defaults render %d %s, want the option off", n, kind)
		}
	}
	one(t, objs, "PodDisruptionBudget", "sleuth")
	loadRenderedConfig(t, objs)
}

// TestClusterRoleIsTheRBACTestsRole: the chart's ClusterRole carries exactly
// the rules of files/clusterrole.yaml, the file internal/kube's RBAC test
// proves against a real API server.
func TestClusterRoleIsTheRBACTestsRole(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(sleuthChart, "files", "clusterrole.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &want); err != nil {
		t.Fatal(err)
	}
	objs := render(t, sleuthChart, "sleuth", "sleuth")
	var got rbacv1.ClusterRole
	into(t, one(t, objs, "ClusterRole", "").Object, &got)
	if diff := cmp.Diff(want.Rules, got.Rules); diff != "" {
		t.Errorf("rendered ClusterRole rules differ from files/clusterrole.yaml (-file +rendered):\n%s", diff)
	}
	var binding rbacv1.ClusterRoleBinding
	into(t, one(t, objs, "ClusterRoleBinding", "").Object, &binding)
	if binding.RoleRef.Name != got.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != "sleuth" || binding.Subjects[0].Namespace != "sleuth" {
		t.Errorf("binding %+v does not bind %s to the sleuth ServiceAccount", binding, got.Name)
	}
}

func TestSleuthChartAllOptions(t *testing.T) {
	objs := render(t, sleuthChart, "sleuth", "sleuth", sleuthValues["all"]...)
	_, pod, sts, _ := workload(t, objs)
	c := pod.Containers[0]
	if want := "registry.example.com/sleuth@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; c.Image != want {
		t.Errorf("image %s, want %s (a digest wins over the tag)", c.Image, want)
	}
	if sc := sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName; sc == nil || *sc != "openebs-hostpath" {
		t.Errorf("storage class %v", sc)
	}
	if n := len(find(objs, "Secret")); n != 0 {
		t.Errorf("%d Secrets rendered with auth.existingSecret set", n)
	}
	for _, want := range []string{"SLEUTH_AUTH_WEBHOOK_TOKEN", "SLEUTH_AUTH_API_TOKEN", "SLEUTH_LLM_API_KEY", "SLEUTH_AUTH_WEBHOOK_PASSWORD"} {
		if !slices.Contains(envNames(c), want) {
			t.Errorf("env %v lacks %s", envNames(c), want)
		}
	}
	// Each runbook and toolset source is a mounted ConfigMap volume.
	volumes := map[string]*corev1.ConfigMapVolumeSource{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v.ConfigMap
	}
	mounted := map[string]string{}
	for _, m := range c.VolumeMounts {
		if cm := volumes[m.Name]; cm != nil {
			mounted[m.MountPath] = cm.Name
		}
	}
	wantMounts := map[string]string{
		"/etc/sleuth/config":                             "sleuth",
		"/etc/sleuth/runbooks/chart":                     "sleuth-runbooks",
		"/etc/sleuth/runbooks/configmap-custom-runbooks": "custom-runbooks",
		"/etc/sleuth/runbooks/configmap-sre-runbooks":    "sre-runbooks",
		"/etc/sleuth/toolsets/chart":                     "sleuth-toolsets",
		"/etc/sleuth/toolsets/configmap-team-toolsets":   "team-toolsets",
	}
	if diff := cmp.Diff(wantMounts, mounted); diff != "" {
		t.Errorf("ConfigMap mounts (-want +got):\n%s", diff)
	}
	if !*volumes["runbooks-1"].Optional || *volumes["runbooks-0"].Optional {
		t.Error("optional flags of the runbook ConfigMaps not carried over")
	}
	// The inline files load with sleuth's own loaders: a runbook ConfigMap
	// manifest as it is, toolset files as they are mounted.
	rb, err := yaml.Marshal(one(t, objs, "ConfigMap", "sleuth-runbooks").Object)
	if err != nil {
		t.Fatal(err)
	}
	rbPath := filepath.Join(t.TempDir(), "runbooks.yaml")
	if err := os.WriteFile(rbPath, rb, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs := runbook.Load(rbPath); len(errs) != 0 {
		t.Errorf("the chart's runbook ConfigMap: %v", errs)
	}
	toolsets, _, _ := unstructured.NestedStringMap(one(t, objs, "ConfigMap", "sleuth-toolsets").Object, "data")
	for name, data := range toolsets {
		if sets, err := custom.Parse(name, []byte(data), custom.Options{}); err != nil || len(sets) == 0 {
			t.Errorf("toolset file %s: %d toolsets, %v", name, len(sets), err)
		}
	}
	dash := one(t, objs, "ConfigMap", "sleuth-dashboard")
	if dash.GetNamespace() != "monitoring" || dash.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap in %s with labels %v", dash.GetNamespace(), dash.GetLabels())
	}
	for _, kind := range []string{"VMServiceScrape", "ServiceMonitor", "VMAlertmanagerConfig", "PodDisruptionBudget"} {
		one(t, objs, kind, "")
	}
	checkAlertmanagerConfig(t, objs, "sleuth", "sleuth-credentials", "webhook", 9095)
	cfg := loadRenderedConfig(t, objs)
	if cfg.Queue.Workers != 2 || cfg.LLM.Model != "qwen3-coder-30b-a3b-instruct-mlx" || cfg.LLM.APIKey != "from-a-secret" {
		t.Errorf("config values not carried: %+v", cfg)
	}
}

func TestSleuthChartExternalStore(t *testing.T) {
	objs := render(t, sleuthChart, "sleuth", "sleuth", sleuthValues["external-store"]...)
	kind, pod, _, dep := workload(t, objs)
	if kind != "Deployment" || *dep.Spec.Replicas != 2 {
		t.Fatalf("external store: %s, want a Deployment of 2", kind)
	}
	if !slices.Contains(envNames(pod.Containers[0]), "SLEUTH_STORE") {
		t.Error("no SLEUTH_STORE from the store Secret")
	}
	cfg := loadRenderedConfig(t, objs)
	if strings.HasPrefix(cfg.Store, "sqlite") {
		t.Errorf("store %q with an external store", cfg.Store)
	}
}

// checkAlertmanagerConfig checks the route of the seed (severity
// critical|warning, 30s/5m/4h) to sleuth's webhook with the bearer token
// from the auth Secret.
func checkAlertmanagerConfig(t *testing.T, objs []*unstructured.Unstructured, ns, secret, key string, port int) {
	t.Helper()
	amc := one(t, objs, "VMAlertmanagerConfig", "")
	var spec struct {
		Route struct {
			Receiver       string   `json:"receiver"`
			Matchers       []string `json:"matchers"`
			GroupWait      string   `json:"group_wait"`
			GroupInterval  string   `json:"group_interval"`
			RepeatInterval string   `json:"repeat_interval"`
		} `json:"route"`
		Receivers []struct {
			Name           string `json:"name"`
			WebhookConfigs []struct {
				URL          string `json:"url"`
				SendResolved bool   `json:"send_resolved"`
				HTTPConfig   struct {
					BearerTokenSecret struct{ Name, Key string } `json:"bearer_token_secret"`
				} `json:"http_config"`
			} `json:"webhook_configs"`
		} `json:"receivers"`
	}
	into(t, amc.Object["spec"], &spec)
	r := spec.Route
	if !slices.Equal(r.Matchers, []string{`severity=~"critical|warning"`}) || r.GroupWait != "30s" || r.GroupInterval != "5m" || r.RepeatInterval != "4h" {
		t.Errorf("route %+v, want the seed's", r)
	}
	if len(spec.Receivers) != 1 || spec.Receivers[0].Name != r.Receiver || len(spec.Receivers[0].WebhookConfigs) != 1 {
		t.Fatalf("receivers %+v", spec.Receivers)
	}
	wh := spec.Receivers[0].WebhookConfigs[0]
	if want := "http://sleuth." + ns + ".svc:" + strconv.Itoa(port) + "/webhook"; wh.URL != want {
		t.Errorf("webhook url %s, want %s", wh.URL, want)
	}
	if b := wh.HTTPConfig.BearerTokenSecret; b.Name != secret || b.Key != key {
		t.Errorf("bearer token from %+v, want %s/%s", b, secret, key)
	}
	if !wh.SendResolved {
		t.Error("send_resolved off: sleuth would never close incidents")
	}
}

// loadRenderedConfig loads the rendered config.yaml with sleuth's own config
// loader, with the pod's SLEUTH_ variables set (secrets as placeholders),
// and validates it as `sleuth serve` would: an unknown key, a wrong type or
// a refused combination fails here, not in the pod.
func loadRenderedConfig(t *testing.T, objs []*unstructured.Unstructured) config.Config {
	t.Helper()
	_, pod, _, _ := workload(t, objs)
	c := pod.Containers[0]
	var cmName string
	for _, v := range pod.Volumes {
		if v.Name == "config" && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	data, _, _ := unstructured.NestedString(one(t, objs, "ConfigMap", cmName).Object, "data", "config.yaml")
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.Args, "/etc/sleuth/config/config.yaml") {
		t.Errorf("args %v do not name the mounted config", c.Args)
	}
	keys := map[string]bool{}
	for _, k := range config.Keys() {
		keys[k.Env] = true
	}
	var environ []string
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, config.EnvPrefix) {
			continue
		}
		if !keys[e.Name] {
			t.Errorf("the pod sets %s, which is no config key", e.Name)
		}
		v := e.Value
		if e.ValueFrom != nil {
			v = "from-a-secret"
			if e.Name == "SLEUTH_STORE" {
				v = "postgres://sleuth@db/sleuth"
			}
		}
		environ = append(environ, e.Name+"="+v)
	}
	cfg, err := config.Load(path, environ)
	if err != nil {
		t.Fatalf("rendered config.yaml does not load:\n%s\n%v", data, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("rendered config.yaml is refused:\n%s\n%v", data, err)
	}
	// The listen port is the container's, and the runbook directories are
	// the mounted ones (plus any the user named), in order.
	if !strings.HasSuffix(cfg.Listen, ":"+strconv.Itoa(int(c.Ports[0].ContainerPort))) {
		t.Errorf("listen %s, container port %d", cfg.Listen, c.Ports[0].ContainerPort)
	}
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounted[m.MountPath] = true
	}
	for _, dir := range cfg.Runbooks.Dirs {
		if strings.HasPrefix(dir, "/etc/sleuth/runbooks/") && !mounted[dir] {
			t.Errorf("runbooks.dirs names %s, which nothing is mounted at", dir)
		}
	}
	for _, dir := range cfg.Toolsets.CustomFiles {
		if strings.HasPrefix(dir, "/etc/sleuth/toolsets/") && !mounted[dir] {
			t.Errorf("toolsets.custom_files names %s, which nothing is mounted at", dir)
		}
	}
	for path := range mounted {
		if strings.HasPrefix(path, "/etc/sleuth/runbooks/") && !slices.Contains(cfg.Runbooks.Dirs, path) {
			t.Errorf("runbooks mounted at %s are not in runbooks.dirs %v", path, cfg.Runbooks.Dirs)
		}
		if strings.HasPrefix(path, "/etc/sleuth/toolsets/") && !slices.Contains(cfg.Toolsets.CustomFiles, path) {
			t.Errorf("toolsets mounted at %s are not in toolsets.custom_files %v", path, cfg.Toolsets.CustomFiles)
		}
	}
	if strings.HasPrefix(cfg.Store, "sqlite://") && !strings.HasPrefix(cfg.Store, "sqlite:///var/lib/sleuth/") {
		t.Errorf("store %s is not on the data volume", cfg.Store)
	}
	return cfg
}

// TestValuesSchemaRejects: wrong types fail `helm template` (so `helm
// install` and an ArgoCD sync) with the schema's message, before any pod.
func TestValuesSchemaRejects(t *testing.T) {
	f := func(chart, values, want string) {
		t.Helper()
		var v map[string]any
		if err := yaml.Unmarshal([]byte(values), &v); err != nil {
			t.Fatal(err)
		}
		out, err := helm(t, nil, "template", "x", chart, "-f", writeYAML(t, "bad.yaml", v))
		if err == nil {
			t.Errorf("%s with %s: rendered, want a schema error:\n%.300s", chart, values, out)
			return
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s with %s: %v\nwant it to name %q", chart, values, err, want)
		}
	}
	// The seed's holmes pitfall inverted: an object where a string is wanted
	// and the other way round.
	f(sleuthChart, `image: ghcr.io/sleuth-sre/sleuth:0.1.0`, "at '/image': got string, want object")
	f(sleuthChart, `image: {tag: {major: 0}}`, "at '/image/tag'")
	f(sleuthChart, `config: {queue: {workers: four}}`, "at '/config/queue/workers'")
	f(sleuthChart, `config: {queue: {deadline: 5}}`, "at '/config/queue/deadline'")
	f(sleuthChart, `config: {log: {format: yaml}}`, "at '/config/log/format'")
	f(sleuthChart, `config: {auth: {webhook_token: hunter2}}`, "at '/config/auth/webhook_token'")
	f(sleuthChart, `config: {llm: {api_key: sk-123}}`, "at '/config/llm/api_key'")
	f(sleuthChart, `config: {toolsets: {custom_files: /etc/x}}`, "at '/config/toolsets/custom_files'")
	f(sleuthChart, `config: {listen: ":9000"}`, "at '/config/listen'")
	f(sleuthChart, `persistence: {size: 50}`, "at '/persistence/size'")
	f(sleuthChart, `replicaCount: 2`, "at '/replicaCount'")
	f(sleuthChart, `imageTag: latest`, "imageTag")
	f(sleuthChart, `runbooks: {configMaps: [sre-runbooks]}`, "at '/runbooks/configMaps/0'")
	f(sleuthChart, `image: {digest: latest}`, "at '/image/digest'")
	f(rulesChart, `alertLabels: {cluster: [a, b]}`, "at '/alertLabels/cluster'")
	f(stackChart, `storage: {metrics: {size: {requests: 50Gi}}}`, "at '/storage/metrics/size'")
	f(stackChart, `charts: {victoriaLogsCollector: {version: latest}}`, "at '/charts/victoriaLogsCollector/version'")
	f(stackChart, `sleuth: {llm: {url: llm-proxy:8080}}`, "at '/sleuth/llm/url'")
}

// TestManifestsDryRun: every rendered manifest, and every static one under
// deploy/, passes a server-side dry run against the real API server with
// the real CRDs.
func TestManifestsDryRun(t *testing.T) {
	c := apiServer(t)
	for name, args := range sleuthValues {
		c.dryRunAll(t, "sleuth chart, "+name, render(t, sleuthChart, "sleuth", "sleuth", args...))
	}
	c.dryRunAll(t, "sleuth-rules chart", render(t, rulesChart, "sleuth-rules", "monitoring"))
	c.dryRunAll(t, "stack chart", render(t, stackChart, "sleuth-stack", "argocd"))

	static := staticManifests(t)
	for _, want := range []string{"argocd/root.yaml", "helm/sleuth/files/clusterrole.yaml"} {
		if _, ok := static[want]; !ok {
			t.Errorf("static manifests %v lack %s", keys(static), want)
		}
	}
	for path, objs := range static {
		c.dryRunAll(t, path, objs)
	}

	// The check has teeth: a field the schema does not know is refused.
	bad := render(t, sleuthChart, "sleuth", "sleuth")
	sts := one(t, bad, "StatefulSet", "")
	_ = unstructured.SetNestedField(sts.Object, "1Gi", "spec", "storage")
	if err := c.dryRun(sts); err == nil || !unknownField(err) {
		t.Errorf("a StatefulSet with spec.storage passed the dry run: %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// staticManifests returns the Kubernetes manifests kept as plain YAML under
// deploy/: every file whose documents all have apiVersion and kind, outside
// the charts' templates (Go templates, not YAML) and symlinks.
func staticManifests(t *testing.T) map[string][]*unstructured.Unstructured {
	t.Helper()
	out := map[string][]*unstructured.Unstructured{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 || (d.IsDir() && d.Name() == "templates") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		objs, err := decodeObjects(string(b))
		if err != nil || len(objs) == 0 {
			return nil // not a manifest: values, rule files, ...
		}
		for _, o := range objs {
			if o.GetAPIVersion() == "" || o.GetKind() == "" {
				return nil
			}
		}
		out[filepath.ToSlash(path)] = objs
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHelmInstall installs sleuth's chart into the real API server with
// Helm, upgrades it, and checks what Helm alone cannot show: the
// generated tokens survive the upgrade (lookup against a live cluster) and
// the ServiceAccount may read pods but not Secrets.
func TestHelmInstall(t *testing.T) {
	c := apiServer(t)
	env := append(helmEnv(t), "KUBECONFIG="+c.KubeconfigPath)
	ns := c.Namespace(t, "sleuth-install")
	release := c.Unique("sleuth") // cluster-scoped RBAC names carry it
	install := func(verb string, args ...string) {
		t.Helper()
		out, err := helm(t, env, append([]string{verb, release, sleuthChart, "--namespace", ns, "--kube-context", testbackend.KubeContext}, args...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	install("install")
	secret, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, release+"-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	install("upgrade", "--set", "config.log.level=debug")
	after, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, release+"-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(secret.Data, after.Data); diff != "" || len(after.Data["webhook-token"]) == 0 {
		t.Errorf("the upgrade changed the generated tokens (Alertmanager's copy would go stale):\n%s", diff)
	}
	manifest, err := helm(t, env, "get", "manifest", release, "--namespace", ns, "--kube-context", testbackend.KubeContext)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"StatefulSet", "Service", "ConfigMap", "ServiceAccount", "PodDisruptionBudget", "ClusterRole", "ClusterRoleBinding", "Secret"} {
		if !strings.Contains(manifest, "\nkind: "+kind+"\n") {
			t.Errorf("the release's manifest lacks a %s", kind)
		}
	}
	if _, err := c.Clientset.AppsV1().StatefulSets(ns).Get(ctx, release, metav1.GetOptions{}); err != nil {
		t.Errorf("installed StatefulSet: %v", err)
	}

	// What the pod's ServiceAccount may do, asked of the API server's RBAC
	// authorizer (it learns new bindings through informers, hence the wait).
	sa := "system:serviceaccount:" + ns + ":" + release
	can := func(verb, resource string) (bool, error) {
		r, err := c.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: sa, ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: verb, Resource: resource, Namespace: "kube-system"}},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return r.Status.Allowed, nil
	}
	testbackend.Eventually(t, 30*time.Second, func() error {
		if ok, err := can("list", "pods"); err != nil || !ok {
			return fmt.Errorf("list pods: allowed=%v err=%v", ok, err)
		}
		return nil
	})
	for _, verb := range []string{"get", "list", "watch"} {
		if ok, err := can(verb, "secrets"); err != nil || ok {
			t.Errorf("%s secrets: allowed=%v err=%v, want denied", verb, ok, err)
		}
	}
	if ok, err := can("delete", "pods"); err != nil || ok {
		t.Errorf("delete pods: allowed=%v err=%v, want denied", ok, err)
	}

	// Every option on installs too (the CRD kinds included), in its own
	// namespace and release.
	ns2 := c.Namespace(t, "sleuth-all")
	c.ensureNamespace(t, "monitoring")
	out, err := helm(t, env, append([]string{"install", c.Unique("sleuth"), sleuthChart, "--namespace", ns2, "--kube-context", testbackend.KubeContext}, sleuthValues["all"]...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestSchemaConfigKeysExist: every config key values.schema.json types is a
// key of sleuth's configuration today (a renamed key would otherwise keep
// its old schema entry and let the new name through untyped).
func TestSchemaConfigKeysExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(sleuthChart, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k.Path] = true
		for p := k.Path; strings.Contains(p, "."); {
			p = p[:strings.LastIndex(p, ".")]
			known[p] = true
		}
	}
	var walk func(prefix string, raw json.RawMessage)
	n := 0
	walk = func(prefix string, raw json.RawMessage) {
		var node struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(raw, &node); err != nil {
			t.Fatal(err)
		}
		for name, sub := range node.Properties {
			path := strings.TrimPrefix(prefix+"."+name, ".")
			n++
			if !known[path] {
				t.Errorf("values.schema.json types config.%s, which is no config key", path)
			}
			walk(path, sub)
		}
	}
	walk("", schema.Properties["config"])
	if n < 20 {
		t.Errorf("only %d config keys typed in values.schema.json", n)
	}
}
