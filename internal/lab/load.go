package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/sleuth-sre/sleuth/internal/scenario"
)

// Loaded says what a Load wrote.
type Loaded struct {
	Objects int
	Samples int
	Lines   int
}

// Reset empties the lab: every Kubernetes object created since it
// started, every series and every log line.
func (l *Lab) Reset(ctx context.Context) error {
	if err := l.kube.reset(ctx, l.Baseline); err != nil {
		return fmt.Errorf("reset kubernetes: %w", err)
	}
	if err := l.resetMetrics(ctx); err != nil {
		return err
	}
	return l.resetLogs(ctx)
}

// Load writes a resolved scenario into the lab: its objects through the
// API (statuses through the status subresource), its samples backdated
// into VictoriaMetrics and its log lines into VictoriaLogs. It does not
// reset first; errors name the scenario file and the object.
func (l *Lab) Load(ctx context.Context, s *scenario.Scenario) (Loaded, error) {
	var n Loaded
	var err error
	if n.Objects, err = l.applyObjects(ctx, s); err != nil {
		return n, fmt.Errorf("%s: %w", s.File, err)
	}
	text, samples, err := metricsText(s)
	if err != nil {
		return n, fmt.Errorf("%s: %w", s.File, err)
	}
	if err := l.importMetrics(ctx, text); err != nil {
		return n, fmt.Errorf("%s: %w", s.File, err)
	}
	n.Samples = samples
	recs := logRecords(s)
	have, err := l.logCount(ctx)
	if err != nil {
		return n, fmt.Errorf("%s: count log lines: %w", s.File, err)
	}
	if err := l.ingestLogs(ctx, recs, have+len(recs)); err != nil {
		return n, fmt.Errorf("%s: %w", s.File, err)
	}
	n.Lines = len(recs)
	return n, nil
}

// metricsText renders the scenario's samples in the Prometheus text
// format with millisecond timestamps.
func metricsText(s *scenario.Scenario) ([]byte, int, error) {
	var b bytes.Buffer
	n := 0
	for i, ser := range s.Metrics.Series {
		name, labels, err := scenario.ParseSelector(ser.Selector)
		if err != nil {
			return nil, 0, fmt.Errorf("metrics.series[%d]: %w", i, err)
		}
		samples, err := s.Samples(ser)
		if err != nil {
			return nil, 0, fmt.Errorf("metrics.series[%d]: %w", i, err)
		}
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var id strings.Builder
		id.WriteString(name)
		id.WriteByte('{')
		for j, k := range keys {
			if j > 0 {
				id.WriteByte(',')
			}
			id.WriteString(k)
			id.WriteString(`="`)
			id.WriteString(escapeLabel(labels[k]))
			id.WriteByte('"')
		}
		id.WriteByte('}')
		for _, smp := range samples {
			fmt.Fprintf(&b, "%s %s %d\n", id.String(), formatValue(smp.V), smp.T.UnixMilli())
			n++
		}
	}
	return b.Bytes(), n, nil
}

func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// logRecords expands the scenario's lines into vlagent's records, adding
// the labels and node of pods the scenario defines, as vlagent would.
func logRecords(s *scenario.Scenario) []map[string]string {
	pods := map[string]map[string]any{}
	for _, o := range s.Kubernetes {
		if o["kind"] == "Pod" {
			u := unstructured.Unstructured{Object: o}
			ns := u.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			pods[ns+"/"+u.GetName()] = o
		}
	}
	recs := s.Records(func(ns, pod string) (map[string]string, string) {
		o, ok := pods[ns+"/"+pod]
		if !ok {
			return nil, ""
		}
		u := unstructured.Unstructured{Object: o}
		node, _, _ := unstructured.NestedString(o, "spec", "nodeName")
		return u.GetLabels(), node
	})
	out := make([]map[string]string, len(recs))
	for i, r := range recs {
		m := make(map[string]string, len(r.Fields)+2)
		for k, v := range r.Fields {
			m[k] = v
		}
		m["_time"] = r.Time.Format(time.RFC3339Nano)
		m["_msg"] = r.Msg
		out[i] = m
	}
	return out
}

