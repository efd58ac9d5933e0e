package analyze

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// analyzeCronJobs finds CronJobs whose runs stopped although no run
// failed: a run that hangs (active far longer than the runs usually take,
// with no activeDeadlineSeconds to end it) while concurrencyPolicy Forbid
// skips every later schedule, or Allow piles runs up; and schedules the
// controller missed past startingDeadlineSeconds.
func analyzeCronJobs(ev *Evidence, out *Output) {
	cj := ev.CronJob
	if cj == nil {
		return
	}
	ref := report.Ref{Kind: "CronJob", Namespace: cj.Namespace, Name: cj.Name}
	runs := cronRuns(ev, cj)
	usual, nUsual := usualDuration(runs)
	interval := cronInterval(cj.Spec.Schedule)
	if interval == 0 {
		interval = runGap(runs)
	}
	if f, ok := hungRun(ev, cj, ref, runs, usual, nUsual, interval); ok {
		out.Find(f)
		return
	}
	if f, ok := missedSchedules(ev, cj, ref, interval); ok {
		out.Find(f)
		return
	}
	out.Check("CronJob %s schedules its runs (concurrencyPolicy %s, %s active)", cj.Name, or(string(cj.Spec.ConcurrencyPolicy), "Allow"), plural(len(cj.Status.Active), "run", "runs"))
}

// cronRuns returns the CronJob's Jobs.
func cronRuns(ev *Evidence, cj *batchv1.CronJob) []batchv1.Job {
	var out []batchv1.Job
	for _, j := range ev.Jobs {
		for _, o := range j.OwnerReferences {
			if o.Kind == "CronJob" && o.Name == cj.Name && j.Namespace == cj.Namespace {
				out = append(out, j)
			}
		}
	}
	return out
}

func jobFinished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return j.Status.CompletionTime != nil
}

// usualDuration is the median duration of the runs that completed.
func usualDuration(runs []batchv1.Job) (time.Duration, int) {
	var ds []time.Duration
	for _, j := range runs {
		if j.Status.StartTime != nil && j.Status.CompletionTime != nil {
			if d := j.Status.CompletionTime.Sub(j.Status.StartTime.Time); d >= 0 {
				ds = append(ds, d)
			}
		}
	}
	if len(ds) == 0 {
		return 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], len(ds)
}

