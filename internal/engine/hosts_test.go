package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
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
