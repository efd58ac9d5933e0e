// Command ingest benchmarks sleuth's alert intake end to end, through HTTP
// on loopback, against a real `sleuth serve` child process with a fresh
// SQLite store:
//
//  1. idle RSS after startup;
//  2. sustained ingest: -clients concurrent clients POST batches of 10 new
//     alerts for -duration; acknowledgement latency, throughput, errors,
//     peak RSS;
//  3. storm: a fresh sleuth gets 10,000 alerts about 20 workloads, every
//     batch delivered twice; the bench waits until every queued
//     investigation is done and counts incidents and investigations;
//  4. the seed's design (one synchronous investigation per delivered alert),
//     computed from the stated per-investigation time, beside it.
//
// Run from the repository: go run ./bench/ingest [-json FILE]. See
// docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Targets.
const (
	targetAlertsPerSec = 3000
	targetP99Ms        = 50
	targetStormInv     = 20
	targetIdleRSSMB    = 40
	targetLoadRSSMB    = 100
)

type options struct {
	sleuth          string
	clients         int
	duration        time.Duration
	batch           int
	workloads       int
	namespaces      int
	settle          time.Duration
	stormAlerts     int
	stormWorkloads  int
	stormNamespaces int
	stormDeliveries int
	stormClients    int
	stormWait       time.Duration
	stormDigitPods  int
	seedInv         time.Duration
	seedConc        int
	sleuthWorkers   int
	reqTimeout      time.Duration
	timeout         time.Duration
	jsonOut         string
	perf            string
	seed            uint64
	skipStorm       bool
	skipSustained   bool
	waitQuiet       time.Duration
	keep            bool
}

func main() {
	var o options
	flag.StringVar(&o.sleuth, "sleuth", "", "sleuth binary to test (default: go build ./cmd/sleuth into a temp dir)")
	flag.IntVar(&o.clients, "clients", 8, "sustained phase: concurrent clients")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "sustained phase: how long")
	flag.IntVar(&o.batch, "batch", 10, "alerts per request (sustained and storm)")
	flag.IntVar(&o.workloads, "workloads", 400, "sustained phase: distinct Deployments")
	flag.IntVar(&o.namespaces, "namespaces", 20, "sustained phase: namespaces (at most 20)")
	flag.DurationVar(&o.settle, "settle", 2*time.Second, "wait after /readyz before reading idle RSS")
	flag.IntVar(&o.stormAlerts, "storm-alerts", 10000, "storm: unique alerts")
	flag.IntVar(&o.stormWorkloads, "storm-workloads", 20, "storm: Deployments (one incident each)")
	flag.IntVar(&o.stormNamespaces, "storm-namespaces", 4, "storm: namespaces")
	flag.IntVar(&o.stormDeliveries, "storm-deliveries", 2, "storm: deliveries of every batch (HA pair, re-sends)")
	flag.IntVar(&o.stormClients, "storm-clients", 8, "storm: concurrent clients")
	flag.IntVar(&o.stormDigitPods, "storm-digit-pods", 1, "storm: pods per workload whose random name suffix is all digits, as Kubernetes makes about once in 850 pods")
	flag.DurationVar(&o.stormWait, "storm-wait", 5*time.Minute, "storm: how long to wait for the investigations")
	flag.DurationVar(&o.seedInv, "seed-investigation", 30*time.Second, "seed model (computed): time of one HolmesGPT investigation with a local LLM")
	flag.IntVar(&o.seedConc, "seed-concurrency", 1, "seed model (computed): investigations the seed's bridge runs at once")
	flag.IntVar(&o.sleuthWorkers, "sleuth-workers", 4, "for the computed comparison only: sleuth's queue.workers (default 4)")
	flag.DurationVar(&o.reqTimeout, "request-timeout", 10*time.Second, "timeout of one HTTP request")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "overall deadline")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to `FILE`")
	flag.StringVar(&o.perf, "perf", "", "record a perf CPU profile of sleuth during the sustained phase to `FILE` (needs perf) and print its top symbols")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed of the generated alerts and the storm's order")
	flag.BoolVar(&o.skipStorm, "skip-storm", false, "skip the storm phase")
	flag.BoolVar(&o.skipSustained, "skip-sustained", false, "skip the sustained phase")
	flag.DurationVar(&o.waitQuiet, "wait-quiet", 0, "before each phase, wait up to this long for other processes to use less than 0.25 CPU cores (a shared machine skews the numbers)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir with the stores (to inspect them with sqlite3) and print its path")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ingest: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if o.clients < 1 || o.batch < 1 || o.stormClients < 1 || o.stormDeliveries < 1 || o.stormWorkloads < 1 ||
		o.stormAlerts < o.stormWorkloads || o.seedConc < 1 || o.sleuthWorkers < 1 || o.workloads < 1 || o.namespaces < 1 {
		fmt.Fprintln(os.Stderr, "ingest: counts must be positive and -storm-alerts >= -storm-workloads")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	rep, err := run(ctx, o)
	cancel()
	stop()
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			err = fmt.Errorf("overall deadline (-timeout %v) exceeded: %w", o.timeout, err)
		case errors.Is(err, context.Canceled):
			err = fmt.Errorf("interrupted: %w", err)
		}
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
	if !rep.AllPass {
		os.Exit(3)
	}
}

