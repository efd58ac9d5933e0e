package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/report"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// TestWebhookBlockingPods stages a Deployment whose ReplicaSet the API
// server refuses because it cannot call a mutating webhook, with the
// webhook's configuration, Service and pods in another namespace: the
// engine follows the webhook's name to what serves it.
func TestWebhookBlockingPods(t *testing.T) {
	b := backends{k: testbackend.SharedKube(t), vm: testbackend.StartVictoriaMetrics(t), vl: testbackend.StartVictoriaLogs(t)}
	now := time.Now().UTC().Truncate(time.Second)

	t.Run("expired serving certificate", func(t *testing.T) {
		ns := b.k.Namespace(t, "orders")
		whNS := b.k.Namespace(t, "platform")
		cfg := b.k.Unique("defaults-webhook")
		hook := cfg + ".example.com"
		msg := fmt.Sprintf(`Error creating: Internal error occurred: failed calling webhook "%s": failed to call webhook: Post "https://defaults-webhook.%s.svc:443/mutate?timeout=10s": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time %s is after %s`,
			hook, whNS, now.Add(-time.Minute).Format(time.RFC3339), now.Add(-40*time.Minute).Format(time.RFC3339))
		b.k.Apply(t, stage(now, webhookObjects, ns, whNS, cfg, hook, msg))
		b.vl.Ingest(t, repeated(now, whNS, "defaults-webhook-6d5f8b7c9-9gbbt", "webhook", "http: TLS handshake error from 10.0.0.10:41822: remote error: tls: bad certificate", 5))
		r := runIncident(t, newEngine(t, b, true),
			firing(map[string]string{"alertname": "KubeDeploymentReplicasMismatch", "namespace": ns, "deployment": "orders", "severity": "warning"}, now.Add(-15*time.Minute)))
		wantRootCause(t, r, report.CertificateExpiry, report.Ref{Kind: "Secret", Namespace: whNS, Name: "defaults-webhook-serving"},
			hook, "MutatingWebhookConfiguration "+cfg, "failurePolicy Fail", "bad certificate", now.Add(-40*time.Minute).Format(time.RFC3339))
	})
}

// webhookObjects: a Deployment in %[1]s whose ReplicaSet is refused with
// message %[5]s, and in %[2]s the webhook %[4]s of configuration %[3]s:
// its Service, Deployment and ready pod mounting a TLS Secret. The
// configuration's selector matches no namespace, so the shared API server
// never calls it.
const webhookObjects = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, namespace: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec:
      containers: [{name: app, image: registry.example.com/orders:1.2.0}]
---
apiVersion: v1
kind: Event
metadata: {name: orders-5c8d7f6b9.1, namespace: %[1]s}
involvedObject: {apiVersion: apps/v1, kind: ReplicaSet, name: orders-5c8d7f6b9, namespace: %[1]s}
reason: FailedCreate
type: Warning
count: 21
firstTimestamp: "${now-30m}"
lastTimestamp: "${now-1m}"
message: '%[5]s'
source: {component: replicaset-controller}
---
apiVersion: v1
kind: Service
metadata: {name: defaults-webhook, namespace: %[2]s}
spec:
  selector: {app: defaults-webhook}
  ports: [{name: https, port: 443, targetPort: 8443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: defaults-webhook, namespace: %[2]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: defaults-webhook}}
  template:
    metadata: {labels: {app: defaults-webhook}}
    spec:
      containers: [{name: webhook, image: registry.example.com/defaults-webhook:1.4.2}]
---
apiVersion: v1
kind: Pod
metadata: {name: defaults-webhook-6d5f8b7c9-9gbbt, namespace: %[2]s, labels: {app: defaults-webhook}}
spec:
  nodeName: worker-1
  containers:
  - name: webhook
    image: registry.example.com/defaults-webhook:1.4.2
    volumeMounts: [{name: creds, mountPath: /etc/creds}, {name: certs, mountPath: /certs}]
  volumes:
  - {name: creds, secret: {secretName: defaults-webhook-creds}}
  - {name: certs, secret: {secretName: defaults-webhook-serving}}
status:
  phase: Running
  conditions: [{type: Ready, status: "True"}]
  containerStatuses:
  - {name: webhook, ready: true, restartCount: 0, image: registry.example.com/defaults-webhook:1.4.2, imageID: "", state: {running: {startedAt: "${now-200h}"}}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: %[3]s}
webhooks:
- name: %[4]s
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  clientConfig:
    service: {name: defaults-webhook, namespace: %[2]s, path: /mutate, port: 443}
  namespaceSelector: {matchLabels: {sleuth-test/never: "true"}}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
`
