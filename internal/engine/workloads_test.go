package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// samples renders one sample a minute for the last n minutes (the newest
// at now) in the Prometheus text format VictoriaMetrics imports.
func samples(now time.Time, series string, n int, value func(i int) float64) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		ts := now.Add(-time.Duration(n-1-i) * time.Minute)
		fmt.Fprintf(&b, "%s %g %d\n", series, value(i), ts.UnixMilli())
	}
	return b.String()
}

func runIncident(t *testing.T, e *Engine, alerts ...store.Alert) *report.Report {
	t.Helper()
	r, err := e.InvestigateAlerts(context.Background(), alerts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantRootCause(t *testing.T, r *report.Report, category string, object report.Ref, mentions ...string) {
	t.Helper()
	if r.RootCause.Category != category || r.RootCause.Object != object {
		t.Fatalf("root cause = %s %v, want %s %v\n%s", r.RootCause.Category, r.RootCause.Object, category, object, r.Text())
	}
	text := strings.ToLower(r.SearchText())
	for _, m := range mentions {
		if !strings.Contains(text, strings.ToLower(m)) {
			t.Errorf("report lacks %q:\n%s", m, r.Text())
		}
	}
}

// TestWorkloadEvidence stages workload and node incidents whose cause is
// only visible through what the engine collects around the target: the
// autoscaler an alert names, a Job's pods by name, the ConfigMaps a
// crashing pod reads, the namespace's LimitRanges, the busiest pods of a
// saturated node, the load of the nodes under a slow workload, and a
// database's replication slots.
func TestWorkloadEvidence(t *testing.T) {
	b := backends{k: testbackend.SharedKube(t), vm: testbackend.StartVictoriaMetrics(t), vl: testbackend.StartVictoriaLogs(t)}
	now := time.Now().UTC().Truncate(time.Second)

	t.Run("an alert naming an autoscaler resolves it and its workload", func(t *testing.T) {
		ns := b.k.Namespace(t, "web")
		b.k.Apply(t, stage(now, hpaObjects, ns))
		e := newEngine(t, b, true)
		// The first alert names no object; the autoscaler's is the entry point.
		r := runIncident(t, e,
			firing(map[string]string{"alertname": "ConsumerLagGrowing", "namespace": ns, "severity": "warning"}, now.Add(-40*time.Minute)),
			firing(map[string]string{"alertname": "KubeHpaMaxedOut", "namespace": ns, "horizontalpodautoscaler": "storefront", "severity": "warning"}, now.Add(-25*time.Minute)))
		if want := (report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: ns, Name: "storefront"}); r.Target != want {
			t.Errorf("target = %v, want %v", r.Target, want)
		}
		wantRootCause(t, r, report.ScalingLimit, report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: ns, Name: "storefront"}, "97% of requests", "TooManyReplicas")
	})

	t.Run("an alert naming only a namespace reads its autoscalers", func(t *testing.T) {
		ns := b.k.Namespace(t, "data")
		b.k.Apply(t, stage(now, hpaObjects, ns))
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "ConsumerLagGrowing", "namespace": ns, "severity": "warning"}, now.Add(-40*time.Minute)))
		wantRootCause(t, r, report.ScalingLimit, report.Ref{Kind: "HorizontalPodAutoscaler", Namespace: ns, Name: "storefront"})
	})

	t.Run("a failed job's pods found by name when its selector matches none", func(t *testing.T) {
		ns := b.k.Namespace(t, "batch")
		b.k.Apply(t, stage(now, failedJobObjects, ns))
		var lines []map[string]string
		for _, msg := range []string{"INFO connected to orders", "Traceback (most recent call last):", "psycopg2.errors.UndefinedColumn: column o.shipping_country does not exist"} {
			lines = append(lines, map[string]string{"_time": now.Add(-50 * time.Minute).Format(time.RFC3339Nano), "_msg": msg,
				"kubernetes.pod_namespace": ns, "kubernetes.pod_name": "export-29001234-7kdw2", "kubernetes.container_name": "export"})
		}
		b.vl.Ingest(t, lines)
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "KubeJobFailed", "namespace": ns, "job_name": "export-29001234", "severity": "warning"}, now.Add(-30*time.Minute)))
		wantRootCause(t, r, report.JobFailure, report.Ref{Kind: "CronJob", Namespace: ns, Name: "export"}, "column o.shipping_country does not exist")
	})

	t.Run("a crash on a value read from a ConfigMap blames its key", func(t *testing.T) {
		ns := b.k.Namespace(t, "fx")
		b.k.Apply(t, stage(now, configCrashObjects, ns))
		b.vl.Ingest(t, []map[string]string{{"_time": now.Add(-2 * time.Minute).Format(time.RFC3339Nano),
			"_msg":                     `{"level":"ERROR","msg":"invalid configuration","err":"parse error on field \"RefreshInterval\": time: missing unit in duration \"300\""}`,
			"kubernetes.pod_namespace": ns, "kubernetes.pod_name": "rates-6f7d8c9b5-kx2pq", "kubernetes.container_name": "app"}})
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "KubePodCrashLooping", "namespace": ns, "pod": "rates-6f7d8c9b5-kx2pq", "severity": "warning"}, now.Add(-20*time.Minute)))
		wantRootCause(t, r, report.ConfigError, report.Ref{Kind: "ConfigMap", Namespace: ns, Name: "rates-config"}, "REFRESH_INTERVAL", `"300"`)
	})

	t.Run("a LimitRange refusing a new ReplicaSet's pods", func(t *testing.T) {
		ns := b.k.Namespace(t, "analytics")
		b.k.Apply(t, stage(now, limitRangeObjects, ns))
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "KubeDeploymentRolloutStuck", "namespace": ns, "deployment": "worker", "severity": "warning"}, now.Add(-30*time.Minute)))
		wantRootCause(t, r, report.QuotaExceeded, report.Ref{Kind: "LimitRange", Namespace: ns, Name: "container-max"}, "4Gi", "6Gi")
	})

	t.Run("a node saturated by a neighbour names the neighbour", func(t *testing.T) {
		ns := b.k.Namespace(t, "etl")
		nodeName := b.k.Unique("worker")
		b.k.Apply(t, stage(now, noisyNeighbourObjects, ns, nodeName, "10.77.0.2"))
		var m strings.Builder
		m.WriteString(samples(now, fmt.Sprintf(`node_cpu_seconds_total{instance="10.77.0.2:9100",cpu="0",mode="idle"}`), 40, func(i int) float64 { return 1000 + float64(i)*0.6 }))
		m.WriteString(samples(now, fmt.Sprintf(`container_cpu_usage_seconds_total{namespace=%q,pod="transform-7b4f9c8d56-s6jxq",container="transform",node=%q}`, ns, nodeName), 40, func(i int) float64 { return 100 + float64(i)*444 }))
		m.WriteString(samples(now, fmt.Sprintf(`container_cpu_usage_seconds_total{namespace=%q,pod="api-5d9b6c7f48-7rxkm",container="api",node=%q}`, ns, nodeName), 40, func(i int) float64 { return 100 + float64(i)*20 }))
		b.vm.Import(t, m.String())
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "NodeCPUHighUsage", "node": nodeName, "instance": "10.77.0.2:9100", "severity": "warning"}, now.Add(-20*time.Minute)))
		wantRootCause(t, r, report.CPUSaturation, report.Ref{Kind: "Deployment", Namespace: ns, Name: "transform"}, "7.40 cores", "api-5d9b6c7f48-7rxkm")
	})

	t.Run("a workload far above its request on a loaded node", func(t *testing.T) {
		ns := b.k.Namespace(t, "shop")
		nodeName := b.k.Unique("worker")
		b.k.Apply(t, stage(now, saturatedWorkloadObjects, ns, nodeName, "10.78.0.3"))
		var m strings.Builder
		m.WriteString(samples(now, fmt.Sprintf(`container_cpu_usage_seconds_total{namespace=%q,pod="catalog-5d9b6c7f48-gq2vt",container="app"}`, ns), 40, func(i int) float64 { return 1000 + float64(i)*237 }))
		m.WriteString(samples(now, `node_load1{instance="10.78.0.3:9100"}`, 40, func(int) float64 { return 9.2 }))
		b.vm.Import(t, m.String())
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "HTTP5xxRateHigh", "namespace": ns, "service": "catalog", "severity": "warning"}, now.Add(-12*time.Minute)))
		wantRootCause(t, r, report.CPUSaturation, report.Ref{Kind: "Deployment", Namespace: ns, Name: "catalog"}, "3.95 cores", "load1 9.2 on 8 CPUs")
	})

	t.Run("healthy pods of a StatefulSet missing a replica are no recovery", func(t *testing.T) {
		ns := b.k.Namespace(t, "cache")
		b.k.Apply(t, stage(now, statefulSetObjects, ns))
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "KubeStatefulSetReplicasMismatch", "namespace": ns, "statefulset": "redis", "severity": "warning"}, now.Add(-20*time.Minute)))
		wantRootCause(t, r, report.Unknown, report.Ref{Kind: "StatefulSet", Namespace: ns, Name: "redis"}, "2 of 3 replicas ready")
	})

	t.Run("a volume filled by WAL an inactive replication slot retains", func(t *testing.T) {
		ns := b.k.Namespace(t, "db")
		b.k.Apply(t, stage(now, databaseVolumeObjects, ns))
		var m strings.Builder
		m.WriteString(samples(now, fmt.Sprintf(`kubelet_volume_stats_capacity_bytes{namespace=%q,persistentvolumeclaim="data-pg-0"}`, ns), 60, func(int) float64 { return 100 << 30 }))
		m.WriteString(samples(now, fmt.Sprintf(`kubelet_volume_stats_available_bytes{namespace=%q,persistentvolumeclaim="data-pg-0"}`, ns), 60, func(i int) float64 { return float64(22<<30) - float64(i)*(256<<20) }))
		m.WriteString(samples(now, fmt.Sprintf(`pg_replication_slots_pg_wal_lsn_diff{namespace=%q,pod="pg-0",slot_name="cdc_orders",database="orders"}`, ns), 60, func(i int) float64 { return float64(20<<30) + float64(i)*(256<<20) }))
		m.WriteString(samples(now, fmt.Sprintf(`pg_replication_slots_active{namespace=%q,pod="pg-0",slot_name="cdc_orders"}`, ns), 60, func(int) float64 { return 0 }))
		b.vm.Import(t, m.String())
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "KubePersistentVolumeFillingUp", "namespace": ns, "persistentvolumeclaim": "data-pg-0", "severity": "warning"}, now.Add(-20*time.Minute)))
		wantRootCause(t, r, report.DiskPressure, report.Ref{Kind: "PersistentVolumeClaim", Namespace: ns, Name: "data-pg-0"}, "replication slot cdc_orders is inactive", "pg_drop_replication_slot")
	})
}

