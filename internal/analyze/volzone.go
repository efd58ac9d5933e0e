package analyze

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// zoneKeys are the node labels that name a zone, newest first.
var zoneKeys = []string{
	"topology.kubernetes.io/zone",
	"failure-domain.beta.kubernetes.io/zone",
	"topology.ebs.csi.aws.com/zone",
	"topology.gke.io/zone",
	"topology.disk.csi.azure.com/zone",
}

func isZoneKey(k string) bool {
	for _, z := range zoneKeys {
		if k == z {
			return true
		}
	}
	return strings.HasSuffix(k, "/zone")
}

// volumeZones says where the volumes of a pending pod can attach (their
// PersistentVolumes' node affinity) and in which zones the known nodes are,
// for a pod the scheduler refuses with a volume node affinity conflict.
func volumeZones(ev *Evidence, p *corev1.Pod) string {
	claims := map[string]bool{}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.PersistentVolumeClaim.ClaimName] = true
		}
	}
	var parts []string
	for _, pvc := range ev.PVCs {
		if pvc.Namespace != p.Namespace || !claims[pvc.Name] || pvc.Spec.VolumeName == "" {
			continue
		}
		for _, pv := range ev.PVs {
			if pv.Name != pvc.Spec.VolumeName || pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
				continue
			}
			var where []string
			for _, t := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
				for _, e := range t.MatchExpressions {
					if len(e.Values) > 0 {
						where = append(where, fmt.Sprintf("%s %s (%s)", e.Key, e.Operator, strings.Join(e.Values, ", ")))
					}
				}
			}
			if len(where) > 0 {
				parts = append(parts, fmt.Sprintf("volume %s of claim %s can only attach on nodes with %s", pv.Name, pvc.Name, strings.Join(where, " or ")))
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	zones := map[string][]string{}
	for _, n := range ev.Nodes {
		for k, v := range n.Labels {
			if isZoneKey(k) && k == firstZoneKey(n.Labels) {
				zones[v] = append(zones[v], n.Name)
			}
		}
	}
	if len(zones) > 0 {
		var zs []string
		for z, ns := range zones {
			zs = append(zs, fmt.Sprintf("%s (%d)", z, len(ns)))
		}
		sort.Strings(zs)
		parts = append(parts, "nodes known by zone: "+strings.Join(zs, ", "))
	}
	return strings.Join(parts, "; ")
}

func firstZoneKey(l map[string]string) string {
	for _, k := range zoneKeys {
		if _, ok := l[k]; ok {
			return k
		}
	}
	return ""
}
