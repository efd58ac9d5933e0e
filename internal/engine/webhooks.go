package engine

import (
	"context"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// maxWebhooks bounds the webhooks followed per investigation: one
// refusal names one webhook, and a few cover several failing ones.
const maxWebhooks = 3

// collectWebhooks follows the admission webhooks that refusals to create
// pods name (FailedCreate events, ReplicaFailure conditions, read by
// collectKube) to what serves them: the webhook configuration, its
// Service with its ready endpoints, the Service's pods and workload, and
// the pods' error lines. The Secrets the pods mount are taken from the pod
// specs by name; their data is never read.
func (c *collector) collectWebhooks(ctx context.Context) {
	if c.kube == nil {
		return
	}
	names := analyze.WebhookNames(c.ev)
	if len(names) == 0 {
		return
	}
	if len(names) > maxWebhooks {
		names = names[:maxWebhooks]
	}
	mark := len(c.rec.Calls())
	var hooks []webhookEntry
	for _, m := range listTyped[admissionv1.MutatingWebhookConfiguration](ctx, c, "mutatingwebhookconfigurations", "") {
		for _, h := range m.Webhooks {
			hooks = append(hooks, webhookEntry{"MutatingWebhookConfiguration", m.ObjectMeta, h.Name, h.FailurePolicy, h.ClientConfig})
		}
	}
	for _, v := range listTyped[admissionv1.ValidatingWebhookConfiguration](ctx, c, "validatingwebhookconfigurations", "") {
		for _, h := range v.Webhooks {
			hooks = append(hooks, webhookEntry{"ValidatingWebhookConfiguration", v.ObjectMeta, h.Name, h.FailurePolicy, h.ClientConfig})
		}
	}
	found := map[string]bool{}
	var fns []func(context.Context)
	for _, h := range hooks {
		if found[h.name] || !contains(names, h.name) {
			continue
		}
		found[h.name] = true
		wh := analyze.Webhook{Name: h.name, Config: report.Ref{Kind: h.kind, Name: h.config.Name},
			FailurePolicy: policyOf(h.policy), CAInjectedFrom: h.config.Annotations["cert-manager.io/inject-ca-from"]}
		cc := h.client
		fns = append(fns, func(ctx context.Context) { c.webhookBackend(ctx, wh, cc) })
	}
	c.cite("webhooks", mark)
	c.parallel(ctx, fns...)
}

// webhookBackend reads what serves one webhook and adds it to the evidence.
func (c *collector) webhookBackend(ctx context.Context, wh analyze.Webhook, cc admissionv1.WebhookClientConfig) {
	mark := len(c.rec.Calls())
	defer func() {
		c.cite("webhook/"+wh.Name, mark)
		if !wh.Service.IsZero() {
			c.cite("service/"+wh.Service.Namespace+"/"+wh.Service.Name, mark)
		}
		c.mu.Lock()
		c.ev.Webhooks = append(c.ev.Webhooks, wh)
		c.mu.Unlock()
	}()
	if cc.URL != nil {
		wh.URL = *cc.URL
	}
	if cc.Service == nil {
		return
	}
	wh.Service = report.Ref{Kind: "Service", Namespace: cc.Service.Namespace, Name: cc.Service.Name}
	svc, err := c.kube.Service(ctx, cc.Service.Namespace, cc.Service.Name)
	c.kubeErr("service "+wh.Service.Namespace+"/"+wh.Service.Name, err)
	if err != nil {
		return
	}
	wh.ServiceFound = true
	slices := 0
	if list, err := c.kube.EndpointSlices(ctx, svc.Namespace, svc.Name); err == nil {
		slices = len(list.Items)
		for _, s := range list.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
					wh.ReadyEndpoints++
				}
			}
		}
	} else {
		c.kubeErr("endpoints of service "+svc.Name, err)
	}
	if len(svc.Spec.Selector) == 0 {
		return
	}
	list, err := c.kube.Pods(ctx, svc.Namespace, kube.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(), Limit: 20})
	c.kubeErr("pods of service "+svc.Name, err)
	if err == nil {
		wh.Pods = list.Items
	}
	if len(wh.Pods) > 0 {
		wh.Workload = c.workloadOf(ctx, &wh.Pods[0])
	} else {
		wh.Workload = c.workloadSelecting(ctx, svc.Namespace, svc.Spec.Selector)
	}
	if slices == 0 {
		for i := range wh.Pods {
			if healthy(&wh.Pods[i]) {
				wh.ReadyEndpoints++
			}
		}
	}
	if !wh.Workload.IsZero() && wh.Workload.Kind != "Pod" {
		wh.Replicas = c.replicasOf(ctx, wh.Workload)
	}
	// A webhook whose certificate the API server rejects logs the TLS
	// handshakes it fails, while its pods look healthy: read the first
	// unhealthy pod, else the first.
	if len(wh.Pods) > 0 {
		p := &wh.Pods[0]
		for i := range wh.Pods {
			if !healthy(&wh.Pods[i]) {
				p = &wh.Pods[i]
				break
			}
		}
		wh.Logs = c.podErrorLines(ctx, p)
	}
}

func policyOf(p *admissionv1.FailurePolicyType) string {
	if p == nil {
		return string(admissionv1.Fail) // the API's default in v1
	}
	return string(*p)
}

// webhookEntry is one webhook of a configuration.
type webhookEntry struct {
	kind   string
	config metav1.ObjectMeta
	name   string
	policy *admissionv1.FailurePolicyType
	client admissionv1.WebhookClientConfig
}
