package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/incident"
)

// The generated payloads must be what sleuth accepts, with the fingerprints
// Alertmanager would send and pod names whose workload sleuth recognises.
func TestPayloadDecodes(t *testing.T) {
	g := newSustainedGen(40, 10)
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		body := g.batch(rng, 10)
		if !json.Valid(body) {
			t.Fatalf("invalid JSON: %s", body)
		}
		p, err := alert.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, body)
		}
		if len(p.Alerts) != 10 || p.Version != "4" || p.Status != "firing" {
			t.Fatalf("payload: %+v", p)
		}
		for _, a := range p.Alerts {
			if want := alert.Fingerprint(a.Labels); a.Fingerprint != want {
				t.Fatalf("fingerprint %s, Alertmanager's would be %s", a.Fingerprint, want)
			}
			id := a.Fingerprint + a.StartsAt.String()
			if seen[id] {
				t.Fatalf("alert %s sent twice", id)
			}
			seen[id] = true
			w := incident.Workload(a.Labels)
			if !strings.HasPrefix(a.Labels["pod"], w+"-") || strings.Count(a.Labels["pod"], "-")-strings.Count(w, "-") != 2 {
				t.Fatalf("pod %s: workload %q", a.Labels["pod"], w)
			}
			if a.Annotations["summary"] == "" || a.Annotations["description"] == "" {
				t.Fatalf("annotations: %v", a.Annotations)
			}
		}
	}
}

// The storm must hold exactly the requested unique alerts, about exactly
// the requested workloads (sleuth's grouping must see 20 incident keys,
// pods with all-digit suffixes included), each delivered the requested
// number of times.
func TestStormPlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bodies, batches, _ := stormPlan(rng, 1000, 20, 4, 10, 2, 1)
	if batches != 100 || len(bodies) != 200 {
		t.Fatalf("batches %d, bodies %d", batches, len(bodies))
	}
	count := map[string]int{}
	keys := map[string]bool{}
	groupBy := []string{"alertname", "namespace", "workload"}
	for _, b := range bodies {
		p, err := alert.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Alerts {
			count[a.Fingerprint+a.StartsAt.Format(time.RFC3339Nano)]++
			keys[incident.Key(groupBy, a.Labels)] = true
			if a.Labels["alertname"] != p.GroupLabels["alertname"] || a.Labels["namespace"] != p.GroupLabels["namespace"] {
				t.Fatalf("alert outside its group: %v vs %v", a.Labels, p.GroupLabels)
			}
		}
	}
	if len(count) != 1000 {
		t.Fatalf("%d unique alerts, want 1000", len(count))
	}
	for id, n := range count {
		if n != 2 {
			t.Fatalf("alert %s delivered %d times", id, n)
		}
	}
	if len(keys) != 20 {
		t.Fatalf("%d incident keys, want 20: %v", len(keys), keys)
	}
}

func TestPodSuffixUnique(t *testing.T) {
	seen := map[string]bool{}
	for n := uint64(0); n < 200000; n++ {
		s := podSuffix(n)
		if seen[s] {
			t.Fatalf("suffix %s repeats at %d", s, n)
		}
		seen[s] = true
	}
}