// report is everything the bench measured or computed.
type report struct {
	When       time.Time        `json:"when"`
	Machine    machine          `json:"machine"`
	Env        environment      `json:"environment"`
	Command    string           `json:"command"`
	SleuthCmd  string           `json:"sleuth_command"`
	SleuthSrc  string           `json:"sleuth_source"`
	IdleRSSKB  int64            `json:"idle_rss_kb"`
	Settle     string           `json:"idle_settle"`
	Sustained  *sustainedResult `json:"sustained,omitempty"`
	Storm      *stormResult     `json:"storm,omitempty"`
	SeedModel  *seedModel       `json:"seed_model_computed,omitempty"`
	Targets    []target         `json:"targets"`
	AllPass    bool             `json:"all_pass"`
	PerfReport string           `json:"perf_top,omitempty"`
}

// environment is what else the machine was doing: the numbers depend on it.
type environment struct {
	Fsync fsyncStats `json:"fsync_4k_before"`
	// Other processes' CPU use just before each phase, in cores.
	BackgroundSustained float64 `json:"background_cores_before_sustained"`
	BackgroundStorm     float64 `json:"background_cores_before_storm"`
	Load                string  `json:"loadavg_at_start"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	MemTotal  string `json:"mem_total,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	StoreFS   string `json:"store_fs,omitempty"`
}

type target struct {
	Name  string `json:"name"`
	Want  string `json:"want"`
	Got   string `json:"got"`
	Pass  bool   `json:"pass"`
	Phase string `json:"phase"`
}

// seedModel is the seed's design, computed, not measured: its bridge calls
// one investigation per firing alert of every delivery, synchronously.
type seedModel struct {
	Assumption        string  `json:"assumption"`
	InvestigationSec  float64 `json:"investigation_s"`
	Concurrency       int     `json:"concurrency"`
	Calls             int     `json:"investigation_calls"`
	DuplicateCalls    int     `json:"duplicate_calls"`
	BacklogSec        float64 `json:"backlog_s"`
	AckPerDeliverySec float64 `json:"ack_per_delivery_s"`
	SustainedPerSec   float64 `json:"sustainable_alerts_per_s"`
	SleuthCalls       int     `json:"sleuth_investigations"`
	SleuthWorkers     int     `json:"sleuth_workers"`
	SleuthBacklogSec  float64 `json:"sleuth_backlog_s_at_same_t"`
}

