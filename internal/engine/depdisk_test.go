package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// bookingObjects: an Ingress and its frontend in %[1]s, configured through
// an envFrom ConfigMap to use a MySQL in %[2]s whose pod is Ready.
var bookingObjects = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: booking-web, namespace: %[1]s}
spec:
  rules:
  - host: booking.%[1]s.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: booking-web, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: booking-web, namespace: %[1]s}
spec:
  selector: {app.kubernetes.io/name: booking-web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: booking-web-env, namespace: %[1]s}
data:
  DB_CONNECTION: mysql
  DB_HOST: mysql.%[2]s.svc.cluster.local
  DB_PORT: "3306"
---
apiVersion: v1
kind: Pod
metadata:
  name: booking-web-7c6d9b8f54-szpzd
  namespace: %[1]s
  labels: {app.kubernetes.io/name: booking-web}
spec:
  nodeName: worker-1
  containers:
  - name: app
    image: app
    envFrom: [{configMapRef: {name: booking-web-env}}]
` + strings.ReplaceAll(readyPodStatus, "%[2]d", "31") + `
---
apiVersion: v1
kind: Service
metadata: {name: mysql, namespace: %[2]s}
spec:
  selector: {app.kubernetes.io/name: mysql}
  ports: [{port: 3306}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: mysql, namespace: %[2]s}
spec:
  serviceName: mysql
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: mysql}}
  template:
    metadata: {labels: {app.kubernetes.io/name: mysql}}
    spec:
      containers: [{name: app, image: mysql}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-mysql-0, namespace: %[2]s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 50Gi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: mysql-0
  namespace: %[2]s
  labels: {app.kubernetes.io/name: mysql}
spec:
  nodeName: worker-2
  containers: [{name: app, image: mysql}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data-mysql-0}}]
` + strings.ReplaceAll(readyPodStatus, "%[2]d", "32")

// TestEdgeOfTheControllerAgainstRealBackends stages a 5xx alert whose
// labels are the ingress controller's (its namespace and metrics
// Service; the application's namespace in exported_namespace, or only the
// Ingress's name) while the frontend's database is out of disk.
func TestEdgeOfTheControllerAgainstRealBackends(t *testing.T) {
	b := backends{k: testbackend.SharedKube(t), vm: testbackend.StartVictoriaMetrics(t), vl: testbackend.StartVictoriaLogs(t)}
	now := time.Now().UTC().Truncate(time.Second)
	quietDNS := b.k.Namespace(t, "dns")
	engine := func() *Engine {
		e := newEngine(t, b, true)
		e.cfg.DNSNamespace = quietDNS
		return e
	}
	stageBooking := func(t *testing.T, diskFull bool) (app, db, ctrl string) {
		app, db, ctrl = b.k.Namespace(t, "booking"), b.k.Namespace(t, "databases"), b.k.Namespace(t, "ingress-nginx")
		b.k.Apply(t, stage(now, bookingObjects, app, db))
		b.vl.Ingest(t, repeated(now, app, "booking-web-7c6d9b8f54-szpzd", "app",
			`SQLSTATE[HY000] [1040] Too many connections (Connection: mysql, SQL: select * from availability)`, 20))
		msg := "[Note] [MY-010914] [Server] Aborted connection 18469 to db: 'booking'"
		if diskFull {
			msg = "[ERROR] [MY-000035] [Server] Disk is full writing './mysql-bin.000412' (OS errno 28 - No space left on device). Waiting for someone to free space... Retry in 60 secs."
		}
		b.vl.Ingest(t, repeated(now, db, "mysql-0", "app", msg, 3))
		return app, db, ctrl
	}
	alert := func(ctrl string, extra map[string]string) map[string]string {
		l := map[string]string{"alertname": "NginxIngressHigh5xxRate", "namespace": ctrl, "service": "ingress-nginx-controller-metrics",
			"ingress": "booking-web", "severity": "critical"}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}

	t.Run("exported_namespace names the application's namespace", func(t *testing.T) {
		app, db, ctrl := stageBooking(t, true)
		r := expectRootCause(t, engine(), alert(ctrl, map[string]string{"exported_namespace": app}), now.Add(-20*time.Minute),
			report.DiskPressure, report.Ref{Kind: "PersistentVolumeClaim", Namespace: db, Name: "data-mysql-0"},
			"errno 28", "50Gi", "Too many connections", "ConfigMap value DB_HOST")
		if r.Target != (report.Ref{Kind: "Ingress", Namespace: app, Name: "booking-web"}) {
			t.Errorf("target = %v, want the application's Ingress", r.Target)
		}
	})

	t.Run("only the Ingress's name and host, in the controller's namespace", func(t *testing.T) {
		// Other subtests' Ingresses share the name: the host tells them apart.
		app, db, ctrl := stageBooking(t, true)
		expectRootCause(t, engine(), alert(ctrl, map[string]string{"host": "booking." + app + ".example.com"}), now.Add(-20*time.Minute),
			report.DiskPressure, report.Ref{Kind: "PersistentVolumeClaim", Namespace: db, Name: "data-mysql-0"}, "errno 28")
	})

	t.Run("a database with room is not blamed", func(t *testing.T) {
		app, _, ctrl := stageBooking(t, false)
		r, err := engine().InvestigateAlerts(context.Background(), []store.Alert{firing(alert(ctrl, map[string]string{"exported_namespace": app}), now.Add(-20*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		if r.RootCause.Category == report.DiskPressure {
			t.Fatalf("root cause = %+v for a database with room\n%s", r.RootCause, r.Text())
		}
		if r.Target.Namespace != app {
			t.Errorf("target = %v, want the application's namespace %s", r.Target, app)
		}
	})
}
