// Command amgen makes Alertmanager's own webhook notifier POST a realistic
// payload and prints the bytes it sent; ../alertmanager_v4.json is its output.
// It lives under testdata so that sleuth's module does not depend on
// Alertmanager. To regenerate, build it inside the Alertmanager module:
//
//	cp -r "$(go env GOMODCACHE)/github.com/prometheus/alertmanager@v0.35.0" /tmp/am
//	chmod -R u+w /tmp/am && mkdir /tmp/am/cmd/amgen && cp main.go /tmp/am/cmd/amgen/
//	(cd /tmp/am && go run ./cmd/amgen) > ../alertmanager_v4.json
//
// max_alerts is 2 so that the third alert is truncated (truncatedAlerts: 1).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/prometheus/alertmanager/alert"
	amcommoncfg "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/alertmanager/template"
)

func main() {
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	tmpl, err := template.FromGlobs(nil)
	if err != nil {
		panic(err)
	}
	tmpl.ExternalURL, _ = url.Parse("http://alertmanager-main-0.alertmanager-operated.monitoring.svc:9093")
	conf := &webhook.WebhookConfig{HTTPConfig: &commoncfg.HTTPClientConfig{}, URL: amcommoncfg.SecretTemplateURL(srv.URL), MaxAlerts: 2}
	n, err := webhook.New(conf, tmpl, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		panic(err)
	}
	start := time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)
	mk := func(pod, container string, startsAt, endsAt time.Time) *alert.Alert {
		return alert.New(model.Alert{
			Labels: model.LabelSet{
				"alertname": "KubePodCrashLooping", "container": model.LabelValue(container), "endpoint": "http",
				"instance": "10.244.1.17:8080", "job": "kube-state-metrics", "namespace": "shop",
				"pod": model.LabelValue(pod), "prometheus": "monitoring/k8s", "reason": "CrashLoopBackOff",
				"service": "kube-state-metrics", "severity": "warning",
			},
			Annotations: model.LabelSet{
				"description": model.LabelValue(fmt.Sprintf("Pod shop/%s (%s) is in waiting state (reason: \"CrashLoopBackOff\").", pod, container)),
				"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
				"summary":     "Pod is crash looping.",
			},
			StartsAt:     startsAt,
			EndsAt:       endsAt,
			GeneratorURL: "http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Bjob%3D%22kube-state-metrics%22%2Creason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1",
		}, start, false)
	}
	now := start.Add(20 * time.Minute)
	alerts := []*alert.Alert{
		mk("checkout-7d9f8b6c5d-x2k4p", "checkout", start, start.AddDate(100, 0, 0)),                  // still firing: EndsAt far in the future
		mk("checkout-7d9f8b6c5d-q8zmw", "checkout", start.Add(-3*time.Minute), now.Add(-time.Minute)), // resolved: EndsAt in the past
		mk("checkout-7d9f8b6c5d-v5n9c", "checkout", start, now.Add(4*time.Minute)),                    // truncated by max_alerts
	}
	ctx := context.Background()
	ctx = notify.WithReceiverName(ctx, "sleuth")
	ctx = notify.WithGroupKey(ctx, `{}/{severity=~"warning|critical"}:{alertname="KubePodCrashLooping", namespace="shop"}`)
	ctx = notify.WithGroupLabels(ctx, model.LabelSet{"alertname": "KubePodCrashLooping", "namespace": "shop"})
	ctx = notify.WithRouteLabels(ctx, model.LabelSet{"team": "payments"})
	ctx = notify.WithNotificationReason(ctx, notify.ReasonNewAlertsInGroup)
	ctx = notify.WithNow(ctx, now)
	if v := n.Notify(ctx, alerts...); v.Err() != nil {
		panic(v.Err())
	}
	os.Stdout.Write(body)
}
