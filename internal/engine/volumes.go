package engine

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// volumeOf reads the PersistentVolume bound to a claim: its node affinity
// says which zone (or nodes) the volume can attach in, the value a pod
// blocked by a "volume node affinity conflict" needs quoted.
func (c *collector) volumeOf(ctx context.Context, pvc *corev1.PersistentVolumeClaim) {
	if pvc.Spec.VolumeName == "" {
		return
	}
	mark := len(c.rec.Calls())
	pv, err := c.kube.PersistentVolume(ctx, pvc.Spec.VolumeName)
	c.kubeErr("volume "+pvc.Spec.VolumeName, err)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.ev.PVs = append(c.ev.PVs, *pv)
	c.mu.Unlock()
	c.cite("pv/"+pv.Name, mark)
}
