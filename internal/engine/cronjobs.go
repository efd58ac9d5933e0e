package engine

import (
	"context"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// maxCronJobRuns bounds the runs of a CronJob read with their pods: the
// newest few show its usual duration, and a run still active is kept
// whatever its age.
const maxCronJobRuns = 5

// cronJobRuns reads the CronJob itself and its events (JobAlreadyActive,
// MissSchedule and the like are Normal or about the CronJob, so not among
// the namespace's warnings), and orders its Jobs newest run first: the
// active runs the CronJob lists and the Job the alert names are always
// kept.
func (c *collector) cronJobRuns(ctx context.Context, w report.Ref, jobs []batchv1.Job) []batchv1.Job {
	mark := len(c.rec.Calls())
	cj, err := c.kube.CronJob(ctx, w.Namespace, w.Name)
	c.kubeErr("cronjob "+w.Name, err)
	keep := map[string]bool{}
	if err == nil {
		for _, a := range cj.Status.Active {
			keep[a.Name] = true
		}
	}
	if t := c.ev.Target; t.Kind == "Job" {
		keep[t.Name] = true
	}
	evs, evErr := c.kube.Events(ctx, w.Namespace, "CronJob", w.Name)
	c.kubeErr("events of cronjob "+w.Name, evErr)
	c.addEvents(evs)
	c.mu.Lock()
	if err == nil {
		c.ev.CronJob = cj
	}
	c.mu.Unlock()
	c.cite("cronjob/"+w.Namespace+"/"+w.Name, mark)
	c.cite("events/"+w.Namespace+"/"+w.Name, mark)

	// Newest run first: by start time, which the API keeps, rather than
	// creation time alone (restored or re-created objects share one).
	started := func(j *batchv1.Job) time.Time {
		if j.Status.StartTime != nil {
			return j.Status.StartTime.Time
		}
		return j.CreationTimestamp.Time
	}
	sort.SliceStable(jobs, func(i, j int) bool {
		ti, tj := started(&jobs[i]), started(&jobs[j])
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return jobs[i].Name > jobs[j].Name // the controller names runs by scheduled minute
	})
	var out []batchv1.Job
	for _, j := range jobs {
		if keep[j.Name] {
			out = append(out, j)
		}
	}
	for _, j := range jobs {
		if !keep[j.Name] && len(out) < maxCronJobRuns {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return started(&out[i]).After(started(&out[j])) })
	return out
}
