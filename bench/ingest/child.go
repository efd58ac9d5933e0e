package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildSleuth builds ./cmd/sleuth of the module that holds the working
// directory into dir and returns the binary's path.
func buildSleuth(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the sleuth module: run from the repository (or pass -sleuth PATH)")
	}
	bin := filepath.Join(dir, "sleuth")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sleuth")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sleuth: %w\n%s", err, out)
	}
	return bin, nil
}

// child is a running `sleuth serve`.
type child struct {
	cmd    *exec.Cmd
	pid    int
	addr   string
	base   string // http://addr
	dir    string // its store directory
	args   []string
	stderr *tailBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, valid after done
	once   sync.Once
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before sleuth binds it; startChild retries in that case.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startChild starts sleuth with a fresh store in dir and waits until
// /readyz answers 200.
func startChild(ctx context.Context, bin, dir string, hc *http.Client) (*child, error) {
	var lastErr error
	for try := 0; try < 3; try++ {
		c, err := startOnce(ctx, bin, dir, hc)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, bin, dir string, hc *http.Client) (*child, error) {
	addr, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	args := []string{"serve", "--listen", addr, "--store", "sqlite://" + filepath.Join(dir, "sleuth.db"), "--log-level", "warn"}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	// SLEUTH_* variables of the caller would change the configuration
	// under test: the child gets the defaults plus the flags above.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLEUTH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	c := &child{cmd: cmd, addr: addr, base: "http://" + addr, dir: dir, args: args, stderr: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout = c.stderr
	cmd.Stderr = c.stderr
	// Its own process group, so that a Ctrl-C in the terminal reaches only
	// the bench, which then stops the child itself; and killed by the
	// kernel if the bench dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	c.pid = cmd.Process.Pid
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := c.waitReady(ctx, hc, 30*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *child) waitReady(ctx context.Context, hc *http.Client, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-c.done:
			return fmt.Errorf("sleuth exited before it was ready (%v); its output:\n%s", c.err, c.stderr.String())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, c.base+"/readyz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
		}
		cancel()
		if time.Now().After(deadline) {
			return fmt.Errorf("sleuth not ready after %v (last: %v); its output:\n%s", limit, err, c.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the child: SIGTERM, then SIGKILL if it has not exited within a
// few seconds. Safe to call more than once.
func (c *child) stop() {
	c.once.Do(func() {
		select {
		case <-c.done:
			return
		default:
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
			return
		case <-time.After(5 * time.Second):
		}
		_ = c.cmd.Process.Kill()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
		}
	})
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// procStatus reads the kB values of the named fields of /proc/PID/status.
func procStatus(pid int, fields ...string) (map[string]int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range fields {
			if name == want {
				v := strings.Fields(rest)
				if len(v) > 0 {
					n, err := strconv.ParseInt(v[0], 10, 64)
					if err == nil {
						out[name] = n
					}
				}
			}
		}
	}
	for _, want := range fields {
		if _, ok := out[want]; !ok {
			return out, fmt.Errorf("/proc/%d/status has no %s", pid, want)
		}
	}
	return out, sc.Err()
}

// rssKB returns VmRSS in kB.
func rssKB(pid int) (int64, error) {
	m, err := procStatus(pid, "VmRSS")
	return m["VmRSS"], err
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds returns the user+system CPU time of a process from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc/PID/stat times")
	}
	return (ut + st) / clockTicks, nil
}

// selfCPUSeconds is the bench's own user+system CPU time.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// procIO returns write_bytes and syscw of /proc/PID/io (bytes sent to the
// storage layer, write syscalls); zeros if unreadable.
func procIO(pid int) (writeBytes, syscw int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch name {
		case "write_bytes":
			writeBytes = n
		case "syscw":
			syscw = n
		}
	}
	return writeBytes, syscw
}

// rssSampler samples a process's VmRSS every interval and keeps the peak.
type rssSampler struct {
	mu      sync.Mutex
	peak    int64
	samples int
	stop    chan struct{}
	done    chan struct{}
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	take := func() {
		if kb, err := rssKB(pid); err == nil {
			s.mu.Lock()
			s.samples++
			if kb > s.peak {
				s.peak = kb
			}
			s.mu.Unlock()
		}
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		take()
		for {
			select {
			case <-s.stop:
				take()
				return
			case <-t.C:
				take()
			}
		}
	}()
	return s
}

// finish stops the sampler and returns the peak in kB and the sample count.
func (s *rssSampler) finish() (int64, int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.samples
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// cpuTimes is the machine-wide line of /proc/stat, in clock ticks.
type cpuTimes struct {
	busy, total, steal float64
}

func readCPUTimes() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}
	}
	var v [8]float64
	for i := range v {
		v[i], _ = strconv.ParseFloat(f[i+1], 64)
	}
	// user nice system idle iowait irq softirq steal
	t := cpuTimes{steal: v[7]}
	t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	t.total = t.busy + v[3] + v[4]
	return t
}

// cores returns how many CPUs were busy between a and b (steal included),
// and how many of them were stolen by the hypervisor.
func cores(a, b cpuTimes, cpus int) (busy, steal float64) {
	dt := b.total - a.total
	if dt <= 0 {
		return 0, 0
	}
	return (b.busy - a.busy) / dt * float64(cpus), (b.steal - a.steal) / dt * float64(cpus)
}

// fsyncStats is what a small fsync probe of the store's file system measured.
type fsyncStats struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// fsyncProbe appends 4 KiB and fsyncs, n times, in dir: what a SQLite WAL
// commit with synchronous=FULL costs at least on this file system.
func fsyncProbe(dir string, n int) (fsyncStats, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return fsyncStats{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := bytes.Repeat([]byte{'x'}, 4096)
	ds := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return fsyncStats{}, err
		}
		if err := f.Sync(); err != nil {
			return fsyncStats{}, err
		}
		ds = append(ds, time.Since(start))
	}
	l := summarise(ds)
	return fsyncStats{N: n, P50: l.P50, P99: l.P99, Max: l.Max}, nil
}

// backgroundCores measures, over d, how many CPUs processes other than
// the bench and pid kept busy.
func backgroundCores(pid int, d time.Duration, cpus int) float64 {
	a := readCPUTimes()
	c0, _ := cpuSeconds(pid)
	s0 := selfCPUSeconds()
	time.Sleep(d)
	b := readCPUTimes()
	c1, _ := cpuSeconds(pid)
	s1 := selfCPUSeconds()
	busy, _ := cores(a, b, cpus)
	return max(0, busy-((c1-c0)+(s1-s0))/d.Seconds())
}
