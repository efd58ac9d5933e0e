package engine

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/logsql"
)

// maxScraperQueries bounds the target addresses looked up in the logs.
const maxScraperQueries = 2

// collectScrape reads, for an alert about failing scrapes, the job's up
// series (which targets fail, on which port, since when) and who scrapes
// them: the scraper's own log lines about a failing target's address name
// its pod and namespace, which the target's NetworkPolicies must admit.
func (c *collector) collectScrape(ctx context.Context) {
	l := c.ev.Alert.Labels
	if !analyze.ScrapeAlert(c.ev.Alert.Name, l) {
		return
	}
	var sel []string
	if job := l["job"]; job != "" {
		sel = append(sel, `job=`+q(job))
	}
	if ns := firstOf(l, "namespace", "exported_namespace"); ns != "" {
		sel = append(sel, `namespace=`+q(ns))
	}
	if s := l["service"]; s != "" && l["job"] == "" {
		sel = append(sel, `service=`+q(s))
	}
	if c.prom != nil && len(sel) > 0 {
		c.runMetric(ctx, analyze.MetricUp, `up{`+strings.Join(sel, ",")+`}`, false)
	}
	if c.logs == nil {
		return
	}
	// The addresses to look for: failing targets' hosts, else the pods'.
	var hosts []string
	c.mu.Lock()
	for _, s := range c.ev.Metrics[analyze.MetricUp] {
		if v, ok := s.Last(); ok && v < 1 {
			h, _, err := net.SplitHostPort(s.Labels["instance"])
			if err != nil {
				h = s.Labels["instance"]
			}
			if h != "" && !contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	if len(c.ev.Metrics[analyze.MetricUp]) == 0 {
		for _, p := range c.ev.Pods {
			if p.Status.PodIP != "" && !contains(hosts, p.Status.PodIP) {
				hosts = append(hosts, p.Status.PodIP)
			}
		}
	}
	c.mu.Unlock()
	if len(hosts) > maxScraperQueries {
		hosts = hosts[:maxScraperQueries]
	}
	st := &analyze.ScrapeState{}
	for _, h := range hosts {
		mark := len(c.rec.Calls())
		res, err := c.logs.Query(ctx, logsql.QuoteString(h)+` i(scrape)`, c.start, c.end.Add(time.Minute), 5)
		c.cite("scrape", mark)
		if err != nil {
			c.unchecked("the scraper's logs about "+h, err.Error())
			continue
		}
		for _, e := range res.Entries {
			ns := e.Fields["kubernetes.pod_namespace"]
			if ns == "" || ns == c.ev.Target.Namespace && c.isTargetPod(e.Fields["kubernetes.pod_name"]) {
				continue // the target's own lines are not the scraper's
			}
			if st.Namespace == "" {
				st.Namespace, st.PodName = ns, e.Fields["kubernetes.pod_name"]
				if name := st.PodName; name != "" && c.kube != nil {
					if p, err := c.kube.Pod(ctx, ns, name); err == nil {
						st.Pod = p
					}
				}
			}
			if t := truncate(strings.TrimSpace(e.Msg), 400); len(st.Lines) < 3 && !contains(st.Lines, t) {
				st.Lines = append(st.Lines, t)
			}
		}
		if st.Namespace != "" {
			break
		}
	}
	if st.Namespace != "" && c.kube != nil {
		mark := len(c.rec.Calls())
		if u, err := c.kube.Get(ctx, "namespaces", "", st.Namespace); err == nil {
			st.NamespaceLabels = u.GetLabels()
			if st.NamespaceLabels == nil {
				st.NamespaceLabels = map[string]string{}
			}
		}
		c.cite("scrape", mark)
	}
	c.mu.Lock()
	c.ev.Scrape = st
	c.mu.Unlock()
}

func (c *collector) isTargetPod(name string) bool {
	for _, p := range c.ev.Pods {
		if p.Name == name {
			return true
		}
	}
	return false
}