type objKey struct{ kind, namespace, name string }

// applyObjects creates the scenario's objects: namespaces and CRDs first,
// owners before what they own, events last. The UIDs the file gives
// (kubectl output carries them) are replaced everywhere by the ones the
// server assigns, so owner references, events' involvedObject and Jobs'
// controller-uid labels keep pointing at the right objects.
func (l *Lab) applyObjects(ctx context.Context, s *scenario.Scenario) (int, error) {
	type item struct {
		idx int
		u   *unstructured.Unstructured
	}
	var items []item
	for i, o := range s.Kubernetes {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(o)}
		items = append(items, item{i, u})
	}
	rank := func(u *unstructured.Unstructured) int {
		switch {
		case u.GetKind() == "Namespace":
			return 0
		case u.GetKind() == "CustomResourceDefinition":
			return 1
		case u.GetKind() == "Event":
			return 3
		}
		return 2
	}
	slices.SortStableFunc(items, func(a, b item) int { return rank(a.u) - rank(b.u) })
	items = ownersFirst(items, func(it item) *unstructured.Unstructured { return it.u })

	uids := map[string]string{}    // the file's UID -> the server's
	created := map[objKey]string{} // kind/namespace/name -> the server's UID
	for _, it := range items {
		u := it.u
		where := fmt.Sprintf("kubernetes[%d] %s %s", it.idx, u.GetKind(), qualified(u.GetNamespace(), u.GetName()))
		oldUID := string(u.GetUID())
		prepare(u)
		replaceUIDs(u.Object, uids)
		gvk := u.GroupVersionKind()
		m, err := l.kube.mapping(gvk)
		if err != nil {
			return 0, fmt.Errorf("%s: the API server does not serve %s: %w", where, gvk, err)
		}
		namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
		if namespaced && u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
		if !namespaced {
			u.SetNamespace("")
		}
		fixReferences(u, created)
		var ri dynamic.ResourceInterface = l.kube.dynamic.Resource(m.Resource)
		if namespaced {
			if err := l.ensureNamespace(ctx, u.GetNamespace()); err != nil {
				return 0, fmt.Errorf("%s: %w", where, err)
			}
			ri = l.kube.dynamic.Resource(m.Resource).Namespace(u.GetNamespace())
		}
		status, hasStatus := u.Object["status"]
		delete(u.Object, "status")
		out, err := ri.Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			return 0, fmt.Errorf("%s: %w", where, err)
		}
		if oldUID != "" {
			uids[oldUID] = string(out.GetUID())
		}
		created[objKey{strings.ToLower(u.GetKind()), u.GetNamespace(), u.GetName()}] = string(out.GetUID())
		if hasStatus && status != nil && l.kube.hasStatus(m.Resource) {
			if sm, ok := status.(map[string]any); ok {
				replaceUIDs(sm, uids)
			}
			out.Object["status"] = status
			if _, err := ri.UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
				return 0, fmt.Errorf("%s: write status: %w", where, err)
			}
		}
		if m.Resource.GroupResource() == (schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}) {
			if err := l.kube.waitEstablished(ctx, ri, out.GetName()); err != nil {
				return 0, fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return len(items), nil
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// ownersFirst orders items so that an object the scenario also defines as
// an owner is created before the objects it owns (a Deployment before its
// ReplicaSets before their Pods); otherwise the order is kept.
func ownersFirst[T any](items []T, obj func(T) *unstructured.Unstructured) []T {
	index := map[objKey]int{}
	for i, it := range items {
		u := obj(it)
		index[objKey{u.GetKind(), u.GetNamespace(), u.GetName()}] = i
	}
	done := make([]bool, len(items))
	visiting := make([]bool, len(items))
	out := make([]T, 0, len(items))
	var visit func(i int)
	visit = func(i int) {
		if done[i] || visiting[i] {
			return // a cycle (malformed) keeps the file's order
		}
		visiting[i] = true
		u := obj(items[i])
		for _, ref := range u.GetOwnerReferences() {
			for _, ns := range []string{u.GetNamespace(), ""} {
				if j, ok := index[objKey{ref.Kind, ns, ref.Name}]; ok {
					visit(j)
				}
			}
		}
		visiting[i] = false
		done[i] = true
		out = append(out, items[i])
	}
	for i := range items {
		visit(i)
	}
	return out
}

// prepare removes what the server sets itself and would reject or ignore
// on create.
func prepare(u *unstructured.Unstructured) {
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	switch u.GetKind() {
	case "Service":
		// kubectl prints the IP the cluster assigned; the lab's range is
		// another. A headless service keeps its "None".
		if ip, _, _ := unstructured.NestedString(u.Object, "spec", "clusterIP"); ip != "None" {
			unstructured.RemoveNestedField(u.Object, "spec", "clusterIP")
			unstructured.RemoveNestedField(u.Object, "spec", "clusterIPs")
		}
	case "Job":
		// The server generates a Job's selector from its UID and rejects
		// the printed one unless manualSelector is set.
		if manual, _, _ := unstructured.NestedBool(u.Object, "spec", "manualSelector"); !manual {
			unstructured.RemoveNestedField(u.Object, "spec", "selector")
			for _, l := range []string{"controller-uid", "batch.kubernetes.io/controller-uid"} {
				unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "labels", l)
			}
		}
	}
}

// replaceUIDs replaces every string equal to a UID of the file by the
// server's UID for the same object.
func replaceUIDs(v any, uids map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok {
				if n, ok := uids[s]; ok {
					v[k] = n
				}
				continue
			}
			replaceUIDs(e, uids)
		}
	case []any:
		for i, e := range v {
			if s, ok := e.(string); ok {
				if n, ok := uids[s]; ok {
					v[i] = n
				}
				continue
			}
			replaceUIDs(e, uids)
		}
	}
}

