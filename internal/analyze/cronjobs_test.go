package analyze

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// cronRun is a run of CronJob sync that started started ago and, when
// took is positive, completed after took.
func cronRun(name string, started, took time.Duration) batchv1.Job {
	st := ago(started)
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name,
		OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "sync", Controller: &yes}}},
		Status: batchv1.JobStatus{StartTime: &st}}
	if took > 0 {
		done := ago(started - took)
		j.Status.CompletionTime = &done
		j.Status.Succeeded = 1
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	} else {
		j.Status.Active = 1
	}
	return j
}

func cronEvidence(policy batchv1.ConcurrencyPolicy, schedule string, runs ...batchv1.Job) *Evidence {
	ev := base("KubeJobNotCompleted")
	ev.Target = report.Ref{Kind: "Job", Namespace: "shop", Name: runs[len(runs)-1].Name}
	ev.Workload = report.Ref{Kind: "CronJob", Namespace: "shop", Name: "sync"}
	ev.CronJob = &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "sync"},
		Spec: batchv1.CronJobSpec{Schedule: schedule, ConcurrencyPolicy: policy}}
	for _, r := range runs {
		if r.Status.CompletionTime == nil {
			ev.CronJob.Status.Active = append(ev.CronJob.Status.Active, corev1.ObjectReference{Kind: "Job", Namespace: "shop", Name: r.Name})
		}
	}
	ev.Jobs = runs
	return ev
}

func TestCronJobCauses(t *testing.T) {
	sync := report.Ref{Kind: "CronJob", Namespace: "shop", Name: "sync"}
	history := []batchv1.Job{
		cronRun("sync-29000100", 15*time.Hour+40*time.Minute, 7*time.Minute),
		cronRun("sync-29000130", 15*time.Hour+10*time.Minute, 8*time.Minute),
		cronRun("sync-29000160", 14*time.Hour+40*time.Minute, 9*time.Minute),
	}
	hung := cronRun("sync-29000190", 14*time.Hour+10*time.Minute, 0)
	cases := []struct {
		name     string
		ev       func() *Evidence
		mentions []string
	}{
		{"a hung run blocks a Forbid CronJob", func() *Evidence {
			ev := cronEvidence(batchv1.ForbidConcurrent, "*/30 * * * *", append(history, hung)...)
			e := event("CronJob", "shop", "sync", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			e.Type, e.Count = "Normal", 28
			ev.Events = []corev1.Event{e}
			ev.Pods = []corev1.Pod{pod("shop", "sync-29000190-bnzft", "sync-29000190", func(p *corev1.Pod) {
				p.OwnerReferences = []metav1.OwnerReference{{Kind: "Job", Name: "sync-29000190", Controller: &yes}}
			})}
			return ev
		}, []string{"concurrencyPolicy Forbid", "sync-29000190", "14h10m", "usually take 8m", "JobAlreadyActive (28 times)", "activeDeadlineSeconds", "kubectl delete job -n shop sync-29000190", "sync-29000190-bnzft is Running"}},

		{"a hung run without history, past two schedule periods", func() *Evidence {
			return cronEvidence(batchv1.ForbidConcurrent, "0 * * * *", cronRun("sync-29000190", 5*time.Hour, 0))
		}, []string{"no run has completed", "about 5 runs skipped"}},

		{"runs piling up under Allow", func() *Evidence {
			return cronEvidence(batchv1.AllowConcurrent, "*/30 * * * *", append(history,
				cronRun("sync-29000190", 2*time.Hour, 0), cronRun("sync-29000220", 90*time.Minute, 0), cronRun("sync-29000250", time.Hour, 0))...)
		}, []string{"3 runs active", "concurrencyPolicy Allow"}},

		{"schedules missed past startingDeadlineSeconds", func() *Evidence {
			ev := cronEvidence(batchv1.ForbidConcurrent, "*/5 * * * *", history...)
			ten := int64(10)
			ev.CronJob.Spec.StartingDeadlineSeconds = &ten
			ev.Events = []corev1.Event{event("CronJob", "shop", "sync", "MissSchedule", "Missed scheduled time to start a job: Wed, 25 Nov 2026 11:55:00 +0000")}
			return ev
		}, []string{"startingDeadlineSeconds 10", "Missed scheduled time"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := c.ev()
			out := Run(ev)
			rc := Decide(ev, out)
			if rc.Category != report.JobFailure || rc.Object != sync {
				t.Fatalf("root cause = %s %v, want job-failure %v\nfindings: %+v", rc.Category, rc.Object, sync, out.Findings)
			}
			text := reportText(ev, rc, out)
			for _, m := range c.mentions {
				if !strings.Contains(text, strings.ToLower(m)) {
					t.Errorf("report text lacks %q:\n%s", m, text)
				}
			}
		})
	}
}

// Runs that are long but normal, or that the policy does not let block,
// are not blamed.
func TestCronJobNonCauses(t *testing.T) {
	history := []batchv1.Job{
		cronRun("sync-29000100", 3*time.Hour, 40*time.Minute),
		cronRun("sync-29000160", 2*time.Hour, 50*time.Minute),
	}
	f := func(name string, ev *Evidence) {
		t.Helper()
		for _, x := range Run(ev).Findings {
			if x.Analyzer == "cronjobs" {
				t.Errorf("%s: cronjob finding %q", name, x.Title)
			}
		}
	}
	f("a run within its usual duration", cronEvidence(batchv1.ForbidConcurrent, "0 * * * *", append(history, cronRun("sync-29000220", time.Hour, 0))...))
	f("Replace ends a long run at the next schedule", cronEvidence(batchv1.ReplaceConcurrent, "*/30 * * * *", append(history, cronRun("sync-29000220", 5*time.Hour, 0))...))
	f("one long run under Allow blocks nothing", cronEvidence(batchv1.AllowConcurrent, "*/30 * * * *", append(history, cronRun("sync-29000220", 5*time.Hour, 0))...))
	f("nothing says how long a run takes", cronEvidence(batchv1.ForbidConcurrent, "0 9 * * 1-5", cronRun("sync-29000220", 5*time.Hour, 0)))
	done := cronEvidence(batchv1.ForbidConcurrent, "*/30 * * * *", history...)
	e := event("CronJob", "shop", "sync", "SawCompletedJob", "Saw completed job: sync-29000160, status: Complete")
	e.Type = "Normal"
	done.Events = []corev1.Event{e}
	f("completed runs and routine events", done)
}

func TestCronInterval(t *testing.T) {
	f := func(schedule string, want time.Duration) {
		t.Helper()
		if got := cronInterval(schedule); got != want {
			t.Errorf("cronInterval(%q) = %s, want %s", schedule, got, want)
		}
	}
	f("*/30 * * * *", 30*time.Minute)
	f("* * * * *", time.Minute)
	f("5 * * * *", time.Hour)
	f("0,30 * * * *", 30*time.Minute)
	f("0 */6 * * *", 6*time.Hour)
	f("30 2 * * *", 24*time.Hour)
	f("0 0,12 * * *", 12*time.Hour)
	f("@hourly", time.Hour)
	f("CRON_TZ=Europe/Berlin 0 3 * * *", 24*time.Hour)
	f("0 9 * * 1-5", 0)
	f("0 0 1 * *", 0)
}
