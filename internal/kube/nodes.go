package kube

import (
	"context"
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeByAddress finds the node behind an address as metrics label it: an
// `instance` such as "10.0.0.5:9100", "[fd00::5]:9100", "worker-1:9100" or
// a bare IP or host name. It matches the node's name and its addresses
// (InternalIP, ExternalIP, Hostname, DNS names), then the first label of
// a host name ("worker-1" for "worker-1.example.internal") if only one
// node has it. No match is a NotFound error.
func (c *Client) NodeByAddress(ctx context.Context, addr string) (*corev1.Node, error) {
	host := hostOf(addr)
	cl := c.start(ctx, "kubernetes.node_by_address", args("address", addr),
		kubectl("get", "nodes", "", "-o wide", "# the node with address "+host))
	n, err := c.nodeByAddress(cl.ctx, host)
	if err != nil {
		n, err = nil, fmt.Errorf("node with address %q: %w", addr, err)
	}
	cl.done(err, false, false, func() string { return Describe(n) })
	return n, err
}

// hostOf strips a port and IPv6 brackets.
func hostOf(addr string) string {
	addr = strings.TrimSpace(addr)
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.Trim(addr, "[]")
}

func (c *Client) nodeByAddress(ctx context.Context, host string) (*corev1.Node, error) {
	if host == "" {
		return nil, fmt.Errorf("empty address")
	}
	if net.ParseIP(host) == nil {
		// Most often the node's name: one request instead of a scan.
		n, err := c.cs.CoreV1().Nodes().Get(ctx, host, metav1.GetOptions{})
		if err == nil {
			return n, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	// No field selector matches addresses, so scan the nodes; the first
	// match wins and ends the scan.
	short := strings.SplitN(host, ".", 2)[0]
	var byShort []corev1.Node
	lo := metav1.ListOptions{Limit: pageSize}
	for scanned := 0; scanned < maxScanItems; {
		l, err := c.cs.CoreV1().Nodes().List(ctx, lo)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			n := &l.Items[i]
			if n.Name == host {
				return n, nil
			}
			for _, a := range n.Status.Addresses {
				if a.Address == host {
					return n, nil
				}
			}
			if net.ParseIP(host) == nil && strings.SplitN(n.Name, ".", 2)[0] == short {
				byShort = append(byShort, *n)
			}
		}
		scanned += len(l.Items)
		if l.Continue == "" {
			break
		}
		lo.Continue = l.Continue
	}
	if len(byShort) == 1 {
		return &byShort[0], nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("nodes"), host)
}