func run(ctx context.Context, o options) (*report, error) {
	rep := &report{When: time.Now().UTC(), Command: strings.Join(append([]string{"go run ./bench/ingest"}, os.Args[1:]...), " ")}
	rep.Machine = describeMachine(ctx)
	rep.Settle = o.settle.String()

	tmp, err := os.MkdirTemp("", "sleuth-bench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if o.keep {
			fmt.Println("kept", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()
	rep.Machine.StoreFS = fsType(tmp)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.Env.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if rep.Env.Fsync, err = fsyncProbe(tmp, 200); err != nil {
		return nil, fmt.Errorf("fsync probe: %w", err)
	}
	fmt.Printf("store file system %s: fsync of 4 KiB p50 %.2f ms, p99 %.2f ms, max %.2f ms; load average %s\n",
		rep.Machine.StoreFS, rep.Env.Fsync.P50, rep.Env.Fsync.P99, rep.Env.Fsync.Max, rep.Env.Load)

	bin := o.sleuth
	if bin == "" {
		fmt.Println("building ./cmd/sleuth ...")
		if bin, err = buildSleuth(ctx, tmp); err != nil {
			return nil, err
		}
		rep.SleuthSrc = gitDescribe(ctx)
	} else if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	} else {
		rep.SleuthSrc = bin
	}
	hc := newHTTPClient(max(o.clients, o.stormClients), o.reqTimeout)
	defer hc.CloseIdleConnections()

	// Phases 1 and 2 share a child; the storm gets a fresh one.
	if !o.skipSustained {
		dir := filepath.Join(tmp, "sustained")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
		c, err := startChild(ctx, bin, dir, hc)
		if err != nil {
			return nil, err
		}
		defer c.stop()
		rep.SleuthCmd = "sleuth " + strings.Join(c.args, " ")
		fmt.Printf("sleuth pid %d on %s, store %s (%s)\n", c.pid, c.addr, dir, rep.Machine.StoreFS)
		select {
		case <-time.After(o.settle):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if rep.IdleRSSKB, err = rssKB(c.pid); err != nil {
			return nil, err
		}
		fmt.Printf("idle RSS: %.1f MB\n", mb(rep.IdleRSSKB))

		if rep.Env.BackgroundSustained, err = quiet(ctx, c.pid, o.waitQuiet); err != nil {
			return nil, err
		}
		var perfCmd *exec.Cmd
		if o.perf != "" {
			perfCmd, err = startPerf(o.perf, c.pid, o.duration)
			if err != nil {
				return nil, err
			}
		}
		fmt.Printf("sustained: %d clients x %v, batches of %d new alerts ...\n", o.clients, o.duration, o.batch)
		g := newSustainedGen(o.workloads, o.namespaces)
		s, err := runSustained(ctx, c, hc, o.clients, o.batch, o.duration, g)
		if perfCmd != nil {
			rep.PerfReport = finishPerf(perfCmd, o.perf)
		}
		if err != nil {
			return nil, err
		}
		if c.exited() {
			return nil, fmt.Errorf("sleuth exited during the sustained phase: %v\n%s", c.err, c.stderr.String())
		}
		rep.Sustained = &s
		c.stop()
	}

	if !o.skipStorm {
		dir := filepath.Join(tmp, "storm")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(o.seed, 0x57024))
		bodies, batches, pods := stormPlan(rng, o.stormAlerts, o.stormWorkloads, o.stormNamespaces, o.batch, o.stormDeliveries, o.stormDigitPods)
		c, err := startChild(ctx, bin, dir, hc)
		if err != nil {
			return nil, err
		}
		defer c.stop()
		if rep.SleuthCmd == "" {
			rep.SleuthCmd = "sleuth " + strings.Join(c.args, " ")
		}
		if rep.IdleRSSKB == 0 {
			select {
			case <-time.After(o.settle):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if rep.IdleRSSKB, err = rssKB(c.pid); err != nil {
				return nil, err
			}
		}
		if rep.Env.BackgroundStorm, err = quiet(ctx, c.pid, o.waitQuiet); err != nil {
			return nil, err
		}
		fmt.Printf("storm: %d alerts, %d workloads, %d batches x %d deliveries = %d requests, %d clients ...\n",
			o.stormAlerts, o.stormWorkloads, batches, o.stormDeliveries, len(bodies), o.stormClients)
		s, err := runStorm(ctx, c, hc, bodies, o.stormClients, o.stormWait)
		if err != nil {
			return nil, err
		}
		if c.exited() {
			return nil, fmt.Errorf("sleuth exited during the storm: %v\n%s", c.err, c.stderr.String())
		}
		s.Alerts = o.stormAlerts
		s.Workloads = o.stormWorkloads
		s.Namespaces = min(o.stormNamespaces, len(namespaces))
		s.PodsPerWorkload = pods
		s.DigitPods = min(o.stormDigitPods, pods)
		s.Deliveries = o.stormDeliveries
		s.Batches = batches
		s.AlertsDelivered = o.stormAlerts * o.stormDeliveries
		rep.Storm = &s
		c.stop()

		calls := o.stormAlerts * o.stormDeliveries
		t := o.seedInv.Seconds()
		rep.SeedModel = &seedModel{
			Assumption: fmt.Sprintf("computed, not measured: the seed's bridge calls HolmesGPT /api/investigate once per firing alert of every delivery, synchronously, %d at a time; one investigation with a local LLM takes tens of seconds to minutes, assumed %v here",
				o.seedConc, o.seedInv),
			InvestigationSec:  t,
			Concurrency:       o.seedConc,
			Calls:             calls,
			DuplicateCalls:    calls - o.stormWorkloads,
			BacklogSec:        float64(calls) * t / float64(o.seedConc),
			AckPerDeliverySec: float64(o.batch) * t / float64(o.seedConc),
			SustainedPerSec:   float64(o.seedConc) / t,
			SleuthCalls:       s.Investigations,
			SleuthWorkers:     o.sleuthWorkers,
			SleuthBacklogSec:  math.Ceil(float64(s.Investigations)/float64(o.sleuthWorkers)) * t,
		}
	}

	rep.Targets = evaluate(rep)
	rep.AllPass = true
	for _, t := range rep.Targets {
		rep.AllPass = rep.AllPass && t.Pass
	}
	printReport(os.Stdout, rep)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return rep, err
		}
		fmt.Println("JSON written to", o.jsonOut)
	}
	return rep, nil
}