// runGap is the median time between the starts of successive runs.
func runGap(runs []batchv1.Job) time.Duration {
	var ts []time.Time
	for _, j := range runs {
		if j.Status.StartTime != nil {
			ts = append(ts, j.Status.StartTime.Time)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var gaps []time.Duration
	for i := 1; i < len(ts); i++ {
		if g := ts[i].Sub(ts[i-1]); g > 0 {
			gaps = append(gaps, g)
		}
	}
	if len(gaps) == 0 {
		return 0
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	return gaps[len(gaps)/2]
}

// cronInterval estimates the period of the common cron schedules ("*/15 *
// * * *", "5 * * * *", "0 */6 * * *", "30 2 * * *", "@hourly"); 0 when
// the schedule is another shape.
func cronInterval(schedule string) time.Duration {
	switch strings.TrimSpace(schedule) {
	case "@hourly":
		return time.Hour
	case "@daily", "@midnight":
		return 24 * time.Hour
	case "@weekly":
		return 7 * 24 * time.Hour
	}
	f := strings.Fields(schedule)
	if len(f) == 6 && strings.HasPrefix(f[0], "CRON_TZ=") || len(f) == 6 && strings.HasPrefix(f[0], "TZ=") {
		f = f[1:]
	}
	if len(f) != 5 || f[2] != "*" || f[3] != "*" {
		return 0
	}
	every := func(field string, unit time.Duration) time.Duration {
		switch {
		case field == "*":
			return unit
		case strings.HasPrefix(field, "*/"):
			if n, err := strconv.Atoi(field[2:]); err == nil && n > 0 {
				return time.Duration(n) * unit
			}
		case strings.Contains(field, ","):
			if n := len(strings.Split(field, ",")); n > 1 {
				return -time.Duration(n) // n times per larger unit
			}
		}
		return 0
	}
	_, numeric := strconv.Atoi(f[0])
	switch m := every(f[0], time.Minute); {
	case m > 0 && f[1] == "*":
		return m
	case m < 0 && f[1] == "*":
		return time.Hour / time.Duration(-m)
	case numeric == nil && f[1] == "*":
		return time.Hour
	case numeric == nil:
		h := every(f[1], time.Hour)
		if _, err := strconv.Atoi(f[1]); err == nil && f[4] == "*" {
			return 24 * time.Hour
		}
		if h > 0 && f[4] == "*" {
			return h
		}
		if h < 0 && f[4] == "*" {
			return 24 * time.Hour / time.Duration(-h)
		}
	}
	return 0
}

// hungRun finds an active run far past the usual duration of the runs
// (three times it and at least a quarter of an hour more), or without
// history past two schedule periods, that blocks the CronJob.
func hungRun(ev *Evidence, cj *batchv1.CronJob, ref report.Ref, runs []batchv1.Job, usual time.Duration, nUsual int, interval time.Duration) (report.Finding, bool) {
	policy := or(string(cj.Spec.ConcurrencyPolicy), string(batchv1.AllowConcurrent))
	var active []batchv1.Job
	for _, j := range runs {
		if !jobFinished(&j) && j.Status.StartTime != nil {
			active = append(active, j)
		}
	}
	if len(active) == 0 || ev.Now.IsZero() {
		return report.Finding{}, false
	}
	sort.Slice(active, func(i, j int) bool { return active[i].Status.StartTime.Before(active[j].Status.StartTime) })
	oldest := active[0]
	age := ev.Now.Sub(oldest.Status.StartTime.Time)
	var limit time.Duration
	switch {
	case usual > 0:
		limit = max(3*usual, usual+15*time.Minute)
	case interval > 0:
		limit = 2 * interval
	default:
		return report.Finding{}, false // nothing says how long a run should take
	}
	if age <= limit {
		return report.Finding{}, false
	}
	deadline := oldest.Spec.ActiveDeadlineSeconds
	if deadline != nil && age > time.Duration(*deadline)*time.Second+5*time.Minute {
		// The deadline should have ended it: the Job controller is the
		// problem, not the CronJob.
		return report.Finding{}, false
	}
	if policy == string(batchv1.ReplaceConcurrent) || (policy == string(batchv1.AllowConcurrent) && len(active) < 2) {
		// Replace ends the run at the next schedule; Allow with one run
		// blocks nothing and piles nothing up.
		return report.Finding{}, false
	}
	usualText := "no run has completed to compare with"
	if usual > 0 {
		usualText = fmt.Sprintf("its runs usually take %s, the median of %s", roundDur(usual), plural(nUsual, "completed run", "completed runs"))
	}
	f := report.Finding{
		Category: report.JobFailure, Object: ref, Score: 0.87,
		Evidence: cite(ev, "cronjob/"+cj.Namespace+"/"+cj.Name, "events/"+cj.Namespace+"/"+cj.Name, "job/"+oldest.Namespace+"/"+oldest.Name),
	}
	var facts []string
	switch policy {
	case string(batchv1.ForbidConcurrent):
		f.Title = fmt.Sprintf("CronJob %s is blocked: Job %s has been running for %s (%s) and concurrencyPolicy Forbid skips every schedule while it runs",
			cj.Name, oldest.Name, roundDur(age), usualText)
		if interval > 0 {
			facts = append(facts, fmt.Sprintf("schedule %q: about %d runs skipped", cj.Spec.Schedule, int(age/interval)))
		}
	default:
		f.Title = fmt.Sprintf("CronJob %s piles up runs: %s active, the oldest, Job %s, running for %s (%s), with concurrencyPolicy %s",
			cj.Name, plural(len(active), "run", "runs"), oldest.Name, roundDur(age), usualText, policy)
	}
	for _, e := range events(ev, "CronJob", cj.Namespace, cj.Name) {
		if e.Reason == "JobAlreadyActive" || e.Reason == "MissSchedule" || e.Reason == "TooManyMissedTimes" || e.Reason == "FailedNeedsStart" {
			facts = append(facts, fmt.Sprintf("%s (%s): %s", e.Reason, plural(int(max(e.Count, 1)), "time", "times"), firstLine(e.Message)))
		}
	}
	if deadline == nil && cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds == nil {
		facts = append(facts, "no activeDeadlineSeconds: nothing ends a run that hangs")
	}
	if t := cj.Status.LastSuccessfulTime; t != nil {
		facts = append(facts, fmt.Sprintf("last successful run %s ago", roundDur(ev.Now.Sub(t.Time))))
	}
	if t := cj.Status.LastScheduleTime; t != nil {
		facts = append(facts, fmt.Sprintf("last scheduled %s ago", roundDur(ev.Now.Sub(t.Time))))
	}
	if s := cj.Spec.StartingDeadlineSeconds; s != nil {
		facts = append(facts, fmt.Sprintf("startingDeadlineSeconds %d", *s))
	}
	for i := range ev.Pods {
		p := &ev.Pods[i]
		for _, o := range p.OwnerReferences {
			if o.Kind == "Job" && o.Name == oldest.Name {
				facts = append(facts, fmt.Sprintf("its pod %s is %s with %s", p.Name, p.Status.Phase, plural(restarts(p), "restart", "restarts")))
				f.Evidence = append(f.Evidence, cite(ev, podKey(p))...)
			}
		}
	}
	f.Detail = strings.Join(facts, "; ")
	suggest := "a bound a few times the usual run"
	if usual > 0 {
		suggest = fmt.Sprintf("e.g. %ds, a few times the usual %s", int(max(3*usual, usual+15*time.Minute).Seconds()), roundDur(usual))
		if interval > 0 && 3*usual > interval {
			suggest = fmt.Sprintf("e.g. %ds, below the schedule period %s", int(interval.Seconds()), roundDur(interval))
		}
	}
	f.Remediation = []string{
		fmt.Sprintf("Find where run %s hangs (kubectl logs -n %s job/%s; a network call without a timeout, a lock), then delete it so the next schedule starts: kubectl delete job -n %s %s.", oldest.Name, oldest.Namespace, oldest.Name, oldest.Namespace, oldest.Name),
		fmt.Sprintf("Set spec.jobTemplate.spec.activeDeadlineSeconds on CronJob %s/%s (%s) so a hung run fails and alerts instead of blocking every later run; give the job's client calls timeouts.", cj.Namespace, cj.Name, suggest),
	}
	return f, true
}

// missedSchedules finds a CronJob whose controller did not start runs in
// time: MissSchedule, TooManyMissedTimes or FailedNeedsStart events,
// usually a startingDeadlineSeconds too short for the controller's delays
// (or a controller that was down).
func missedSchedules(ev *Evidence, cj *batchv1.CronJob, ref report.Ref, interval time.Duration) (report.Finding, bool) {
	var hits []corev1.Event
	for _, e := range events(ev, "CronJob", cj.Namespace, cj.Name) {
		switch {
		case e.Reason == "MissSchedule", e.Reason == "TooManyMissedTimes", e.Reason == "FailedNeedsStart",
			strings.Contains(strings.ToLower(e.Message), "missed start"), strings.Contains(strings.ToLower(e.Message), "missed scheduled time"),
			strings.Contains(e.Message, "Cannot determine if job needs to be started"):
			hits = append(hits, e)
		}
	}
	if len(hits) == 0 {
		return report.Finding{}, false
	}
	e := hits[len(hits)-1]
	deadline := "no startingDeadlineSeconds"
	if s := cj.Spec.StartingDeadlineSeconds; s != nil {
		deadline = fmt.Sprintf("startingDeadlineSeconds %d", *s)
	}
	f := report.Finding{
		Category: report.JobFailure, Object: ref, Score: 0.8,
		Title:    fmt.Sprintf("CronJob %s misses its schedules (%s): %s", cj.Name, deadline, firstLine(e.Message)),
		Evidence: cite(ev, "cronjob/"+cj.Namespace+"/"+cj.Name, "events/"+cj.Namespace+"/"+cj.Name),
	}
	var facts []string
	for _, h := range hits {
		facts = append(facts, fmt.Sprintf("%s (%s)", h.Reason, plural(int(max(h.Count, 1)), "time", "times")))
	}
	if t := cj.Status.LastScheduleTime; t != nil && !ev.Now.IsZero() {
		facts = append(facts, fmt.Sprintf("last scheduled %s ago", roundDur(ev.Now.Sub(t.Time))))
	}
	if interval > 0 {
		facts = append(facts, fmt.Sprintf("schedule %q (every %s)", cj.Spec.Schedule, roundDur(interval)))
	}
	f.Detail = strings.Join(facts, "; ")
	f.Remediation = []string{fmt.Sprintf("Raise spec.startingDeadlineSeconds of CronJob %s/%s (now %s) well above the controller's delays, or remove it; check the kube-controller-manager was running and the clocks agree.", cj.Namespace, cj.Name, deadline)}
	return f, true
}

func restarts(p *corev1.Pod) int {
	n := 0
	for _, s := range p.Status.ContainerStatuses {
		n += int(s.RestartCount)
	}
	return n
}

// roundDur renders a duration in minutes ("14h10m", "7m").
func roundDur(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < time.Minute {
		return "under a minute"
	}
	return strings.TrimSuffix(d.String(), "0s")
}