// fixReferences points owner references and an Event's involvedObject at
// objects created earlier by kind and name when the file gave no UID for
// them (or one of another cluster).
func fixReferences(u *unstructured.Unstructured, created map[objKey]string) {
	refs := u.GetOwnerReferences()
	for i, r := range refs {
		for _, ns := range []string{u.GetNamespace(), ""} {
			if uid, ok := created[objKey{strings.ToLower(r.Kind), ns, r.Name}]; ok {
				refs[i].UID = types.UID(uid)
				break
			}
		}
	}
	if len(refs) > 0 {
		u.SetOwnerReferences(refs)
	}
	if u.GetKind() == "Event" {
		io, ok := u.Object["involvedObject"].(map[string]any)
		if !ok {
			return
		}
		kind, _ := io["kind"].(string)
		name, _ := io["name"].(string)
		ns, _ := io["namespace"].(string)
		if uid, ok := created[objKey{strings.ToLower(kind), ns, name}]; ok {
			io["uid"] = uid
		}
		if ns == "" && u.GetNamespace() == "" {
			u.SetNamespace("default")
		}
	}
}

func (l *Lab) ensureNamespace(ctx context.Context, ns string) error {
	_, err := l.kube.clientset.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// SendAlerts posts the scenario's alerts to the lab's Alertmanager (API
// v2), which routes them to sleuth like any alert from vmalert.
func (l *Lab) SendAlerts(ctx context.Context, s *scenario.Scenario) error {
	type amAlert struct {
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations,omitempty"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt,omitzero"`
		GeneratorURL string            `json:"generatorURL,omitempty"`
	}
	var body []amAlert
	for _, a := range s.Alerts {
		body = append(body, amAlert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL})
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	if _, err := l.do(ctx, http.MethodPost, l.URLs.Alertmanager+"/api/v2/alerts", "application/json", raw); err != nil {
		return fmt.Errorf("%s: send alerts to Alertmanager: %w", s.File, err)
	}
	return nil
}
