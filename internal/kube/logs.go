package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bounds of a log request.
const (
	// DefaultTailLines is enough to see a crash and what led to it.
	DefaultTailLines = 200
	// DefaultLimitBytes bounds one log answer; the kubelet cuts the log
	// there, so a chatty container never floods memory or a report.
	DefaultLimitBytes = 256 << 10
	// MaxLimitBytes is the most LogOptions.LimitBytes may ask for.
	MaxLimitBytes = 4 << 20
)

// LogOptions bound a log request; the kubelet applies them, the log is
// never downloaded whole to be cut here.
type LogOptions struct {
	// SinceSeconds keeps lines newer than this many seconds (0: no bound).
	SinceSeconds int64
	// TailLines keeps the last lines (0: DefaultTailLines).
	TailLines int64
	// Previous asks for the previous, terminated instance of the
	// container: what a crash-looping container printed before it died.
	Previous bool
	// LimitBytes bounds the answer (0: DefaultLimitBytes; at most
	// MaxLimitBytes).
	LimitBytes int64
}

func (o LogOptions) podLogOptions(container string) *corev1.PodLogOptions {
	tail, limit := o.TailLines, o.LimitBytes
	if tail <= 0 {
		tail = DefaultTailLines
	}
	if limit <= 0 {
		limit = DefaultLimitBytes
	}
	limit = min(limit, MaxLimitBytes)
	plo := &corev1.PodLogOptions{Container: container, TailLines: &tail, LimitBytes: &limit, Previous: o.Previous, Timestamps: true}
	if o.SinceSeconds > 0 {
		since := o.SinceSeconds
		plo.SinceSeconds = &since
	}
	return plo
}

// kubectlLogs renders the equivalent kubectl logs command.
func kubectlLogs(namespace, pod string, plo *corev1.PodLogOptions) string {
	f := []string{pod}
	if plo.Container != "" {
		f = append(f, "-c "+plo.Container)
	}
	if plo.Previous {
		f = append(f, "--previous")
	}
	if plo.SinceSeconds != nil {
		f = append(f, "--since="+strconv.FormatInt(*plo.SinceSeconds, 10)+"s")
	}
	f = append(f, "--tail="+strconv.FormatInt(*plo.TailLines, 10), "--limit-bytes="+strconv.FormatInt(*plo.LimitBytes, 10), "--timestamps")
	return kubectl("logs", "", namespace, f...)
}

// Logs returns the end of a container's log, lines prefixed with their
// RFC 3339 timestamps. container "" picks the pod's default container (the
// kubectl.kubernetes.io/default-container annotation, else the first). The
// log comes from the node's kubelet through the API server: a pod not
// scheduled yet has none, and an unreachable kubelet is an error that
// names the node.
func (c *Client) Logs(ctx context.Context, namespace, pod, container string, opts LogOptions) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	p, err := c.cs.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
	if err == nil {
		container, err = logContainer(p, container)
	}
	plo := opts.podLogOptions(container)
	cl := c.start(ctx, "kubernetes.logs", args("namespace", namespace, "pod", pod, "container", container,
		"tail_lines", strconv.FormatInt(*plo.TailLines, 10), "limit_bytes", strconv.FormatInt(*plo.LimitBytes, 10),
		"previous", strconv.FormatBool(plo.Previous)), kubectlLogs(namespace, pod, plo))
	var text string
	if err == nil {
		text, err = c.logs(cl.ctx, p, plo)
	}
	if err != nil {
		err = fmt.Errorf("logs of pod %s/%s: %w", namespace, pod, err)
	}
	cl.done(err, err == nil && text == "", err == nil && int64(len(text)) >= *plo.LimitBytes, func() string { return text })
	return text, err
}

// logContainer checks or picks the container, so that a wrong name is an
// error listing the right ones.
func logContainer(p *corev1.Pod, container string) (string, error) {
	var names []string
	for _, cs := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for _, c := range cs {
			if c.Name == container {
				return container, nil
			}
			names = append(names, c.Name)
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == container {
			return container, nil
		}
	}
	if container != "" {
		return "", fmt.Errorf("no container %q in the pod; it has %s", container, strings.Join(names, ", "))
	}
	if d := p.Annotations["kubectl.kubernetes.io/default-container"]; d != "" {
		return d, nil
	}
	if len(p.Spec.Containers) == 0 {
		return "", fmt.Errorf("the pod has no containers")
	}
	return p.Spec.Containers[0].Name, nil
}

func (c *Client) logs(ctx context.Context, p *corev1.Pod, plo *corev1.PodLogOptions) (string, error) {
	if p.Spec.NodeName == "" {
		// The API server answers an empty 200 for it, which would read as
		// "the container printed nothing".
		return "", fmt.Errorf("the pod is not scheduled to a node (phase %s), so no container has run and there are no logs; see its events", p.Status.Phase)
	}
	rc, err := c.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, plo).Stream(ctx)
	if err != nil {
		// The pod exists (it was just read), so a NotFound here is the node
		// ("pods \"worker-1\" not found", mislabelled by the server), and
		// anything else is the kubelet's answer or the way to it.
		var status apierrors.APIStatus
		switch {
		case apierrors.IsNotFound(err):
			return "", fmt.Errorf("node %s of the pod is not found, so its kubelet cannot serve logs: %s", p.Spec.NodeName, err.Error())
		case !errors.As(err, &status) || apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
			apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
			return "", fmt.Errorf("the API server could not get them from the kubelet on node %s (is the node down or its kubelet unreachable?): %w", p.Spec.NodeName, err)
		}
		// Forbidden, or the kubelet's own 400 ("previous terminated
		// container ... not found"): the answer says it all.
		return "", err
	}
	defer rc.Close()
	// The kubelet honours limitBytes; reading no more than that guards
	// against one that does not.
	b, err := io.ReadAll(io.LimitReader(rc, *plo.LimitBytes))
	if err != nil {
		return string(b), fmt.Errorf("read from the kubelet on node %s: %w", p.Spec.NodeName, err)
	}
	return string(b), nil
}
