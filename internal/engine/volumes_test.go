package engine

import (
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// TestVolumeZoneConflict stages a Pending pod whose bound volume can only
// attach in a zone without nodes: the engine reads the claim's
// PersistentVolume and the report quotes the volume's zone.
func TestVolumeZoneConflict(t *testing.T) {
	b := backends{k: testbackend.SharedKube(t), vm: testbackend.StartVictoriaMetrics(t), vl: testbackend.StartVictoriaLogs(t)}
	now := time.Now().UTC().Truncate(time.Second)
	ns := b.k.Namespace(t, "listings")
	pv := b.k.Unique("pvc-zone")
	b.k.Apply(t, stage(now, zoneConflictObjects, ns, pv))
	r := runIncident(t, newEngine(t, b, false),
		firing(map[string]string{"alertname": "KubePodNotReady", "namespace": ns, "pod": "db-2", "severity": "warning"}, now.Add(-10*time.Minute)))
	wantRootCause(t, r, report.Unschedulable, report.Ref{Kind: "Pod", Namespace: ns, Name: "db-2"}, "zone-9c", pv)
}

// zoneConflictObjects: in %[1]s, pod db-2 Pending on claim data-db-2 bound
// to volume %[2]s, pinned to zone-9c.
const zoneConflictObjects = `
apiVersion: v1
kind: PersistentVolume
metadata: {name: %[2]s}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-0abc}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: topology.kubernetes.io/zone, operator: In, values: [zone-9c]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-db-2, namespace: %[1]s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Gi}}
  volumeName: %[2]s
status:
  phase: Bound
---
apiVersion: v1
kind: Pod
metadata: {name: db-2, namespace: %[1]s}
spec:
  containers: [{name: db, image: registry.example.com/db:7.0}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data-db-2}}]
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "${now-30m}",
     message: "0/3 nodes are available: 3 node(s) had volume node affinity conflict."}
---
apiVersion: v1
kind: Event
metadata: {name: db-2.1, namespace: %[1]s}
involvedObject: {kind: Pod, namespace: %[1]s, name: db-2}
reason: FailedScheduling
type: Warning
message: "0/3 nodes are available: 3 node(s) had volume node affinity conflict."
count: 12
firstTimestamp: "${now-30m}"
lastTimestamp: "${now-1m}"
`
