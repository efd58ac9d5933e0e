package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// TestHungCronJobRun stages a Forbid CronJob whose newest run has been
// active for hours while its earlier runs took minutes, more runs than
// the engine reads: the engine reads the CronJob, its events, and the
// active run whatever the order the API lists the runs in.
func TestHungCronJobRun(t *testing.T) {
	b := backends{k: testbackend.SharedKube(t), vm: testbackend.StartVictoriaMetrics(t), vl: testbackend.StartVictoriaLogs(t)}
	now := time.Now().UTC().Truncate(time.Second)
	ns := b.k.Namespace(t, "partners")
	// The runs' owner references carry the CronJob's UID, as the
	// controller writes them.
	uid := string(b.k.Apply(t, stage(now, cronJobObject, ns))[0].GetUID())
	var objs strings.Builder
	objs.WriteString(stage(now, hungRunObjects, ns, uid))
	// Completed runs every 30 minutes before the hung one, 7 minutes each;
	// their names sort after the hung run's, as a list would return them
	// when the controller's naming differs.
	for i := 1; i <= 6; i++ {
		start := 5*time.Hour + time.Duration(i)*30*time.Minute
		objs.WriteString(stage(now, completedRunObject, ns, fmt.Sprintf("sync-z%d", i), fmt.Sprintf("${now-%s}", start), fmt.Sprintf("${now-%s}", start-7*time.Minute), uid))
	}
	b.k.Apply(t, objs.String())
	r := runIncident(t, newEngine(t, b, true),
		firing(map[string]string{"alertname": "KubeJobNotCompleted", "namespace": ns, "job_name": "sync-a0", "severity": "warning"}, now.Add(-10*time.Minute)))
	wantRootCause(t, r, report.JobFailure, report.Ref{Kind: "CronJob", Namespace: ns, Name: "sync"},
		"concurrencyPolicy Forbid", "sync-a0", "usually take 7m", "JobAlreadyActive (9 times)", "activeDeadlineSeconds")
}

// cronJobObject: CronJob sync in %[1]s with Forbid, its run sync-a0
// active.
const cronJobObject = `
apiVersion: batch/v1
kind: CronJob
metadata: {name: sync, namespace: %[1]s}
spec:
  schedule: "*/30 * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: sync, image: registry.example.com/sync:1.8.4}]
status:
  active: [{apiVersion: batch/v1, kind: Job, name: sync-a0, namespace: %[1]s}]
  lastScheduleTime: "${now-5h}"
`

// hungRunObjects: run sync-a0 of CronJob sync (UID %[2]s) active for 5h,
// and the JobAlreadyActive event the controller records.
const hungRunObjects = `
apiVersion: batch/v1
kind: Job
metadata:
  name: sync-a0
  namespace: %[1]s
  ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: sync, uid: %[2]s, controller: true}]
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: sync, image: registry.example.com/sync:1.8.4}]
status:
  startTime: "${now-5h}"
  active: 1
---
apiVersion: v1
kind: Event
metadata: {name: sync.1, namespace: %[1]s}
involvedObject: {apiVersion: batch/v1, kind: CronJob, name: sync, namespace: %[1]s}
reason: JobAlreadyActive
type: Normal
count: 9
firstTimestamp: "${now-4h30m}"
lastTimestamp: "${now-1m}"
message: Not starting job because prior execution is running and concurrency policy is Forbid
source: {component: cronjob-controller}
`

// completedRunObject: a run %[2]s of CronJob sync (UID %[5]s) started at
// %[3]s and completed at %[4]s.
const completedRunObject = `
---
apiVersion: batch/v1
kind: Job
metadata:
  name: %[2]s
  namespace: %[1]s
  ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: sync, uid: %[5]s, controller: true}]
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: sync, image: registry.example.com/sync:1.8.4}]
status:
  startTime: "%[3]s"
  completionTime: "%[4]s"
  succeeded: 1
  conditions:
  - {type: SuccessCriteriaMet, status: "True", reason: CompletionsReached, lastTransitionTime: "%[4]s"}
  - {type: Complete, status: "True", reason: CompletionsReached, lastTransitionTime: "%[4]s"}
`
