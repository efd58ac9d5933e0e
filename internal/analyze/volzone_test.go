package analyze

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

func TestVolumeZoneConflictQuotesZones(t *testing.T) {
	mk := func(msg string) *Evidence {
		ev := base("KubePodNotReady")
		p := pod("shop", "checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodPending}
			p.Spec.NodeName = ""
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-checkout-2"}}}}
		})
		ev.Pods = []corev1.Pod{p}
		ev.Events = []corev1.Event{event("Pod", "shop", p.Name, "FailedScheduling", msg)}
		ev.PVCs = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "data-checkout-2"},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pvc-123"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}}
		ev.PVs = []corev1.PersistentVolume{{ObjectMeta: metav1.ObjectMeta{Name: "pvc-123"}, Spec: corev1.PersistentVolumeSpec{
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"zone-c"}}}}}}}}}}
		ev.Nodes = []corev1.Node{
			{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"topology.kubernetes.io/zone": "zone-a"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "n2", Labels: map[string]string{"topology.kubernetes.io/zone": "zone-b"}}},
		}
		return ev
	}
	ev := mk("0/2 nodes are available: 2 node(s) had volume node affinity conflict.")
	out := Run(ev)
	rc := Decide(ev, out)
	if rc.Category != report.Unschedulable {
		t.Fatalf("got %s", rc.Category)
	}
	s := Summary(ev, rc, out)
	for _, want := range []string{"zone-c", "pvc-123", "zone-a", "zone-b"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary misses %q: %s", want, s)
		}
	}
	// Negative: a pod Pending for CPU does not quote its volume's zone.
	ev = mk("0/2 nodes are available: 2 Insufficient cpu.")
	out = Run(ev)
	if s := Summary(ev, Decide(ev, out), out); strings.Contains(s, "zone-c") {
		t.Errorf("volume zone quoted for a CPU shortage: %s", s)
	}
}
