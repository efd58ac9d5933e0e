package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestHostsInLogs(t *testing.T) {
	f := func(lines []string, want []string) {
		t.Helper()
		var got []string
		for _, h := range hostsInLogs(lines) {
			got = append(got, h.Host+":"+h.Port)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("hostsInLogs(%q) (-want +got):\n%s", lines, d)
		}
	}
	f([]string{`failed to connect to database: dial tcp 10.96.12.7:5432: connect: connection refused`}, []string{"10.96.12.7:5432", "database:"}) // words are filtered later, by matching Services
	f([]string{`dial tcp: lookup postgres on 10.96.0.10:53: no such host`}, []string{"postgres:"})
	f([]string{`GET http://inventory.shop.svc.cluster.local:8080/api/items failed: 503 Service Unavailable`}, []string{"inventory.shop.svc.cluster.local:8080"})
	f([]string{`redis: connection pool timeout host=redis-master:6379`}, []string{"redis-master:6379"})
	f([]string{`Error: connect ECONNREFUSED 10.0.3.4:6379`}, []string{"10.0.3.4:6379"})
	f([]string{`could not connect to server: Connection refused. Is the server running on host "orders-db" and accepting TCP/IP connections on port 5432?`}, []string{"orders-db:"})
	// Lines that report no failure name no peer, and loopback is never one.
	f([]string{`connected to postgres:5432`, `listening on http://0.0.0.0:8080`}, nil)
	f([]string{`dial tcp 127.0.0.1:9000: connect: connection refused`}, nil)
	// Most mentioned first.
	f([]string{`dial tcp: lookup cache on 10.96.0.10:53: i/o timeout`, `upstream connect error to payments:8443 timeout`, `upstream connect error to payments:8443 timeout`}, []string{"payments:8443", "cache:"})
}

func TestServiceName(t *testing.T) {
	f := func(host, wantName, wantNS string) {
		t.Helper()
		name, ns := serviceName(host, "shop")
		if name != wantName || ns != wantNS {
			t.Errorf("serviceName(%q) = %q %q, want %q %q", host, name, ns, wantName, wantNS)
		}
	}
	f("postgres", "postgres", "shop")
	f("postgres.db", "postgres", "db")
	f("postgres.db.svc.cluster.local", "postgres", "db")
	f("api.example.com", "", "")
}

func TestServiceNameOfHeadlessPod(t *testing.T) {
	name, ns := serviceName("kafka-0.kafka-headless.data.svc.cluster.local", "shop")
	if name != "kafka-headless" || ns != "data" {
		t.Errorf("serviceName of a headless pod's name = %q %q, want kafka-headless data", name, ns)
	}
}

func TestConfiguredPeers(t *testing.T) {
	f := func(env []corev1.EnvVar, args []string, want []string) {
		t.Helper()
		p := corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env, Args: args}}}}
		var got []string
		for _, cp := range configuredPeers([]corev1.Pod{p}) {
			got = append(got, cp.host+":"+cp.port+" ("+cp.source+")")
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("configuredPeers(%v, %v) (-want +got):\n%s", env, args, d)
		}
	}
	f([]corev1.EnvVar{{Name: "DATABASE_URL", Value: "jdbc:postgresql://orders-db.shop.svc:5432/orders?sslmode=verify-full"}}, nil,
		[]string{"orders-db.shop.svc:5432 (env DATABASE_URL of container app)"})
	f([]corev1.EnvVar{{Name: "REDIS_URL", Value: "redis://:secret@redis-master:6379/0"}, {Name: "CACHE", Value: "memcached.cache.svc.cluster.local:11211"}}, nil,
		[]string{"redis-master:6379 (env REDIS_URL of container app)", "memcached.cache.svc.cluster.local:11211 (env CACHE of container app)"})
	f([]corev1.EnvVar{{Name: "DB_HOST", Value: "postgres"}, {Name: "DB_PORT", Value: "5432"}, {Name: "LOG_LEVEL", Value: "info"}}, nil,
		[]string{"postgres:5432 (env DB_HOST of container app)"})
	f(nil, []string{"--upstream=http://inventory:8080", "--listen=:8080"}, []string{"inventory:8080 (arguments of container app)"})
	// Secret references are never followed; loopback and IPs are no peers.
	f([]corev1.EnvVar{{Name: "DB_HOST", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "host"}}}, {Name: "ADMIN_URL", Value: "http://localhost:9000"}, {Name: "PEER", Value: "10.0.0.4:80"}}, nil, nil)
}

func TestProbeHost(t *testing.T) {
	f := func(labels map[string]string, want string) {
		t.Helper()
		if got := probeHost(labels); got != want {
			t.Errorf("probeHost(%v) = %q, want %q", labels, got, want)
		}
	}
	f(map[string]string{"alertname": "BlackboxProbeFailed", "instance": "https://Shop.Example.com/health"}, "shop.example.com")
	f(map[string]string{"alertname": "BlackboxSslCertificateWillExpireSoon", "instance": "sso.example.com:443"}, "sso.example.com")
	f(map[string]string{"alertname": "BlackboxProbeFailed", "instance": "http://checkout.shop.svc:8080/health"}, "checkout.shop.svc")
	// Node exporters' instances are no probes.
	f(map[string]string{"alertname": "NodeFilesystemAlmostOutOfSpace", "instance": "10.0.1.12:9100"}, "")
	f(map[string]string{"alertname": "KubeletDown", "instance": "worker-1:10250"}, "")
}
