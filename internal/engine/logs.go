package engine

import (
	"bufio"
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/kube"
)

// maxLogPods bounds the pods whose logs are read: the unhealthy ones come
// first, and a few are enough to see the pattern.
const maxLogPods = 3

// collectLogs reads the logs of the target's pods from VictoriaLogs, and
// from the Kubernetes log API when VictoriaLogs is not configured or has
// nothing for the pod (then the previous container's lines too, which is
// what a crash loop printed before dying).
func (c *collector) collectLogs(ctx context.Context) {
	pods := c.ev.Pods
	if len(pods) > maxLogPods {
		pods = pods[:maxLogPods]
	}
	if len(pods) == 0 {
		return
	}
	var fns []func(context.Context)
	for i := range pods {
		p := pods[i]
		fns = append(fns, func(ctx context.Context) { c.podLogs(ctx, &p) })
	}
	c.parallel(ctx, fns...)
	c.mu.Lock()
	sortLogs(c.ev.Logs)
	c.mu.Unlock()
}

func (c *collector) podLogs(ctx context.Context, p *corev1.Pod) {
	mark := len(c.rec.Calls())
	defer c.cite("logs/"+p.Namespace+"/"+p.Name, mark)
	if c.logs != nil {
		lines, err := c.logs.PodLogs(ctx, p.Namespace, p.Name, "", c.start, c.end.Add(time.Minute), c.e.cfg.LogLines)
		if err != nil {
			c.unchecked("logs of "+p.Name+" in VictoriaLogs", err.Error())
		} else if len(lines.Entries) > 0 {
			var out []analyze.LogLine
			for _, e := range lines.Entries {
				out = append(out, analyze.LogLine{Time: e.Time, Namespace: p.Namespace, Pod: p.Name,
					Container: e.Fields["kubernetes.container_name"], Msg: e.Msg})
			}
			c.addLogs(out)
			return
		}
	}
	if c.kube == nil {
		if c.logs == nil {
			c.unchecked("logs", c.e.whyMissing("logs", "neither VictoriaLogs nor the cluster is configured"))
		}
		return
	}
	var errs []string
	for _, cs := range p.Status.ContainerStatuses {
		opts := kube.LogOptions{TailLines: 100, LimitBytes: 64 << 10}
		if cs.RestartCount > 0 && cs.LastTerminationState.Terminated != nil {
			opts.Previous = true
		}
		text, err := c.kube.Logs(ctx, p.Namespace, p.Name, cs.Name, opts)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		c.addLogs(parseKubeLogs(text, p, cs.Name, opts.Previous))
	}
	if len(errs) > 0 {
		c.unchecked("container logs of "+p.Name, strings.Join(errs, "; "))
	}
}

func (c *collector) addLogs(lines []analyze.LogLine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ev.Logs = append(c.ev.Logs, lines...)
}

// parseKubeLogs splits the log API's text into lines; the API was asked
// without timestamps, so lines carry none.
func parseKubeLogs(text string, p *corev1.Pod, container string, previous bool) []analyze.LogLine {
	var out []analyze.LogLine
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), "\r"); line != "" {
			out = append(out, analyze.LogLine{Namespace: p.Namespace, Pod: p.Name, Container: container, Msg: line, Previous: previous})
		}
	}
	return out
}

func sortLogs(lines []analyze.LogLine) {
	// Stable: lines without timestamps keep their order.
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && !lines[j].Time.IsZero() && lines[j].Time.Before(lines[j-1].Time); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
}