// quietThreshold is the background CPU use, in cores, above which the
// numbers are skewed: on 2 cores, a quarter core taken by others shows.
const quietThreshold = 0.25

// quiet measures other processes' CPU use for a second, and with wait > 0
// repeats until it is below quietThreshold or wait has passed.
func quiet(ctx context.Context, pid int, wait time.Duration) (float64, error) {
	deadline := time.Now().Add(wait)
	for {
		bg := backgroundCores(pid, time.Second, runtime.NumCPU())
		if bg < quietThreshold {
			return round2(bg), nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if !time.Now().Before(deadline) {
			fmt.Printf("WARNING: other processes use %.2f CPU cores of %d: the numbers below are skewed (see -wait-quiet)\n", bg, runtime.NumCPU())
			return round2(bg), nil
		}
		fmt.Printf("waiting for other processes to go quiet (%.2f cores busy) ...\n", bg)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(4 * time.Second):
		}
	}
}

func evaluate(r *report) []target {
	var ts []target
	add := func(phase, name, want, got string, pass bool) {
		ts = append(ts, target{Phase: phase, Name: name, Want: want, Got: got, Pass: pass})
	}
	add("idle", "idle RSS", fmt.Sprintf("< %d MB", targetIdleRSSMB), fmt.Sprintf("%.1f MB", mb(r.IdleRSSKB)), mb(r.IdleRSSKB) < targetIdleRSSMB)
	if s := r.Sustained; s != nil {
		add("sustained", "throughput", fmt.Sprintf(">= %d alerts/s", targetAlertsPerSec), fmt.Sprintf("%.0f alerts/s", s.AlertsPerSec), s.AlertsPerSec >= targetAlertsPerSec)
		add("sustained", "p99 ack latency", fmt.Sprintf("< %d ms", targetP99Ms), fmt.Sprintf("%.1f ms", s.Latency.P99), s.Latency.Count > 0 && s.Latency.P99 < targetP99Ms)
		add("sustained", "errors", "0", strconv.Itoa(s.Errors.total()), s.Errors.total() == 0)
		peak := max(s.PeakRSSKB, s.HWMKB)
		add("sustained", "RSS under load (VmHWM)", fmt.Sprintf("< %d MB", targetLoadRSSMB), fmt.Sprintf("%.1f MB", mb(peak)), mb(peak) < targetLoadRSSMB)
	}
	if s := r.Storm; s != nil {
		add("storm", "investigations", fmt.Sprintf("exactly %d", targetStormInv), strconv.Itoa(s.Investigations), s.Investigations == targetStormInv)
		add("storm", "investigations done", fmt.Sprintf("all %d", s.Investigations), strconv.Itoa(s.DoneListed), s.DoneListed == s.Investigations)
		add("storm", "incidents", fmt.Sprintf("exactly %d", targetStormInv), strconv.Itoa(s.Incidents), s.Incidents == targetStormInv)
		add("storm", "errors", "0", strconv.Itoa(s.Errors.total()), s.Errors.total() == 0)
		peak := max(s.PeakRSSKB, s.HWMKB)
		add("storm", "RSS under load (VmHWM)", fmt.Sprintf("< %d MB", targetLoadRSSMB), fmt.Sprintf("%.1f MB", mb(peak)), mb(peak) < targetLoadRSSMB)
	}
	return ts
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

func printReport(w io.Writer, r *report) {
	m := r.Machine
	fmt.Fprintf(w, "\n=== sleuth alert intake benchmark (%s) ===\n", r.When.Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d CPUs (%s), %s RAM, %s, %s; store on %s\n", m.CPUs, m.CPUModel, m.MemTotal, m.GoVersion, m.OS, m.StoreFS)
	fmt.Fprintf(w, "sleuth:  %s\n", r.SleuthSrc)
	fmt.Fprintf(w, "child:   %s\n", r.SleuthCmd)
	fmt.Fprintf(w, "env:     fsync(4 KiB) p50 %.2f ms p99 %.2f ms; load average at start %s; other processes before sustained %.2f cores, before storm %.2f cores\n",
		r.Env.Fsync.P50, r.Env.Fsync.P99, r.Env.Load, r.Env.BackgroundSustained, r.Env.BackgroundStorm)
	fmt.Fprintf(w, "\nidle RSS (%s after /readyz): %.1f MB\n", r.Settle, mb(r.IdleRSSKB))
	if s := r.Sustained; s != nil {
		fmt.Fprintf(w, "\nsustained ingest: %d clients, %.1f s, batches of %d unique alerts (%d workloads, %d namespaces, %d alertnames, ~%d B/request)\n",
			s.Clients, s.DurationSec, s.BatchSize, s.Workloads, s.Namespaces, s.AlertNames, s.BodyBytesAvg)
		fmt.Fprintf(w, "  throughput     %8.0f alerts/s  %6.0f requests/s  (%d alerts in %d requests)\n", s.AlertsPerSec, s.RequestsPerSec, s.Alerts, s.Requests)
		fmt.Fprintf(w, "  ack latency    p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  (mean %.2f ms)\n", s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.Max, s.Latency.Mean)
		fmt.Fprintf(w, "  errors         %d non-2xx, %d transport%s\n", s.Errors.Non2xx, s.Errors.Transport, firstErr(s.Errors))
		fmt.Fprintf(w, "  RSS            peak %.1f MB sampled every 100 ms (%d samples), VmHWM %.1f MB\n", mb(s.PeakRSSKB), s.RSSSamples, mb(s.HWMKB))
		fmt.Fprintf(w, "  CPU            sleuth %.1f s (%.2f cores), bench client %.1f s (%.2f cores), other processes %.2f cores, steal %.2f, of %d cores\n",
			s.ChildCPUSec, s.ChildCPUSec/s.DurationSec, s.BenchCPUSec, s.BenchCPUSec/s.DurationSec, s.OtherCores, s.StealCores, r.Machine.CPUs)
		if s.OtherCores >= quietThreshold {
			fmt.Fprintf(w, "  WARNING        other processes used %.2f of %d cores during this phase: its numbers are skewed\n", s.OtherCores, r.Machine.CPUs)
		}
		fmt.Fprintf(w, "  disk           sleuth wrote %.1f MB (%d write syscalls)\n", s.ChildWriteMB, s.ChildWriteCall)
		fmt.Fprintf(w, "  sleuth says    new %d, duplicates %d; /metrics received %d; %d incidents open, investigations done %d, queued %d\n",
			s.NewReported, s.DupReported, s.Received, s.IncidentsOpen, s.InvDoneAfter, s.InvQueuedAfter)
	}
	if r.PerfReport != "" {
		fmt.Fprintf(w, "\nperf (sleuth during the sustained phase, top symbols):\n%s\n", r.PerfReport)
	}
	if s := r.Storm; s != nil {
		fmt.Fprintf(w, "\nstorm: %d unique alerts about %d Deployments in %d namespaces (%d pods x 2 containers each, %d with an all-digit suffix),\n       %d batches x %d deliveries = %d requests (%d alerts), %d clients\n",
			s.Alerts, s.Workloads, s.Namespaces, s.PodsPerWorkload, s.DigitPods, s.Batches, s.Deliveries, s.Requests, s.AlertsDelivered, s.Clients)
		fmt.Fprintf(w, "  intake         %.2f s for all deliveries; ack p50 %.2f ms p99 %.2f ms max %.2f ms; errors %d%s\n",
			s.IntakeSec, s.Latency.P50, s.Latency.P99, s.Latency.Max, s.Errors.total(), firstErr(s.Errors))
		fmt.Fprintf(w, "  sleuth says    new %d, duplicates %d, investigations queued %d\n", s.NewReported, s.DupReported, s.QueuedReported)
		fmt.Fprintf(w, "  result         %d incidents, %d investigations (%s), %d listed done\n", s.Incidents, s.Investigations, states(s.InvestigationsBy), s.DoneListed)
		fmt.Fprintf(w, "  wall time      %.2f s from the first alert to all investigations done\n", s.AllDoneSec)
		fmt.Fprintf(w, "  RSS            peak %.1f MB sampled, VmHWM %.1f MB\n", mb(s.PeakRSSKB), mb(s.HWMKB))
		fmt.Fprintf(w, "  CPU            sleuth %.1f s, bench client %.1f s, other processes %.2f cores\n", s.ChildCPUSec, s.BenchCPUSec, s.OtherCores)
		if s.OtherCores >= quietThreshold {
			fmt.Fprintf(w, "  WARNING        other processes used %.2f of %d cores during this phase: its numbers are skewed\n", s.OtherCores, r.Machine.CPUs)
		}
	}
	if sm := r.SeedModel; sm != nil {
		fmt.Fprintf(w, "\nseed design vs sleuth for this storm (COMPUTED from an assumption, not measured):\n")
		fmt.Fprintf(w, "  assumption: %s\n", sm.Assumption)
		fmt.Fprintf(w, "  %-34s %18s %18s\n", "", "seed bridge", "sleuth")
		fmt.Fprintf(w, "  %-34s %18d %18d\n", "investigation calls", sm.Calls, sm.SleuthCalls)
		fmt.Fprintf(w, "  %-34s %18d %18d\n", "duplicate investigations", sm.DuplicateCalls, max(0, sm.SleuthCalls-targetStormInv))
		fmt.Fprintf(w, "  %-34s %18d %18d\n", "investigations at once", sm.Concurrency, sm.SleuthWorkers)
		fmt.Fprintf(w, "  %-34s %18s %18s\n", fmt.Sprintf("backlog at T=%s", time.Duration(sm.InvestigationSec*float64(time.Second))),
			human(sm.BacklogSec), human(sm.SleuthBacklogSec))
		ack := "measured above"
		if r.Storm != nil {
			ack = fmt.Sprintf("%.1f ms p99", r.Storm.Latency.P99)
		}
		fmt.Fprintf(w, "  %-34s %18s %18s\n", "ack of one 10-alert delivery", ">= "+human(sm.AckPerDeliverySec), ack)
		measured := "not run"
		if r.Sustained != nil {
			measured = fmt.Sprintf("%.0f alerts/s", r.Sustained.AlertsPerSec)
		}
		fmt.Fprintf(w, "  %-34s %18s %18s\n", "sustainable intake", fmt.Sprintf("%.3f alerts/s", sm.SustainedPerSec), measured)
		fmt.Fprintf(w, "  (seed column: calls = alerts x deliveries, backlog = calls x T / concurrency, ack >= batch x T,\n")
		fmt.Fprintf(w, "   intake = concurrency / T. sleuth column: investigations and ack measured above, backlog =\n")
		fmt.Fprintf(w, "   ceil(investigations / workers) x T at the same T; its measured wall time above uses the\n")
		fmt.Fprintf(w, "   built-in labels investigator, which takes milliseconds.)\n")
	}
	fmt.Fprintf(w, "\ntargets:\n")
	for _, t := range r.Targets {
		v := "PASS"
		if !t.Pass {
			v = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %-10s %-26s want %-16s got %s\n", v, t.Phase, t.Name, t.Want, t.Got)
	}
}

func firstErr(e errorCounts) string {
	if e.First == "" {
		return ""
	}
	return " (first: " + e.First + ")"
}

func states(m map[string]int) string {
	var parts []string
	for _, s := range []string{"queued", "running", "done", "failed"} {
		if m[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, m[s]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// human prints seconds as s, min, h or days.
func human(sec float64) string {
	switch {
	case sec < 120:
		return fmt.Sprintf("%.0f s", sec)
	case sec < 3*3600:
		return fmt.Sprintf("%.1f min", sec/60)
	case sec < 72*3600:
		return fmt.Sprintf("%.1f h", sec/3600)
	default:
		return fmt.Sprintf("%.1f days", sec/86400)
	}
}

func describeMachine(ctx context.Context) machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if st, err := procMeminfo(); err == nil {
		m.MemTotal = fmt.Sprintf("%.1f GiB", float64(st)/(1<<20))
	}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		if v := strings.TrimSpace(string(out)); v != "" && v != m.GoVersion {
			m.GoVersion += " (toolchain " + v + ")"
		}
	}
	return m
}

// gitDescribe names the commit the tree is at, and whether it has
// uncommitted changes (the built sleuth is the tree, not the commit).
func gitDescribe(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "working tree (not a git checkout)"
	}
	d := "working tree at " + strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		d += " with uncommitted changes"
	}
	return d
}

// procMeminfo returns MemTotal in kB.
func procMeminfo() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no MemTotal")
}

// fsType names the file system of dir, for the report (fsync cost differs).
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown fs"
	}
	switch st.Type {
	case 0xEF53:
		return "ext4"
	case 0x01021994:
		return "tmpfs"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	default:
		return fmt.Sprintf("fs 0x%x", st.Type)
	}
}

