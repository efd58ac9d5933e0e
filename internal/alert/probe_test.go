package alert

import (
	"fmt"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	for _, s := range []string{
		`{"alerts":[{"status":"firing","labels":{"alertname":"TestAlert","severity":"warning","namespace":"default"},"annotations":{"description":"Test alert for verification"}}]}`,
		`{"alerts":[`,
		``,
		`   `,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"}}]} xx`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"}}]} {}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"}}]} }`,
		`{"version":"3","alerts":[{"status":"firing","labels":{"alertname":"x"}}]}`,
		`{"version":4,"alerts":[{"status":"firing","labels":{"alertname":"x"}}]}`,
		`{"alerts":[]}`,
		`{"alerts":[{"labels":{"alertname":"x"}}]}`,
		`{"alerts":[{"status":"pending","labels":{"alertname":"x"}}]}`,
		`{"alerts":[{"status":"firing","labels":{"severity":"x"}}]}`,
		`{"alerts":[{"status":"firing","labels":["alertname","x"]}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"}},{"status":"firing","labels":["alertname","x"]}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"},"startsAt":12}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"},"startsAt":"yesterday"}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"},"startsAt":"2024-13-01T00:00:00Z"}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"},"fingerprint":"XYZ"}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"x"},"fingerprint":"ABCDEF0123456789"}]}`,
		`{"status":"pending","alerts":[{"status":"firing","labels":{"alertname":"x"}}]}`,
		`[]`,
		`null`,
		`{"truncatedAlerts":"1","alerts":[{"status":"firing","labels":{"alertname":"x"}}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":1}}]}`,
		"{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":\"\xff\"}}]}",
	} {
		p, err := Decode(strings.NewReader(s))
		if err != nil {
			e, ok := err.(*Error)
			fmt.Printf("%-60.60q -> %T ok=%v field=%q msg=%q\n", s, err, ok, func() string { if ok { return e.Field }; return "" }(), err.Error())
			continue
		}
		fmt.Printf("%-60.60q -> OK %+v\n", s, p.Alerts)
	}
}
