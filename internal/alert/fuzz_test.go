package alert_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sleuth-sre/sleuth/internal/alert"
)

// fuzzSeeds are the error cases of TestDecodeErrors and a few edge cases;
// the testdata payloads are added to them.
var fuzzSeeds = []string{
	``,
	` `,
	`null`,
	`[]`,
	`not json`,
	`{"version":"4","alerts":[`,
	`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"}}]} garbage`,
	`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}{}`,
	`{"version":"3","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`,
	`{"version":4,"alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`,
	`{"version":"4","alerts":[]}`,
	`{"status":"pending","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`,
	`{"alerts":[{"labels":{"alertname":"A"}}]}`,
	`{"alerts":[{"status":"pending","labels":{"alertname":"A"}}]}`,
	`{"alerts":[{"status":"firing","labels":{"severity":"critical"}}]}`,
	`{"alerts":[{"status":"firing","labels":["alertname","A"]}]}`,
	`{"alerts":[{"status":"firing","labels":{"alertname":1}}]}`,
	`{"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":1741944413}]}`,
	`{"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"yesterday"}]}`,
	`{"alerts":[{"status":"resolved","labels":{"alertname":"A"},"startsAt":"2025-03-14T09:26:53.5+01:00","endsAt":"9999-12-31T23:59:59.999999999-23:59"}]}`,
	`{"alerts":[{"status":"firing","labels":{"alertname":"A"},"fingerprint":"9D05F713C8F727FE"}]}`,
	`{"alerts":[{"status":"firing","labels":{"alertname":"A"},"fingerprint":"0123456789abcdef"}]}`,
	`{"Alerts":[{"Status":"firing","Labels":{"alertname":"A","":"","\u0000":"\ud800"}}],"alerts":[{"status":"resolved","labels":{"alertname":"B"}}]}`,
	"{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"\xff\xfe\"}}]}",
}

func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata payloads: %v", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := alert.Decode(bytes.NewReader(data))
		if err != nil {
			var ae *alert.Error
			if !errors.As(err, &ae) {
				t.Fatalf("Decode error %v (%T) is not an *alert.Error", err, err)
			}
			if p != nil {
				t.Fatalf("Decode returned both a payload and %v", err)
			}
			return
		}
		if p == nil {
			t.Fatal("Decode returned neither a payload nor an error")
		}
		checkAccepted(t, p)

		// What we accepted, re-encoded, is accepted again unchanged: the
		// store and the API re-encode alerts.
		enc, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("re-encode accepted payload: %v", err)
		}
		p2, err := alert.Decode(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		if diff := cmp.Diff(p.Alerts, p2.Alerts); diff != "" {
			t.Fatalf("alerts changed by a re-encode round trip (-first +second):\n%s", diff)
		}
	})
}

func checkAccepted(t *testing.T, p *alert.Payload) {
	t.Helper()
	if len(p.Alerts) == 0 {
		t.Fatal("accepted a payload without alerts")
	}
	for i, a := range p.Alerts {
		if a.Status != alert.StatusFiring && a.Status != alert.StatusResolved {
			t.Fatalf("alerts[%d]: accepted status %q", i, a.Status)
		}
		if a.Name() == "" {
			t.Fatalf("alerts[%d]: accepted an empty alertname", i)
		}
		if len(a.Fingerprint) != 16 || strings.Trim(a.Fingerprint, "0123456789abcdef") != "" {
			t.Fatalf("alerts[%d]: fingerprint %q is not 16 hex digits", i, a.Fingerprint)
		}
	}
}
