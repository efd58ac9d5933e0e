package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// newHTTPClient returns a keep-alive client for loopback (no proxy), as
// Alertmanager keeps its webhook connections open.
func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns + 8,
			MaxIdleConnsPerHost: conns + 8,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// ackResult is sleuth's answer to a delivery (the fields the bench checks).
type ackResult struct {
	New        int `json:"new"`
	Duplicates int `json:"duplicates"`
	Incidents  int `json:"incidents_opened"`
	Queued     int `json:"investigations_queued"`
}

// post sends one delivery and returns the time to a complete answer.
func post(ctx context.Context, hc *http.Client, url string, body []byte) (time.Duration, int, ackResult, error) {
	var ack ackResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, ack, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.28.1 (sleuth bench)")
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return time.Since(start), 0, ack, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return d, resp.StatusCode, ack, err
	}
	if resp.StatusCode/100 == 2 {
		_ = json.Unmarshal(b, &ack)
	}
	return d, resp.StatusCode, ack, nil
}

// latencyStats summarises acknowledgement latencies in milliseconds.
type latencyStats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func summarise(ds []time.Duration) latencyStats {
	if len(ds) == 0 {
		return latencyStats{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
	// Nearest-rank percentile.
	pct := func(p float64) time.Duration {
		i := int(math.Ceil(p/100*float64(len(ds)))) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return latencyStats{Count: len(ds), P50: ms(pct(50)), P90: ms(pct(90)), P99: ms(pct(99)), Max: ms(ds[len(ds)-1]),
		Mean: ms(sum / time.Duration(len(ds)))}
}

// errorCounts counts failed deliveries.
type errorCounts struct {
	Non2xx    int            `json:"non_2xx"`
	Transport int            `json:"transport"`
	ByStatus  map[string]int `json:"by_status,omitempty"`
	First     string         `json:"first,omitempty"`
}

func (e *errorCounts) total() int { return e.Non2xx + e.Transport }

func (e *errorCounts) add(code int, err error) {
	if err != nil {
		e.Transport++
		if e.First == "" {
			e.First = err.Error()
		}
		return
	}
	e.Non2xx++
	if e.ByStatus == nil {
		e.ByStatus = map[string]int{}
	}
	e.ByStatus[strconv.Itoa(code)]++
	if e.First == "" {
		e.First = "HTTP " + strconv.Itoa(code)
	}
}

func (e *errorCounts) merge(o errorCounts) {
	e.Non2xx += o.Non2xx
	e.Transport += o.Transport
	for k, v := range o.ByStatus {
		if e.ByStatus == nil {
			e.ByStatus = map[string]int{}
		}
		e.ByStatus[k] += v
	}
	if e.First == "" {
		e.First = o.First
	}
}

// sustainedResult is phase 2.
type sustainedResult struct {
	Clients        int          `json:"clients"`
	BatchSize      int          `json:"batch_size"`
	DurationSec    float64      `json:"duration_s"`
	Requests       int          `json:"requests"`
	Alerts         int          `json:"alerts_acked"`
	AlertsPerSec   float64      `json:"alerts_per_s"`
	RequestsPerSec float64      `json:"requests_per_s"`
	Latency        latencyStats `json:"ack_latency"`
	Errors         errorCounts  `json:"errors"`
	NewReported    int          `json:"new_reported_by_sleuth"`
	DupReported    int          `json:"duplicates_reported_by_sleuth"`
	Workloads      int          `json:"workloads"`
	Namespaces     int          `json:"namespaces"`
	AlertNames     int          `json:"alertnames"`
	BodyBytesAvg   int          `json:"body_bytes_avg"`
	PeakRSSKB      int64        `json:"peak_rss_kb_sampled"`
	RSSSamples     int          `json:"rss_samples"`
	HWMKB          int64        `json:"vm_hwm_kb"`
	ChildCPUSec    float64      `json:"sleuth_cpu_s"`
	BenchCPUSec    float64      `json:"bench_cpu_s"`
	ChildWriteMB   float64      `json:"sleuth_disk_write_mb"`
	ChildWriteCall int64        `json:"sleuth_write_syscalls"`
	// Machine-wide CPU during the phase: busy cores, the part used by
	// neither sleuth nor the bench (other processes), hypervisor steal.
	MachineCores float64 `json:"machine_busy_cores"`
	OtherCores   float64 `json:"other_processes_cores"`
	StealCores   float64 `json:"steal_cores"`
	// After the phase, from /metrics.
	Received       int `json:"sleuth_alerts_received_total"`
	IncidentsOpen  int `json:"incidents_open_after"`
	InvQueuedAfter int `json:"investigations_queued_after"`
	InvDoneAfter   int `json:"investigations_done_after"`
}

// sustainedGen hands out unique alerts for the sustained phase: every alert
// has a pod name no other alert has, hence a unique fingerprint.
type sustainedGen struct {
	counter   atomic.Uint64
	workloads []workload
	byNS      map[string][]workload
	nsList    []string
	base      time.Time
}

func newSustainedGen(nWorkloads, nNamespaces int) *sustainedGen {
	g := &sustainedGen{workloads: makeWorkloads(nWorkloads, nNamespaces), byNS: map[string][]workload{}, base: time.Now().Add(-10 * time.Minute)}
	for _, w := range g.workloads {
		if _, ok := g.byNS[w.Namespace]; !ok {
			g.nsList = append(g.nsList, w.Namespace)
		}
		g.byNS[w.Namespace] = append(g.byNS[w.Namespace], w)
	}
	return g
}

// batch returns one delivery: a group (alertname, namespace) of n alerts
// about pods of that namespace's deployments.
func (g *sustainedGen) batch(rng *rand.Rand, n int) []byte {
	ns := g.nsList[rng.IntN(len(g.nsList))]
	kind := podAlerts[rng.IntN(len(podAlerts))]
	ws := g.byNS[ns]
	alerts := make([]genAlert, n)
	for i := range alerts {
		c := g.counter.Add(1)
		w := ws[rng.IntN(len(ws))]
		alerts[i] = genAlert{Kind: kind, W: w, Pod: w.podName(c), Instance: int(c),
			StartsAt: g.base.Add(time.Duration(c) * time.Millisecond)}
	}
	return payload("sleuth", alerts)
}

// runSustained runs clients that each POST batches back to back for d.
func runSustained(ctx context.Context, c *child, hc *http.Client, clients, batchSize int, d time.Duration, g *sustainedGen) (sustainedResult, error) {
	res := sustainedResult{Clients: clients, BatchSize: batchSize, Workloads: len(g.workloads), Namespaces: len(g.nsList), AlertNames: len(podAlerts)}
	url := c.base + "/api/alerts"
	type clientOut struct {
		lat       []time.Duration
		errs      errorCounts
		alerts    int
		bodyBytes int
		newN, dup int
	}
	outs := make([]clientOut, clients)
	cpu0, _ := cpuSeconds(c.pid)
	self0 := selfCPUSeconds()
	sys0 := readCPUTimes()
	wb0, sc0 := procIO(c.pid)
	sampler := sampleRSS(c.pid, 100*time.Millisecond)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := &outs[i]
			o.lat = make([]time.Duration, 0, 1<<14)
			rng := rand.New(rand.NewPCG(uint64(i)+1, 0x5eed))
			for time.Now().Before(end) && ctx.Err() == nil {
				body := g.batch(rng, batchSize)
				o.bodyBytes += len(body)
				lat, code, ack, err := post(ctx, hc, url, body)
				if ctx.Err() != nil {
					return
				}
				if err != nil || code/100 != 2 {
					o.errs.add(code, err)
					if err != nil {
						time.Sleep(10 * time.Millisecond) // no hot loop on a dead server
					}
					continue
				}
				o.lat = append(o.lat, lat)
				o.alerts += batchSize
				o.newN += ack.New
				o.dup += ack.Duplicates
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.PeakRSSKB, res.RSSSamples = sampler.finish()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	cpu1, _ := cpuSeconds(c.pid)
	wb1, sc1 := procIO(c.pid)
	res.ChildCPUSec = round2(cpu1 - cpu0)
	res.BenchCPUSec = round2(selfCPUSeconds() - self0)
	busy, steal := cores(sys0, readCPUTimes(), runtime.NumCPU())
	res.MachineCores, res.StealCores = round2(busy), round2(steal)
	res.OtherCores = round2(max(0, busy-(res.ChildCPUSec+res.BenchCPUSec)/elapsed.Seconds()))
	res.ChildWriteMB = round2(float64(wb1-wb0) / (1 << 20))
	res.ChildWriteCall = sc1 - sc0
	if m, err := procStatus(c.pid, "VmHWM"); err == nil {
		res.HWMKB = m["VmHWM"]
	}
	var all []time.Duration
	bodyBytes := 0
	for _, o := range outs {
		all = append(all, o.lat...)
		res.Errors.merge(o.errs)
		res.Alerts += o.alerts
		res.NewReported += o.newN
		res.DupReported += o.dup
		bodyBytes += o.bodyBytes
	}
	res.Requests = len(all)
	res.DurationSec = round2(elapsed.Seconds())
	res.AlertsPerSec = math.Round(float64(res.Alerts) / elapsed.Seconds())
	res.RequestsPerSec = math.Round(float64(res.Requests) / elapsed.Seconds())
	if n := res.Requests + res.Errors.total(); n > 0 {
		res.BodyBytesAvg = bodyBytes / n
	}
	res.Latency = summarise(all)
	m, err := scrape(ctx, hc, c.base)
	if err != nil {
		return res, fmt.Errorf("metrics after the sustained phase: %w", err)
	}
	res.Received = int(m[`sleuth_alerts_received_total`])
	res.IncidentsOpen = int(m[`sleuth_incidents_open`])
	res.InvQueuedAfter = int(m[`sleuth_investigations{state="queued"}`])
	res.InvDoneAfter = int(m[`sleuth_investigations{state="done"}`])
	return res, nil
}

// scrape reads /metrics into name{labels} -> value.
func scrape(ctx context.Context, hc *http.Client, base string) (map[string]float64, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, base+"/metrics", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET /metrics: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// getJSON GETs a JSON document into v.
func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}

// listPage is a list answer of the read API.
type listPage struct {
	Items []struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
		Key   string `json:"key"`
	} `json:"items"`
	NextBefore string `json:"next_before"`
}

// countAll counts every item of a list endpoint, following next_before.
func countAll(ctx context.Context, hc *http.Client, url string) (total int, byState map[string]int, keys []string, err error) {
	byState = map[string]int{}
	before := ""
	for pages := 0; pages < 1000; pages++ {
		u := url + "&limit=1000"
		if before != "" {
			u += "&before=" + before
		}
		var p listPage
		if err := getJSON(ctx, hc, u, &p); err != nil {
			return total, byState, keys, err
		}
		for _, it := range p.Items {
			total++
			byState[it.State]++
			if it.Key != "" {
				keys = append(keys, it.Key)
			}
		}
		if p.NextBefore == "" {
			return total, byState, keys, nil
		}
		before = p.NextBefore
	}
	return total, byState, keys, errors.New("more than 1000 pages")
}

// stormResult is phase 3.
type stormResult struct {
	Alerts            int            `json:"unique_alerts"`
	Workloads         int            `json:"workloads"`
	Namespaces        int            `json:"namespaces"`
	PodsPerWorkload   int            `json:"pods_per_workload"`
	DigitPods         int            `json:"digit_suffix_pods_per_workload"`
	Deliveries        int            `json:"deliveries_per_batch"`
	Batches           int            `json:"batches"`
	Requests          int            `json:"requests"`
	AlertsDelivered   int            `json:"alerts_delivered"`
	Clients           int            `json:"clients"`
	Errors            errorCounts    `json:"errors"`
	Latency           latencyStats   `json:"ack_latency"`
	NewReported       int            `json:"new_reported_by_sleuth"`
	DupReported       int            `json:"duplicates_reported_by_sleuth"`
	QueuedReported    int            `json:"investigations_queued_reported_by_sleuth"`
	IntakeSec         float64        `json:"intake_wall_s"`
	AllDoneSec        float64        `json:"first_alert_to_all_investigations_done_s"`
	Incidents         int            `json:"incidents"`
	IncidentKeys      []string       `json:"incident_keys,omitempty"`
	Investigations    int            `json:"investigations"`
	InvestigationsBy  map[string]int `json:"investigations_by_state"`
	DoneListed        int            `json:"investigations_listed_done"`
	PeakRSSKB         int64          `json:"peak_rss_kb_sampled"`
	HWMKB             int64          `json:"vm_hwm_kb"`
	MetricsReceived   int            `json:"sleuth_alerts_received_total"`
	MetricsDuplicates int            `json:"sleuth_alerts_deduplicated_total"`
	ChildCPUSec       float64        `json:"sleuth_cpu_s"`
	BenchCPUSec       float64        `json:"bench_cpu_s"`
	OtherCores        float64        `json:"other_processes_cores"`
}

// stormPlan builds the storm's deliveries: n unique alerts about nW
// Deployments (one alertname each) in nsCount namespaces, grouped by
// (alertname, namespace) into batches, each batch delivered `deliveries`
// times in a shuffled order, so that some copies race each other (an HA
// Alertmanager pair) and some come much later (group_interval re-sends).
//
// digitPods pods of every workload get an all-digit random suffix (see
// podSuffix).
func stormPlan(rng *rand.Rand, n, nW, nsCount, batch, deliveries, digitPods int) (bodies [][]byte, batches, podsPerW int) {
	ws := makeWorkloads(nW, nsCount)
	kindOf := func(i int) alertKind {
		if i%4 == 3 {
			return podAlerts[1] // KubePodNotReady
		}
		return podAlerts[0] // KubePodCrashLooping
	}
	type group struct{ alerts []genAlert }
	groups := map[string]*group{}
	var order []string
	per := n / nW
	// Two containers per pod: per/2 distinct pods per workload.
	podsPerW = (per + 1) / 2
	base := time.Now().Add(-5 * time.Minute)
	counter := uint64(0)
	for wi, w := range ws {
		cnt := per
		if wi < n%nW {
			cnt++
		}
		kind := kindOf(wi)
		key := kind.Name + "/" + w.Namespace
		g, ok := groups[key]
		if !ok {
			g = &group{}
			groups[key] = g
			order = append(order, key)
		}
		for j := 0; j < cnt; j++ {
			counter++
			wc := w
			if j%2 == 1 {
				wc.Container = "istio-proxy"
			}
			pod := w.podName(uint64(wi)*100000 + uint64(j/2))
			if j/2 < digitPods {
				pod = w.digitPodName(uint64(j / 2))
			}
			g.alerts = append(g.alerts, genAlert{Kind: kind, W: wc, Pod: pod, Instance: int(counter),
				StartsAt: base.Add(time.Duration(counter) * time.Millisecond)})
		}
	}
	var once [][]byte
	for _, key := range order {
		g := groups[key]
		// Alertmanager's groups interleave the workloads of a namespace.
		rng.Shuffle(len(g.alerts), func(i, j int) { g.alerts[i], g.alerts[j] = g.alerts[j], g.alerts[i] })
		for i := 0; i < len(g.alerts); i += batch {
			once = append(once, payload("sleuth", g.alerts[i:min(i+batch, len(g.alerts))]))
		}
	}
	for d := 0; d < deliveries; d++ {
		bodies = append(bodies, once...)
	}
	rng.Shuffle(len(bodies), func(i, j int) { bodies[i], bodies[j] = bodies[j], bodies[i] })
	return bodies, len(once), podsPerW
}

// runStorm delivers the plan with `clients` concurrent clients, then waits
// until no investigation is queued or running.
func runStorm(ctx context.Context, c *child, hc *http.Client, bodies [][]byte, clients int, wait time.Duration) (stormResult, error) {
	var res stormResult
	res.Clients = clients
	res.Requests = len(bodies)
	url := c.base + "/webhook"
	var next atomic.Int64
	type clientOut struct {
		lat       []time.Duration
		errs      errorCounts
		newN, dup int
		queued    int
	}
	outs := make([]clientOut, clients)
	cpu0, _ := cpuSeconds(c.pid)
	self0 := selfCPUSeconds()
	sys0 := readCPUTimes()
	sampler := sampleRSS(c.pid, 100*time.Millisecond)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := &outs[i]
			for ctx.Err() == nil {
				k := int(next.Add(1)) - 1
				if k >= len(bodies) {
					return
				}
				// Alertmanager retries a failed delivery; so does the bench,
				// a few times, so that a failure shows as an error but does
				// not silently shrink the storm.
				for attempt := 0; attempt < 3; attempt++ {
					lat, code, ack, err := post(ctx, hc, url, bodies[k])
					if ctx.Err() != nil {
						return
					}
					if err != nil || code/100 != 2 {
						o.errs.add(code, err)
						time.Sleep(100 * time.Millisecond)
						continue
					}
					o.lat = append(o.lat, lat)
					o.newN += ack.New
					o.dup += ack.Duplicates
					o.queued += ack.Queued
					break
				}
			}
		}(i)
	}
	wg.Wait()
	res.IntakeSec = round2(time.Since(start).Seconds())
	if err := ctx.Err(); err != nil {
		sampler.finish()
		return res, err
	}
	var all []time.Duration
	for _, o := range outs {
		all = append(all, o.lat...)
		res.Errors.merge(o.errs)
		res.NewReported += o.newN
		res.DupReported += o.dup
		res.QueuedReported += o.queued
	}
	res.Latency = summarise(all)

	// Every acknowledged delivery has committed its investigations, so from
	// here the queue only drains.
	deadline := time.Now().Add(wait)
	for {
		m, err := scrape(ctx, hc, c.base)
		if err != nil {
			sampler.finish()
			return res, fmt.Errorf("metrics during the storm: %w", err)
		}
		q, r := m[`sleuth_investigations{state="queued"}`], m[`sleuth_investigations{state="running"}`]
		if q == 0 && r == 0 {
			res.AllDoneSec = round2(time.Since(start).Seconds())
			res.MetricsReceived = int(m[`sleuth_alerts_received_total`])
			res.MetricsDuplicates = int(m[`sleuth_alerts_deduplicated_total`])
			break
		}
		if time.Now().After(deadline) {
			sampler.finish()
			return res, fmt.Errorf("investigations not done %v after the storm: queued=%v running=%v", wait, q, r)
		}
		select {
		case <-ctx.Done():
			sampler.finish()
			return res, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	res.PeakRSSKB, _ = sampler.finish()
	if m, err := procStatus(c.pid, "VmHWM"); err == nil {
		res.HWMKB = m["VmHWM"]
	}
	cpu1, _ := cpuSeconds(c.pid)
	res.ChildCPUSec = round2(cpu1 - cpu0)
	res.BenchCPUSec = round2(selfCPUSeconds() - self0)
	if busy, _ := cores(sys0, readCPUTimes(), runtime.NumCPU()); res.AllDoneSec > 0 {
		res.OtherCores = round2(max(0, busy-(res.ChildCPUSec+res.BenchCPUSec)/res.AllDoneSec))
	}
	var err error
	res.Incidents, _, res.IncidentKeys, err = countAll(ctx, hc, c.base+"/api/incidents?state=")
	if err != nil {
		return res, fmt.Errorf("list incidents: %w", err)
	}
	sort.Strings(res.IncidentKeys)
	res.Investigations, res.InvestigationsBy, _, err = countAll(ctx, hc, c.base+"/api/investigations?state=")
	if err != nil {
		return res, fmt.Errorf("list investigations: %w", err)
	}
	res.DoneListed, _, _, err = countAll(ctx, hc, c.base+"/api/investigations?state=done")
	if err != nil {
		return res, fmt.Errorf("list done investigations: %w", err)
	}
	return res, nil
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
