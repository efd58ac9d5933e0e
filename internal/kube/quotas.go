package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Quotas are a namespace's resource quotas and limit ranges: what caps
// and defaults apply to its pods.
type Quotas struct {
	Namespace      string                 `json:"namespace"`
	ResourceQuotas []corev1.ResourceQuota `json:"resourceQuotas"`
	LimitRanges    []corev1.LimitRange    `json:"limitRanges"`
}

// Quotas returns the resource quotas (hard and used) and limit ranges of a
// namespace.
func (c *Client) Quotas(ctx context.Context, namespace string) (*Quotas, error) {
	cl := c.start(ctx, "kubernetes.quotas", args("namespace", namespace),
		kubectl("describe", "resourcequota,limitrange", namespace))
	q, err := c.quotas(cl.ctx, namespace)
	if err != nil {
		q, err = nil, fmt.Errorf("quotas of namespace %s: %w", namespace, err)
	}
	cl.done(err, err == nil && len(q.ResourceQuotas)+len(q.LimitRanges) == 0, false, func() string { return Describe(q) })
	return q, err
}

func (c *Client) quotas(ctx context.Context, namespace string) (*Quotas, error) {
	rqs, _, err := collect(ctx, maxListItems, metav1.ListOptions{}, func(ctx context.Context, lo metav1.ListOptions) ([]corev1.ResourceQuota, string, error) {
		l, err := c.cs.CoreV1().ResourceQuotas(namespace).List(ctx, lo)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	})
	if err != nil {
		return nil, err
	}
	lrs, _, err := collect(ctx, maxListItems, metav1.ListOptions{}, func(ctx context.Context, lo metav1.ListOptions) ([]corev1.LimitRange, string, error) {
		l, err := c.cs.CoreV1().LimitRanges(namespace).List(ctx, lo)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	})
	if err != nil {
		return nil, err
	}
	return &Quotas{Namespace: namespace, ResourceQuotas: rqs, LimitRanges: lrs}, nil
}
