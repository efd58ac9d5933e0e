package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/store"
	"github.com/sleuth-sre/sleuth/internal/store/sqlite"
	"github.com/sleuth-sre/sleuth/internal/testbackend"
)

// batch is one webhook delivery of ten alerts.
type batch struct {
	body   []byte
	alerts []alert.Alert
}

func makeBatches(n, workloads int, start time.Time) []batch {
	var out []batch
	for b := range n {
		p := alert.Payload{Version: "4", Status: "firing", Receiver: "sleuth", GroupKey: fmt.Sprintf("{}:{batch=%d}", b)}
		for i := range 10 {
			k := b*10 + i
			w := k % workloads
			labels := map[string]string{
				"alertname": "KubePodCrashLooping", "severity": []string{"critical", "warning"}[w%2],
				"namespace": fmt.Sprintf("team-%d", w%4),
				"pod":       fmt.Sprintf("svc%02d-7d9f8b6c5d-%s", w, podSuffix(k)),
			}
			p.Alerts = append(p.Alerts, alert.Alert{
				Status: "firing", Labels: labels, StartsAt: start, Fingerprint: alert.Fingerprint(labels),
				Annotations: map[string]string{"summary": "Pod is crash looping."},
			})
		}
		body, _ := json.Marshal(p)
		out = append(out, batch{body: body, alerts: p.Alerts})
	}
	return out
}

func podSuffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := []byte("bbbbb")
	for i := 4; i >= 0 && n > 0; i-- {
		b[i] = alphabet[n%len(alphabet)]
		n /= len(alphabet)
	}
	return string(b)
}

// TestCrashSafety kills sleuth with SIGKILL while alerts stream in, then
// restarts it on the same store and lets the senders retry what was not
// acknowledged, as Alertmanager does. Every acknowledged alert must be
// stored exactly once and every incident investigated exactly once.
func TestCrashSafety(t *testing.T) {
	storePath := filepath.Join(t.TempDir(), "sleuth.db")
	const workloads = 20
	batches := makeBatches(600, workloads, time.Now().Add(-time.Minute).Truncate(time.Second))

	var acked sync.Map // batch index -> true
	var ackCount atomic.Int64
	var next atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second}
	stream := func(url string, stop <-chan struct{}) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					i := int(next.Add(1) - 1)
					if i >= len(batches) {
						return
					}
					if post(client, url+"/webhook", batches[i].body) == 200 {
						acked.Store(i, true)
						ackCount.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	}

	// Run 1: killed mid-stream, once a third of the batches is acknowledged.
	sl := startSleuth(t, storePath, "")
	stop := make(chan struct{})
	streamed := make(chan struct{})
	go func() { stream(sl.URL, stop); close(streamed) }()
	testbackend.Eventually(t, 60*time.Second, func() error {
		if n := ackCount.Load(); n < int64(len(batches)/3) {
			return fmt.Errorf("%d batches acknowledged", n)
		}
		return nil
	})
	sl.Kill() // SIGKILL: no shutdown code runs
	close(stop)
	<-streamed
	ackedBeforeCrash := ackCount.Load()
	if ackedBeforeCrash >= int64(len(batches)) {
		t.Fatalf("all batches were acknowledged before the kill: the test did not crash mid-stream")
	}

	// Run 2: the senders go on and retry everything not acknowledged; a few
	// acknowledged ones are re-sent too, as a group_interval re-send would.
	sl = startSleuth(t, storePath, "")
	next.Store(0)
	var retry []int
	for i := range batches {
		if _, ok := acked.Load(i); !ok || i%7 == 0 {
			retry = append(retry, i)
		}
	}
	for _, i := range retry {
		code := post(client, sl.URL+"/webhook", batches[i].body)
		if code != 200 {
			t.Fatalf("re-send of batch %d after restart: %d", i, code)
		}
		acked.Store(i, true)
	}
	var invs list[investigationJSON]
	testbackend.Eventually(t, 60*time.Second, func() error {
		sl.get(t, "/api/investigations?state=done&limit=1000", &invs)
		if len(invs.Items) != workloads {
			return fmt.Errorf("%d investigations done, want %d", len(invs.Items), workloads)
		}
		return nil
	})
	sl.Stop(30 * time.Second)

	st, err := sqlite.Open(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	incidents, err := st.Incidents(ctx, store.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(incidents) != workloads {
		t.Fatalf("incidents = %d, want %d (one per workload)", len(incidents), workloads)
	}
	stored := map[string]int{}
	for _, in := range incidents {
		as, err := st.IncidentAlerts(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			stored[a.Fingerprint+a.StartsAt.String()]++
		}
	}
	for i, b := range batches {
		for _, a := range b.alerts {
			n := stored[a.Fingerprint+a.StartsAt.String()]
			if _, ok := acked.Load(i); ok && n != 1 {
				t.Fatalf("acknowledged alert %v stored %d times, want 1", a.Labels, n)
			}
		}
	}
	all, err := st.Investigations(ctx, store.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	perIncident := map[int64]int{}
	for _, v := range all {
		perIncident[v.IncidentID]++
		if v.State != store.StateDone {
			t.Errorf("investigation %d is %s, want done", v.ID, v.State)
		}
	}
	for _, in := range incidents {
		if perIncident[in.ID] != 1 {
			t.Errorf("incident %d has %d investigations, want 1", in.ID, perIncident[in.ID])
		}
	}
	t.Logf("acknowledged before the kill: %d of %d batches; re-sent after restart: %d", ackedBeforeCrash, len(batches), len(retry))
}