const hpaObjects = `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: storefront, namespace: %[1]s}
spec:
  minReplicas: 2
  maxReplicas: 4
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: storefront}
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
status:
  currentReplicas: 4
  desiredReplicas: 4
  currentMetrics:
  - type: Resource
    resource: {name: cpu, current: {averageUtilization: 97}}
  conditions:
  - {type: AbleToScale, status: "True", reason: ReadyForNewScale, lastTransitionTime: "${now-44m}"}
  - {type: ScalingLimited, status: "True", reason: TooManyReplicas, message: the desired replica count is more than the maximum replica count, lastTransitionTime: "${now-41m}"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: storefront, namespace: %[1]s}
spec:
  replicas: 4
  selector: {matchLabels: {app: storefront}}
  template:
    metadata: {labels: {app: storefront}}
    spec:
      containers: [{name: app, image: registry.example.com/storefront:9.12.0, resources: {requests: {cpu: 500m}, limits: {cpu: "1"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: storefront-84d6b7c9f5-9n9cm, namespace: %[1]s, labels: {app: storefront}}
spec:
  nodeName: worker-1
  containers: [{name: app, image: registry.example.com/storefront:9.12.0, resources: {requests: {cpu: 500m}, limits: {cpu: "1"}}}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: app, ready: true, restartCount: 0, image: registry.example.com/storefront:9.12.0, imageID: "", state: {running: {startedAt: "${now-3h}"}}}
`

