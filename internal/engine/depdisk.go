package engine

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/sleuth-sre/sleuth/internal/analyze"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/logsql"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// appEdge reads an edge alert whose series the ingress controller
// exports: scraped without honor_labels, the application's namespace and
// Service are exported_namespace and exported_service, while namespace
// (and service, pod) are the controller's own. It returns the
// application's namespace, Service and Ingress; ok is false when the
// labels are the application's already.
func appEdge(l map[string]string) (ns, service, ingress string, ok bool) {
	ens := l["exported_namespace"]
	if ens == "" || ens == l["namespace"] {
		return "", "", "", false
	}
	if l["ingress"] == "" && l["exported_service"] == "" && l["host"] == "" {
		return "", "", "", false
	}
	return ens, l["exported_service"], l["ingress"], true
}

func isAppEdge(l map[string]string) bool {
	_, _, _, ok := appEdge(l)
	return ok
}

// resolveAppEdge resolves an edge alert that the controller's labels
// describe to the application's Ingress or Service and their pods.
func (c *collector) resolveAppEdge(ctx context.Context, ns, service, ingress string) {
	switch {
	case ingress != "":
		c.ev.Target = report.Ref{Kind: "Ingress", Namespace: ns, Name: ingress}
	case service != "":
		c.ev.Target = report.Ref{Kind: "Service", Namespace: ns, Name: service}
	case c.ev.Alert.Labels["host"] != "":
		c.resolveProbe(ctx, strings.ToLower(c.ev.Alert.Labels["host"]))
		return
	}
	c.podsOfEdge(ctx, ns, service, ingress)
}

// ingressElsewhere finds the Ingress an alert names when it is not in the
// alert's namespace (the controller's): by name, and by host when the
// alert names one, across the cluster. Only a single match counts.
func (c *collector) ingressElsewhere(ctx context.Context, name, host string) (string, bool) {
	found := ""
	n := 0
	for _, ing := range listTypedOpts[networkingv1.Ingress](ctx, c, "ingresses", "", kube.ListOptions{Limit: 500}) {
		if ing.Name != name || (host != "" && !ingressServes(&ing, strings.ToLower(host))) {
			continue
		}
		found = ing.Namespace
		n++
	}
	return found, n == 1
}

// configMapPeers returns the peers the pods' ConfigMaps name through
// envFrom and configMapKeyRef (DB_HOST in an app-env ConfigMap), which
// configuredPeers, reading literal values only, does not see. The
// ConfigMaps of the first pod are read, at most maxConfigMaps.
func (c *collector) configMapPeers(ctx context.Context, pods []corev1.Pod) []configPeer {
	if len(pods) == 0 {
		return nil
	}
	p := pods[0]
	data := map[string]map[string]string{}
	get := func(name string) map[string]string {
		if d, ok := data[name]; ok {
			return d
		}
		if len(data) >= maxConfigMaps {
			return nil
		}
		mark := len(c.rec.Calls())
		cm, err := c.kube.ConfigMap(ctx, p.Namespace, name)
		c.kubeErr("configmap "+p.Namespace+"/"+name, err)
		c.cite("configmap/"+p.Namespace+"/"+name, mark)
		if err != nil {
			data[name] = nil
			return nil
		}
		data[name] = cm.Data
		return cm.Data
	}
	// A copy of the pod whose env holds the values the ConfigMaps give.
	expanded := p.DeepCopy()
	found := false
	for i := range expanded.Spec.Containers {
		ct := &expanded.Spec.Containers[i]
		var env []corev1.EnvVar
		for _, ef := range ct.EnvFrom {
			if ef.ConfigMapRef == nil {
				continue
			}
			d := get(ef.ConfigMapRef.Name)
			keys := make([]string, 0, len(d))
			for k := range d {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				env = append(env, corev1.EnvVar{Name: ef.Prefix + k, Value: d[k]})
			}
		}
		for _, e := range ct.Env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				if v, ok := get(e.ValueFrom.ConfigMapKeyRef.Name)[e.ValueFrom.ConfigMapKeyRef.Key]; ok {
					env = append(env, corev1.EnvVar{Name: e.Name, Value: v})
				}
			}
		}
		found = found || len(env) > 0
		ct.Env = env
		ct.Command, ct.Args = nil, nil
	}
	if !found {
		return nil
	}
	peers := configuredPeers([]corev1.Pod{*expanded})
	for i := range peers {
		peers[i].source = strings.Replace(peers[i].source, "env ", "ConfigMap value ", 1)
	}
	return peers
}

// diskFullQuery finds the lines in which a server says its disk is full:
// ENOSPC in any wording (MySQL, Postgres, Elasticsearch, Kafka, SQLite).
const diskFullQuery = `i("no space left") or i("disk is full") or i("disk full") or i("errno 28") or i("enospc") or i("could not extend file") or i("database or disk is full") or i("flood stage") or i("insufficient disk space")`

// diskFullRecent bounds how old the last disk-full line may be: servers
// that wait for space repeat the message every few minutes (MySQL every
// ten).
const diskFullRecent = 30 * time.Minute

var diskFullLine = regexp.MustCompile(`(?i)(no space left|disk is full|disk full|errno 28|enospc|could not extend file|database or disk is full|flood stage|insufficient disk space)`)

// dependencyDisk reads whether a dependency's serving pods are out of
// disk: their recent lines saying so, and the free ratio of their volume
// claims. A database whose volume is full stays Running and Ready while
// it blocks every write.
func (c *collector) dependencyDisk(ctx context.Context, d *analyze.Dependency) {
	pods := d.Pods
	if len(pods) > 2 {
		pods = pods[:2]
	}
	for i := range pods {
		p := &pods[i]
		if c.logs != nil {
			res, err := c.logs.Query(ctx, logsql.PodQuery(p.Namespace, p.Name, "", diskFullQuery), c.end.Add(-diskFullRecent), c.end.Add(time.Minute), 20)
			if err != nil {
				c.unchecked("disk errors in the logs of "+p.Name, err.Error())
			} else {
				for j := len(res.Entries) - 1; j >= 0 && len(d.PodLines) < 3; j-- {
					l := truncate(strings.TrimSpace(res.Entries[j].Msg), 300)
					if diskFullLine.MatchString(l) && !contains(d.PodLines, l) {
						d.PodLines = append(d.PodLines, l)
					}
				}
			}
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			cu := analyze.ClaimUse{Ref: report.Ref{Kind: "PersistentVolumeClaim", Namespace: p.Namespace, Name: v.PersistentVolumeClaim.ClaimName}, Pod: p.Name, AvailRatio: -1}
			if pvc, err := c.kube.PersistentVolumeClaim(ctx, p.Namespace, cu.Ref.Name); err == nil {
				if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
					cu.Capacity = q.String()
				} else if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
					cu.Capacity = q.String()
				}
			} else {
				c.kubeErr("volume claim "+cu.Ref.Name, err)
			}
			if c.prom != nil {
				s := `namespace=` + q(p.Namespace) + `,persistentvolumeclaim=` + q(cu.Ref.Name)
				if res, err := c.prom.Instant(ctx, `kubelet_volume_stats_available_bytes{`+s+`} / kubelet_volume_stats_capacity_bytes{`+s+`}`, c.end); err == nil {
					for _, sr := range res.Series {
						if len(sr.Points) > 0 {
							cu.AvailRatio = sr.Points[len(sr.Points)-1].V
						}
					}
				}
			}
			d.Claims = append(d.Claims, cu)
		}
	}
}
