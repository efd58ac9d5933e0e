package analyze

import (
	"strings"
	"testing"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// mysqlDep is a Ready database the frontend is configured to use, with
// one volume claim free by the given ratio (-1: not measured).
func mysqlDep(avail float64, lines ...string) Dependency {
	d := postgresDep("ConfigMap value DB_HOST of container app")
	d.Host, d.Port = "mysql.databases.svc.cluster.local", "3306"
	d.Service = report.Ref{Kind: "Service", Namespace: "databases", Name: "mysql"}
	d.Workload = report.Ref{Kind: "StatefulSet", Namespace: "databases", Name: "mysql"}
	d.Pods[0].Name, d.Pods[0].Namespace = "mysql-0", "databases"
	d.PodLines = lines
	d.Claims = []ClaimUse{{Ref: report.Ref{Kind: "PersistentVolumeClaim", Namespace: "databases", Name: "data-mysql-0"}, Pod: "mysql-0", Capacity: "50Gi", AvailRatio: avail}}
	return d
}

const binlogFull = "[ERROR] [MY-000035] [Server] Disk is full writing './mysql-bin.000412' (OS errno 28 - No space left on device). Waiting for someone to free space..."

func TestDependencyOutOfDisk(t *testing.T) {
	claim := report.Ref{Kind: "PersistentVolumeClaim", Namespace: "databases", Name: "data-mysql-0"}
	f := func(name string, d Dependency, wantFull bool, mentions ...string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			ev := frontend("NginxIngressHigh5xxRate")
			logs(ev, "SQLSTATE[HY000] [1040] Too many connections", `upstream timed out (110: Operation timed out) while reading response header from upstream`)
			ev.Dependencies = []Dependency{d}
			rc, text, out := decided(ev)
			if !wantFull {
				for _, f := range out.Findings {
					if f.Category == report.DiskPressure {
						t.Fatalf("blamed the volume of a dependency with room: %s", f.Title)
					}
				}
				return
			}
			if rc.Category != report.DiskPressure || rc.Object != claim {
				t.Fatalf("root cause = %s %v, want disk-pressure %v\nfindings: %+v", rc.Category, rc.Object, claim, out.Findings)
			}
			for _, m := range mentions {
				if !strings.Contains(text, strings.ToLower(m)) {
					t.Errorf("report lacks %q:\n%s", m, text)
				}
			}
		})
	}
	f("the database logs that its disk is full, no volume metrics", mysqlDep(-1, binlogFull), true,
		"errno 28", "data-mysql-0", "50Gi", "too many connections", "mysql.databases.svc.cluster.local:3306")
	f("the volume metrics alone say the claim is full", mysqlDep(0.004), true, "0% free", "expand the claim")
	f("a dependency with room and quiet logs is not blamed", mysqlDep(0.4), false)
	f("a dependency without claims or disk lines is not blamed", func() Dependency { d := mysqlDep(-1); d.Claims = nil; return d }(), false)
}