const failedJobObjects = `
apiVersion: batch/v1
kind: CronJob
metadata: {name: export, namespace: %[1]s}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: export, image: registry.example.com/exporter:1.12.0}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: export-29001234
  namespace: %[1]s
  labels: {job-name: export-29001234}
  ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: export, uid: 9b86b9cb-ca05-4092-a33d-72b099c1c1bc, controller: true}]
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: export, image: registry.example.com/exporter:1.12.0}]
status:
  startTime: "${now-55m}"
  failed: 1
  conditions:
  - {type: FailureTarget, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit, lastTransitionTime: "${now-49m}"}
  - {type: Failed, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit, lastTransitionTime: "${now-49m}"}
---
apiVersion: v1
kind: Pod
metadata:
  name: export-29001234-7kdw2
  namespace: %[1]s
  # The controller-uid of a Job that no longer exists under this uid.
  labels: {batch.kubernetes.io/job-name: export-29001234, job-name: export-29001234, batch.kubernetes.io/controller-uid: 00000000-0000-0000-0000-000000000001, controller-uid: 00000000-0000-0000-0000-000000000001}
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: export-29001234, uid: 00000000-0000-0000-0000-000000000001, controller: true}]
spec:
  nodeName: worker-1
  restartPolicy: Never
  containers: [{name: export, image: registry.example.com/exporter:1.12.0}]
status:
  phase: Failed
  containerStatuses:
  - {name: export, ready: false, restartCount: 0, image: registry.example.com/exporter:1.12.0, imageID: "", state: {terminated: {exitCode: 1, reason: Error, startedAt: "${now-55m}", finishedAt: "${now-50m}"}}}
`