// startPerf records sleuth's CPU profile for d with perf.
func startPerf(out string, pid int, d time.Duration) (*exec.Cmd, error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil, errors.New("-perf: perf is not installed")
	}
	secs := strconv.FormatFloat(d.Seconds(), 'f', 1, 64)
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", out, "--", "sleep", secs)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start perf: %w", err)
	}
	return cmd, nil
}

// finishPerf waits for perf (bounded) and returns the top of its report:
// sleuth's own functions and the main SQLite costs with their callees
// included, then the hottest symbols by themselves.
func finishPerf(cmd *exec.Cmd, file string) string {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	report := func(children bool, keep func(string) bool, limit int) (string, error) {
		args := []string{"report", "-i", file, "--stdio", "-g", "none", "--sort", "sym", "--percent-limit", "0.5"}
		if children {
			args = append(args, "--children")
		} else {
			args = append(args, "--no-children")
		}
		out, err := exec.CommandContext(ctx, "perf", args...).Output()
		if err != nil {
			return "", err
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") || !keep(l) {
				continue
			}
			lines = append(lines, l)
			if len(lines) >= limit {
				break
			}
		}
		return strings.Join(lines, "\n"), nil
	}
	interesting := []string{"github.com/sleuth-sre/sleuth/", "(*conn).prepareV2", "(*tx).Commit", "libc.Xfsync", "_walCheckpoint", "_sqlite3WalFrames", "runtime.gcBgMarkWorker"}
	incl, err := report(true, func(l string) bool {
		for _, s := range interesting {
			if strings.Contains(l, s) {
				return true
			}
		}
		return false
	}, 30)
	if err != nil {
		return "perf report failed: " + err.Error()
	}
	self, err := report(false, func(string) bool { return true }, 15)
	if err != nil {
		return "perf report failed: " + err.Error()
	}
	return "with callees (children, self):\n" + incl + "\n\nby itself:\n" + self
}
