package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/store"
)

var groupBy = []string{"alertname", "namespace", "workload"}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "sleuth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mkAlert(status, name, ns, pod, severity string, startsAt time.Time) store.KeyedAlert {
	labels := map[string]string{"alertname": name, "namespace": ns, "pod": pod, "severity": severity}
	return store.KeyedAlert{
		Alert: alert.Alert{
			Status: status, Labels: labels, StartsAt: startsAt,
			Annotations: map[string]string{"summary": name + " on " + pod},
			Fingerprint: alert.Fingerprint(labels),
		},
		Key:      incident.Key(groupBy, labels),
		Workload: incident.Workload(labels),
	}
}

func ingest(t *testing.T, s *Store, now time.Time, alerts ...store.KeyedAlert) store.IngestResult {
	t.Helper()
	res, err := s.Ingest(context.Background(), store.Ingest{Now: now, Receiver: "sleuth", Cooldown: 4 * time.Hour, Alerts: alerts})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestIngestDedupAndGrouping(t *testing.T) {
	s := open(t)
	a1 := mkAlert("firing", "KubePodCrashLooping", "shop", "checkout-7d9f8b6c5d-x2k4p", "warning", t0)
	a2 := mkAlert("firing", "KubePodCrashLooping", "shop", "checkout-7d9f8b6c5d-q8z7m", "warning", t0)
	other := mkAlert("firing", "KubePodCrashLooping", "shop", "payments-5c6b7d8f9-bcdfg", "critical", t0)

	got := ingest(t, s, t0, a1, a2, other)
	want := store.IngestResult{New: 3, NewIncidents: 2, Queued: 2}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("first delivery (-want +got):\n%s", d)
	}
	// Alertmanager re-sends the group every group_interval, and an HA pair
	// sends everything twice: nothing new may come of it.
	for range 3 {
		got = ingest(t, s, t0.Add(5*time.Minute), a1, a2, other)
		if d := cmp.Diff(store.IngestResult{Duplicates: 3}, got); d != "" {
			t.Fatalf("re-send (-want +got):\n%s", d)
		}
	}
	incs, err := s.Incidents(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 2 {
		t.Fatalf("incidents = %d, want 2", len(incs))
	}
	byWorkload := map[string]store.Incident{}
	for _, in := range incs {
		byWorkload[in.Workload] = in
	}
	if in := byWorkload["checkout"]; in.Alerts != 2 || in.Firing != 2 || in.State != store.IncidentOpen {
		t.Errorf("checkout incident = %+v, want 2 firing alerts, open", in)
	}
	if in := byWorkload["payments"]; in.Severity != "critical" || in.Alerts != 1 {
		t.Errorf("payments incident = %+v", in)
	}
	invs, err := s.Investigations(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != 2 {
		t.Fatalf("investigations = %d, want 2", len(invs))
	}
}

func TestIngestResolveAndCooldown(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	a := mkAlert("firing", "KubePodOOMKilled", "shop", "cart-6f7d8c9b5-kx2pq", "warning", t0)
	ingest(t, s, t0, a)

	resolved := a
	resolved.Status = alert.StatusResolved
	resolved.EndsAt = t0.Add(10 * time.Minute)
	got := ingest(t, s, t0.Add(11*time.Minute), resolved)
	if d := cmp.Diff(store.IngestResult{Resolved: 1, ClosedIncidents: 1}, got); d != "" {
		t.Fatalf("resolve (-want +got):\n%s", d)
	}
	// A late firing re-send of the same alert (an HA peer lagging) must not
	// bring it back.
	if got := ingest(t, s, t0.Add(12*time.Minute), a); got.Duplicates != 1 || got.New != 0 {
		t.Fatalf("late re-send = %+v, want a duplicate", got)
	}
	inc, err := s.Incident(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if inc.State != store.IncidentResolved || inc.ResolvedAt == nil || inc.Firing != 0 {
		t.Fatalf("incident after resolve = %+v", inc)
	}

	// Fires again within the cooldown: the incident reopens, no new investigation.
	again := mkAlert("firing", "KubePodOOMKilled", "shop", "cart-6f7d8c9b5-kx2pq", "warning", t0.Add(time.Hour))
	if got := ingest(t, s, t0.Add(time.Hour), again); got.NewIncidents != 0 || got.Queued != 0 || got.New != 1 {
		t.Fatalf("refire within cooldown = %+v, want the incident reopened without a new investigation", got)
	}
	if inc, _ = s.Incident(ctx, 1); inc.State != store.IncidentOpen || inc.ResolvedAt != nil {
		t.Fatalf("incident after refire = %+v, want open", inc)
	}
	// Resolved again, then firing after the cooldown: a new incident, investigated.
	r2 := again
	r2.Status = alert.StatusResolved
	ingest(t, s, t0.Add(2*time.Hour), r2)
	late := mkAlert("firing", "KubePodOOMKilled", "shop", "cart-6f7d8c9b5-kx2pq", "warning", t0.Add(5*time.Hour))
	if got := ingest(t, s, t0.Add(5*time.Hour), late); got.NewIncidents != 1 || got.Queued != 1 {
		t.Fatalf("refire after cooldown = %+v, want a new incident and investigation", got)
	}
}

func TestIngestOpenIncidentReinvestigatedAfterCooldown(t *testing.T) {
	s := open(t)
	ingest(t, s, t0, mkAlert("firing", "HighLatency", "web", "frontend-6f7d8c9b5-kx2pq", "warning", t0))
	// A new pod of the same workload joins within the cooldown: grouped.
	if got := ingest(t, s, t0.Add(time.Hour), mkAlert("firing", "HighLatency", "web", "frontend-6f7d8c9b5-zz2pq", "warning", t0.Add(time.Hour))); got.Queued != 0 {
		t.Fatalf("within cooldown = %+v, want no new investigation", got)
	}
	// Still open five hours on, another new alert: investigate again.
	if got := ingest(t, s, t0.Add(5*time.Hour), mkAlert("firing", "HighLatency", "web", "frontend-6f7d8c9b5-bb2pq", "warning", t0.Add(5*time.Hour))); got.Queued != 1 || got.NewIncidents != 0 {
		t.Fatalf("after cooldown = %+v, want one new investigation of the open incident", got)
	}
}

func TestIngestResolvedOnly(t *testing.T) {
	s := open(t)
	a := mkAlert("resolved", "DiskFull", "ops", "", "warning", t0)
	a.Labels["node"] = "worker-3"
	got := ingest(t, s, t0, a)
	if d := cmp.Diff(store.IngestResult{New: 1}, got); d != "" {
		t.Fatalf("resolved-only alert (-want +got):\n%s", d)
	}
	st, err := s.Stats(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Investigations[store.StateQueued] != 0 || st.OpenIncidents != 0 {
		t.Fatalf("stats = %+v, want nothing queued or open", st)
	}
}

func TestStorm(t *testing.T) {
	s := open(t)
	const workloads, perWorkload = 20, 50
	var batch []store.KeyedAlert
	for i := range workloads * perWorkload {
		w := i % workloads
		pod := fmt.Sprintf("svc%02d-7d9f8b6c5d-%s", w, suffix(i/workloads))
		batch = append(batch, mkAlert("firing", "KubePodCrashLooping", fmt.Sprintf("ns%d", w%3), pod, "critical", t0))
		if len(batch) == 10 {
			ingest(t, s, t0, batch...)
			ingest(t, s, t0, batch...) // the HA peer
			batch = nil
		}
	}
	st, err := s.Stats(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Investigations[store.StateQueued] != workloads || st.OpenIncidents != workloads {
		t.Fatalf("stats = %+v, want %d queued investigations and open incidents", st, workloads)
	}
}

// suffix returns a distinct 5-character pod suffix from the controllers' alphabet.
func suffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := []byte("bbbbb")
	for i := 4; i >= 0 && n > 0; i-- {
		b[i] = alphabet[n%len(alphabet)]
		n /= len(alphabet)
	}
	return string(b)
}

func TestClaimOrderAndFinish(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	ingest(t, s, t0,
		mkAlert("firing", "A", "ns", "info-6f7d8c9b5-kx2pq", "info", t0),
		mkAlert("firing", "B", "ns", "warn-6f7d8c9b5-kx2pq", "warning", t0),
		mkAlert("firing", "C", "ns", "crit-6f7d8c9b5-kx2pq", "critical", t0),
	)
	var order []string
	var claimed []*store.Investigation
	for range 3 {
		v, err := s.Claim(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, v.AlertName)
		claimed = append(claimed, v)
		if v.State != store.StateRunning || v.Attempts != 1 {
			t.Fatalf("claimed = %+v, want running, attempt 1", v)
		}
	}
	if d := cmp.Diff([]string{"C", "B", "A"}, order); d != "" {
		t.Fatalf("claim order (-want +got):\n%s", d)
	}
	if _, err := s.Claim(ctx, t0); !errors.Is(err, store.ErrNoWork) {
		t.Fatalf("claim on empty queue: err = %v, want ErrNoWork", err)
	}

	// Retry: queued again, not ready before its time.
	c := claimed[0]
	if err := s.Finish(ctx, store.Finish{ID: c.ID, Attempt: 1, Now: t0, State: store.StateQueued, NotBefore: t0.Add(time.Minute), Error: "backend down"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, t0.Add(30*time.Second)); !errors.Is(err, store.ErrNoWork) {
		t.Fatalf("claim before retry time: err = %v, want ErrNoWork", err)
	}
	v, err := s.Claim(ctx, t0.Add(time.Minute))
	if err != nil || v.ID != c.ID || v.Attempts != 2 {
		t.Fatalf("claim after retry time = %+v, %v; want investigation %d attempt 2", v, err, c.ID)
	}
	// The stale attempt 1 may not finish it.
	if err := s.Finish(ctx, store.Finish{ID: c.ID, Attempt: 1, Now: t0, State: store.StateDone, Report: json.RawMessage(`{}`)}); !errors.Is(err, store.ErrLost) {
		t.Fatalf("finish by a stale attempt: err = %v, want ErrLost", err)
	}
	if err := s.Finish(ctx, store.Finish{ID: c.ID, Attempt: 2, Now: t0, State: store.StateDone, Report: json.RawMessage(`{"summary":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	// Finishing twice is refused: nothing completes twice.
	if err := s.Finish(ctx, store.Finish{ID: c.ID, Attempt: 2, Now: t0, State: store.StateDone}); !errors.Is(err, store.ErrLost) {
		t.Fatalf("second finish: err = %v, want ErrLost", err)
	}
	got, err := s.Investigation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.StateDone || string(got.Report) != `{"summary":"x"}` || got.FinishedAt == nil {
		t.Fatalf("finished investigation = %+v", got)
	}

	// Interrupted work (still running at startup) is requeued.
	n, err := s.RecoverInterrupted(ctx)
	if err != nil || n != 2 {
		t.Fatalf("RecoverInterrupted = %d, %v; want 2", n, err)
	}
	st, _ := s.Stats(ctx, t0)
	if st.Investigations[store.StateQueued] != 2 || st.Investigations[store.StateRunning] != 0 || st.Investigations[store.StateDone] != 1 {
		t.Fatalf("stats after recovery = %+v", st.Investigations)
	}
}

func TestPriorityRaisedByCriticalAlert(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	ingest(t, s, t0, mkAlert("firing", "Latency", "ns", "slow-6f7d8c9b5-kx2pq", "warning", t0))
	ingest(t, s, t0, mkAlert("firing", "Other", "ns", "other-6f7d8c9b5-kx2pq", "warning", t0))
	// A critical alert joins the first incident: it must run first now.
	ingest(t, s, t0, mkAlert("firing", "Latency", "ns", "slow-6f7d8c9b5-bb2pq", "critical", t0))
	v, err := s.Claim(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if v.AlertName != "Latency" || v.Priority != 0 {
		t.Fatalf("claimed %+v, want the Latency investigation raised to priority 0", v)
	}
	inc, _ := s.Incident(ctx, v.IncidentID)
	if inc.Severity != "critical" {
		t.Fatalf("incident severity = %q, want critical", inc.Severity)
	}
}

func TestListFiltersAndPaging(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for i := range 7 {
		ns := "a"
		if i%2 == 1 {
			ns = "b"
		}
		now := t0.Add(time.Duration(i) * time.Minute)
		ingest(t, s, now, mkAlert("firing", fmt.Sprintf("Alert%d", i), ns, "p-6f7d8c9b5-kx2pq", "warning", now))
	}
	ids := func(items []store.Investigation) []int64 {
		var out []int64
		for _, v := range items {
			out = append(out, v.ID)
		}
		return out
	}
	f := func(filter store.Filter, want []int64) {
		t.Helper()
		got, err := s.Investigations(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, ids(got)); d != "" {
			t.Errorf("filter %+v (-want +got):\n%s", filter, d)
		}
	}
	f(store.Filter{}, []int64{7, 6, 5, 4, 3, 2, 1})
	f(store.Filter{Namespace: "b"}, []int64{6, 4, 2})
	f(store.Filter{Limit: 3}, []int64{7, 6, 5})
	f(store.Filter{Limit: 3, BeforeID: 5}, []int64{4, 3, 2})
	f(store.Filter{Since: t0.Add(2 * time.Minute), Until: t0.Add(4 * time.Minute)}, []int64{4, 3})
	f(store.Filter{State: store.StateDone}, nil)
	f(store.Filter{State: store.StateQueued, Namespace: "a", Limit: 2}, []int64{7, 5})

	incs, err := s.Incidents(ctx, store.Filter{Namespace: "a", State: store.IncidentOpen})
	if err != nil || len(incs) != 4 {
		t.Fatalf("incidents in a = %d, %v; want 4", len(incs), err)
	}
	alerts, err := s.IncidentAlerts(ctx, incs[0].ID)
	if err != nil || len(alerts) != 1 || alerts[0].Labels["alertname"] != "Alert6" || alerts[0].Annotations["summary"] == "" {
		t.Fatalf("alerts of incident %d = %+v, %v", incs[0].ID, alerts, err)
	}
	if _, err := s.Investigation(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing investigation: err = %v, want ErrNotFound", err)
	}
}

func TestConcurrentIngestAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sleuth.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				a := mkAlert("firing", "X", "ns", fmt.Sprintf("w%d-6f7d8c9b5-%s", c, suffix(i)), "warning", t0)
				if _, err := s.Ingest(context.Background(), store.Ingest{Now: t0, Cooldown: time.Hour, Alerts: []store.KeyedAlert{a, a}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.Close()
	// Reopening migrates nothing twice and finds everything.
	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if st.OpenIncidents != 4 || st.Investigations[store.StateQueued] != 4 {
		t.Fatalf("after reopen: %+v, want 4 incidents and 4 investigations", st)
	}
	var n int
	if err := s.r.QueryRow(`SELECT count(*) FROM alerts`).Scan(&n); err != nil || n != 200 {
		t.Fatalf("alerts = %d, %v; want 200", n, err)
	}
}

func TestParseURL(t *testing.T) {
	f := func(in, want string, ok bool) {
		t.Helper()
		got, err := ParseURL(in)
		if (err == nil) != ok || got != want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q, ok=%v", in, got, err, want, ok)
		}
	}
	f("sqlite://./sleuth.db", "./sleuth.db", true)
	f("sqlite:///var/lib/sleuth/sleuth.db", "/var/lib/sleuth/sleuth.db", true)
	f("sqlite://", "", false)
	f("postgres://x", "", false)
}