const configCrashObjects = `
apiVersion: v1
kind: ConfigMap
metadata: {name: rates-config, namespace: %[1]s}
data: {REFRESH_INTERVAL: "300", BASE_CURRENCY: EUR, LOG_FORMAT: json}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: rates, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: rates}}
  template:
    metadata: {labels: {app: rates}}
    spec:
      containers: [{name: app, image: registry.example.com/rates:0.9.12, envFrom: [{configMapRef: {name: rates-config}}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: rates-6f7d8c9b5-kx2pq, namespace: %[1]s, labels: {app: rates}}
spec:
  nodeName: worker-1
  containers: [{name: app, image: registry.example.com/rates:0.9.12, envFrom: [{configMapRef: {name: rates-config}}]}]
status:
  phase: Running
  conditions: [{type: Ready, status: "False"}]
  containerStatuses:
  - name: app
    ready: false
    restartCount: 9
    image: registry.example.com/rates:0.9.12
    imageID: ""
    state: {waiting: {reason: CrashLoopBackOff, message: back-off 5m0s restarting failed container}}
    lastState: {terminated: {exitCode: 1, reason: Error, startedAt: "${now-3m}", finishedAt: "${now-2m}"}}
`

const limitRangeObjects = `
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: %[1]s}
spec:
  limits: [{type: Container, default: {memory: 512Mi}, defaultRequest: {memory: 256Mi}}]
---
apiVersion: v1
kind: LimitRange
metadata: {name: container-max, namespace: %[1]s}
spec:
  limits: [{type: Container, max: {memory: 4Gi}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers: [{name: worker, image: registry.example.com/worker:4.0.1, resources: {limits: {memory: 6Gi}}}]
---
apiVersion: v1
kind: Event
metadata: {name: worker-8f5d6c7b9b.1, namespace: %[1]s}
involvedObject: {apiVersion: apps/v1, kind: ReplicaSet, name: worker-8f5d6c7b9b, namespace: %[1]s}
reason: FailedCreate
type: Warning
count: 17
firstTimestamp: "${now-55m}"
lastTimestamp: "${now-2m}"
message: 'Error creating: pods "worker-8f5d6c7b9b-" is forbidden: maximum memory usage per Container is 4Gi, but limit is 6Gi'
source: {component: replicaset-controller}
`

