package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// maxEvents bounds the events a call returns, the newest kept: an object's
// events are deduplicated by the server (count, series), so a hundred
// cover hours of a crash loop.
const maxEvents = 100

// Events returns the events about one object, oldest first and at most the
// newest 100, selected on the server by involvedObject kind, name and
// namespace. kind is the object's Kind ("Pod"; "pod" is looked up). For a
// cluster-scoped object (a Node) pass namespace "": its events may be in
// any namespace, usually default.
func (c *Client) Events(ctx context.Context, namespace, kind, name string) ([]corev1.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	kind = c.canonicalKind(ctx, kind)
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}
	if namespace != "" {
		sel["involvedObject.namespace"] = namespace
	}
	cl := c.start(ctx, "kubernetes.events", args("namespace", namespace, "kind", kind, "name", name),
		kubectl("events", "", namespace, "--for "+strings.ToLower(kind)+"/"+name))
	events, truncated, err := c.events(cl.ctx, namespace, metav1.ListOptions{FieldSelector: sel.AsSelector().String()}, time.Time{})
	if err != nil {
		err = fmt.Errorf("events of %s %s: %w", kind, nsName(namespace, name), err)
	}
	cl.done(err, len(events) == 0, truncated, func() string { return describeEvents(events) })
	return events, err
}

// EventFilter narrows NamespaceEvents.
type EventFilter struct {
	// Since drops events last seen before it (zero: none dropped).
	Since time.Time
	// Reason ("FailedScheduling", "FailedCreate") and Type ("Warning")
	// select on the server when set.
	Reason string
	Type   string
}

// NamespaceEvents returns a namespace's events, oldest first and at most
// the newest 100: for what has no object to ask about, such as a pod the
// quota never let a ReplicaSet create ("FailedCreate ... exceeded quota")
// or a pod that cannot be scheduled.
func (c *Client) NamespaceEvents(ctx context.Context, namespace string, f EventFilter) ([]corev1.Event, error) {
	sel := fields.Set{}
	if f.Reason != "" {
		sel["reason"] = f.Reason
	}
	if f.Type != "" {
		sel["type"] = f.Type
	}
	desc := kubectl("get", "events", "", namespaceFlag(namespace))
	if len(sel) > 0 {
		desc += " --field-selector " + sel.AsSelector().String()
	}
	since := ""
	if !f.Since.IsZero() {
		since = f.Since.UTC().Format(time.RFC3339)
	}
	cl := c.start(ctx, "kubernetes.events", args("namespace", namespace, "reason", f.Reason, "type", f.Type, "since", since), desc)
	events, truncated, err := c.events(cl.ctx, namespace, metav1.ListOptions{FieldSelector: sel.AsSelector().String()}, f.Since)
	if err != nil {
		err = fmt.Errorf("events in %s: %w", namespaceName(namespace), err)
	}
	cl.done(err, len(events) == 0, truncated, func() string { return describeEvents(events) })
	return events, err
}

// events lists, drops those before since, sorts oldest first and keeps the
// newest maxEvents; truncated says events were dropped for the bound.
func (c *Client) events(ctx context.Context, namespace string, lo metav1.ListOptions, since time.Time) ([]corev1.Event, bool, error) {
	all, cont, err := collect(ctx, maxScanItems, lo, func(ctx context.Context, lo metav1.ListOptions) ([]corev1.Event, string, error) {
		l, err := c.cs.CoreV1().Events(namespace).List(ctx, lo)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	})
	if err != nil {
		return nil, false, err
	}
	kept := all[:0]
	for _, e := range all {
		if since.IsZero() || !EventTime(&e).Before(since) {
			kept = append(kept, e)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return EventTime(&kept[i]).Before(EventTime(&kept[j])) })
	truncated := cont != ""
	if len(kept) > maxEvents {
		kept, truncated = kept[len(kept)-maxEvents:], true
	}
	return kept, truncated, nil
}

// EventTime is when an event was last seen: the newest of its series, its
// lastTimestamp or eventTime, else when it was first seen or created.
func EventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// canonicalKind turns "pod" or "deployments" into the Kind events carry;
// a CamelCase kind is taken as it is, without a request.
func (c *Client) canonicalKind(ctx context.Context, kind string) string {
	if kind == "" || unicode.IsUpper(rune(kind[0])) {
		return kind
	}
	// Not resolve: events about a Secret are no secret, and looking up the
	// kind reads no object.
	m, err := c.mapping(ctx, kind)
	if err != nil {
		return kind
	}
	return m.GroupVersionKind.Kind
}