// noisyNeighbourObjects: a node (%[2]s at %[3]s) and two workloads on it,
// of which transform has a small request and no CPU limit.
const noisyNeighbourObjects = `
apiVersion: v1
kind: Node
metadata: {name: %[2]s}
status:
  addresses: [{type: InternalIP, address: %[3]s}]
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
  conditions: [{type: Ready, status: "True", reason: KubeletReady, lastHeartbeatTime: "${now-1m}", lastTransitionTime: "${now-900h}"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: transform, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: transform}}
  template:
    metadata: {labels: {app: transform}}
    spec:
      containers: [{name: transform, image: registry.example.com/transform:2.1.0, resources: {requests: {cpu: 500m}}}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: transform-7b4f9c8d56
  namespace: %[1]s
  labels: {app: transform}
  annotations: {deployment.kubernetes.io/revision: "1"}
spec:
  replicas: 1
  selector: {matchLabels: {app: transform}}
  template:
    metadata: {labels: {app: transform}}
    spec:
      containers: [{name: transform, image: registry.example.com/transform:2.1.0, resources: {requests: {cpu: 500m}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: transform-7b4f9c8d56-s6jxq, namespace: %[1]s, labels: {app: transform}}
spec:
  nodeName: %[2]s
  containers: [{name: transform, image: registry.example.com/transform:2.1.0, resources: {requests: {cpu: 500m}}}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: transform, ready: true, restartCount: 0, image: registry.example.com/transform:2.1.0, imageID: "", state: {running: {startedAt: "${now-50m}"}}}
---
apiVersion: v1
kind: Pod
metadata: {name: api-5d9b6c7f48-7rxkm, namespace: %[1]s, labels: {app: api}}
spec:
  nodeName: %[2]s
  containers: [{name: api, image: registry.example.com/api:6.0.3, resources: {requests: {cpu: 500m}}}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: api, ready: true, restartCount: 0, image: registry.example.com/api:6.0.3, imageID: "", state: {running: {startedAt: "${now-90h}"}}}
`

// saturatedWorkloadObjects: catalog behind a Service, one pod on node %[2]s
// (%[3]s), a 1-core request and no CPU limit.
const saturatedWorkloadObjects = `
apiVersion: v1
kind: Node
metadata: {name: %[2]s}
status:
  addresses: [{type: InternalIP, address: %[3]s}]
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
  conditions: [{type: Ready, status: "True", reason: KubeletReady, lastHeartbeatTime: "${now-1m}", lastTransitionTime: "${now-900h}"}]
---
apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: %[1]s}
spec:
  selector: {app: catalog}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalog, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: catalog}}
  template:
    metadata: {labels: {app: catalog}}
    spec:
      containers: [{name: app, image: registry.example.com/catalog:6.0.3, resources: {requests: {cpu: "1"}, limits: {memory: 2Gi}}}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: catalog-5d9b6c7f48
  namespace: %[1]s
  labels: {app: catalog}
  annotations: {deployment.kubernetes.io/revision: "1"}
spec:
  replicas: 1
  selector: {matchLabels: {app: catalog}}
  template:
    metadata: {labels: {app: catalog}}
    spec:
      containers: [{name: app, image: registry.example.com/catalog:6.0.3, resources: {requests: {cpu: "1"}, limits: {memory: 2Gi}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: catalog-5d9b6c7f48-gq2vt, namespace: %[1]s, labels: {app: catalog}}
spec:
  nodeName: %[2]s
  containers: [{name: app, image: registry.example.com/catalog:6.0.3, resources: {requests: {cpu: "1"}, limits: {memory: 2Gi}}}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: app, ready: true, restartCount: 0, image: registry.example.com/catalog:6.0.3, imageID: "", state: {running: {startedAt: "${now-90h}"}}}
`

const databaseVolumeObjects = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-pg-0, namespace: %[1]s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Gi}}
status:
  phase: Bound
  accessModes: [ReadWriteOnce]
  capacity: {storage: 100Gi}
---
apiVersion: v1
kind: Pod
metadata: {name: pg-0, namespace: %[1]s, labels: {app: pg}}
spec:
  nodeName: worker-1
  containers: [{name: postgres, image: postgres:16}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data-pg-0}}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: postgres, ready: true, restartCount: 0, image: postgres:16, imageID: "", state: {running: {startedAt: "${now-90h}"}}}
`

const statefulSetObjects = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis, namespace: %[1]s}
spec:
  replicas: 3
  serviceName: redis
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers: [{name: redis, image: redis:7.2}]
status:
  replicas: 3
  readyReplicas: 2
  currentReplicas: 3
  availableReplicas: 2
---
apiVersion: v1
kind: Pod
metadata:
  name: redis-0
  namespace: %[1]s
  labels: {app: redis}
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: redis, uid: 00000000-0000-0000-0000-000000000002, controller: true}]
spec:
  nodeName: worker-1
  containers: [{name: redis, image: redis:7.2}]
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: redis, ready: true, restartCount: 0, image: redis:7.2, imageID: "", state: {running: {startedAt: "${now-90h}"}}}
`
