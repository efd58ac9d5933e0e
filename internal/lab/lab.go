// Package lab provides a local incident lab: the real backends an
// investigation reads (etcd with kube-apiserver, VictoriaMetrics,
// VictoriaLogs, vmalert and Alertmanager) started on loopback from the
// project's pinned builds, and the loading of incident scenarios into them
// (Kubernetes objects through the API, backdated samples, log lines with
// vlagent's field names) with a reset between scenarios.
//
// A lab is started by one process (Start) and may be used by others
// (Attach) through the state file it writes in its directory.
package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Backends are the binaries a lab runs, in start order.
var Backends = []string{"etcd", "kube-apiserver", "victoria-metrics", "victoria-logs", "alertmanager", "vmalert"}

// Options configure Start.
type Options struct {
	// Dir holds the lab's data, logs, kubeconfig, sleuth config and state
	// file. Empty: a new temporary directory, removed by Stop.
	Dir string
	// BinDir holds the backend binaries (see FindBinDir).
	BinDir string
	// BuildScript, when set, builds missing binaries into BinDir
	// (scripts/build-backends.sh); empty: missing binaries are an error
	// that says how to build them.
	BuildScript string
	// Rules are alert rule files for vmalert (Prometheus format). With
	// none, vmalert is not started.
	Rules map[string][]byte
	// WebhookURL is where Alertmanager sends notifications (sleuth's
	// /webhook); WebhookToken is its bearer token. Empty URL: a sleuth on
	// SleuthListen.
	WebhookURL   string
	WebhookToken string
	// SleuthListen is the listen address written into the sleuth config
	// (default 127.0.0.1:8080).
	SleuthListen string
	// Progress receives one line per step (nil: discarded).
	Progress io.Writer
	// EvaluationInterval is vmalert's (default 5s).
	EvaluationInterval time.Duration
	// Register makes this lab the current one, which `sleuth lab load`,
	// `reset` and `down` use without --dir. Labs that the eval and the demo
	// start for themselves are not registered.
	Register bool
}

// State is what a running lab writes to DIR/lab.json, for Attach.
type State struct {
	// PID is the process supervising the lab (the one that ran Start).
	PID          int    `json:"pid"`
	Dir          string `json:"dir"`
	Temporary    bool   `json:"temporary"`
	URLs         URLs   `json:"urls"`
	Kubeconfig   string `json:"kubeconfig"`
	AdminToken   string `json:"admin_token"`
	CAFile       string `json:"ca_file"`
	SleuthConfig string `json:"sleuth_config"`
	WebhookToken string `json:"webhook_token"`
	// SleuthListen is where Alertmanager delivers: the sleuth config's
	// listen address.
	SleuthListen string            `json:"sleuth_listen"`
	Processes    map[string]int    `json:"processes"`
	Baseline     map[string]string `json:"baseline"`
	Started      time.Time         `json:"started"`
}

// URLs are the lab's endpoints.
type URLs struct {
	Kubernetes      string `json:"kubernetes"`
	Etcd            string `json:"etcd"`
	VictoriaMetrics string `json:"victoriametrics"`
	VictoriaLogs    string `json:"victorialogs"`
	VMAlert         string `json:"vmalert,omitempty"`
	Alertmanager    string `json:"alertmanager"`
}

// Lab is a running lab.
type Lab struct {
	State
	procs    []*proc // started by this process, in start order
	client   *http.Client
	kube     *kubeClient
	alerting *alerting
}

// readyTimeout bounds one backend's start: the API server is ready in 3-5 s
// on an idle 2-core machine, much later while other builds run.
const readyTimeout = 2 * time.Minute

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// Start starts the backends and writes the state file, the kubeconfig and
// a sleuth config pointing at them. On any error everything already
// started is stopped again.
func Start(ctx context.Context, o Options) (_ *Lab, err error) {
	if o.SleuthListen == "" {
		o.SleuthListen = "127.0.0.1:8080"
	}
	if o.EvaluationInterval <= 0 {
		o.EvaluationInterval = 5 * time.Second
	}
	l := &Lab{client: &http.Client{Timeout: 30 * time.Second}}
	l.Started = time.Now().UTC()
	l.PID = os.Getpid()
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "sleuth-lab-"); err != nil {
			return nil, err
		}
		l.Temporary = true
	}
	if l.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return nil, err
	}
	if st, err := readState(l.Dir); err == nil && processAlive(st.PID) && st.PID != os.Getpid() {
		return nil, fmt.Errorf("a lab is already running in %s (pid %d); stop it with `sleuth lab down --dir %s`", l.Dir, st.PID, l.Dir)
	}
	// A lab starts empty: data an earlier lab left in DIR would be taken
	// into the baseline a reset keeps, and survive every reset.
	for _, d := range dataDirs {
		if err := os.RemoveAll(filepath.Join(l.Dir, d)); err != nil {
			return nil, fmt.Errorf("clear the previous lab's data: %w", err)
		}
	}
	defer func() {
		if err != nil {
			l.Stop()
		}
	}()
	bins, err := ensureBinaries(ctx, o, l.Backends(o))
	if err != nil {
		return nil, err
	}
	if l.WebhookToken = o.WebhookToken; l.WebhookToken == "" {
		if l.WebhookToken, err = randomHex(16); err != nil {
			return nil, err
		}
	}
	if err := l.startKube(ctx, o, bins); err != nil {
		return nil, err
	}
	if err := l.startVictoria(ctx, o, bins); err != nil {
		return nil, err
	}
	if err := l.startAlerting(ctx, o, bins); err != nil {
		return nil, err
	}
	if err := l.writeSleuthConfig(o); err != nil {
		return nil, err
	}
	if l.Baseline, err = l.kube.snapshot(ctx); err != nil {
		return nil, fmt.Errorf("snapshot the API server's initial objects: %w", err)
	}
	l.Processes = map[string]int{}
	for _, p := range l.procs {
		l.Processes[p.name] = p.cmd.Process.Pid
	}
	if err := l.writeState(); err != nil {
		return nil, err
	}
	if !o.Register {
		return l, nil
	}
	if err := rememberCurrent(l.Dir); err != nil {
		progress(o.Progress, "lab: cannot remember %s as the current lab: %v", l.Dir, err)
	}
	return l, nil
}

// Backends returns the binaries Start needs with these options.
func (l *Lab) Backends(o Options) []string {
	if len(o.Rules) == 0 {
		return Backends[:len(Backends)-1]
	}
	return Backends
}

// Stop stops every process this lab started, newest first (the API server
// before etcd: the other order makes its shutdown wait ~25 s), and removes
// a temporary directory.
func (l *Lab) Stop() {
	for i := len(l.procs) - 1; i >= 0; i-- {
		l.procs[i].stop(10 * time.Second)
	}
	l.procs = nil
	if l.Dir == "" {
		return
	}
	_ = os.Remove(filepath.Join(l.Dir, stateFile))
	forgetCurrent(l.Dir)
	if l.Temporary {
		_ = os.RemoveAll(l.Dir)
	}
}

// Exited returns the name of a backend that has exited, or "".
func (l *Lab) Exited() string {
	for _, p := range l.procs {
		if p.exited() {
			return p.name
		}
	}
	return ""
}

// LogPath returns where a backend's output goes.
func (l *Lab) LogPath(name string) string {
	return filepath.Join(l.Dir, "logs", name+".log")
}

const stateFile = "lab.json"

// dataDirs are what a lab keeps under its directory, removed at start.
var dataDirs = []string{"etcd", "certs", "victoria-metrics", "victoria-logs", "alertmanager", "rules", "sleuth.db", "sleuth.db-wal", "sleuth.db-shm"}

func (l *Lab) writeState() error {
	b, err := json.MarshalIndent(l.State, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(l.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(l.Dir, stateFile))
}

func readState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}

// ErrNoLab is returned by Attach when no lab runs.
var ErrNoLab = errors.New("no lab is running: start one with `sleuth lab up`")

// Attach connects to the lab running in dir; an empty dir means the one
// started last by this user.
func Attach(ctx context.Context, dir string) (*Lab, error) {
	if dir == "" {
		var err error
		if dir, err = current(); err != nil {
			return nil, ErrNoLab
		}
	}
	st, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (no %s in %s)", ErrNoLab, stateFile, dir)
	}
	if err != nil {
		return nil, err
	}
	if !processAlive(st.PID) {
		return nil, fmt.Errorf("%w (the lab in %s was started by pid %d, which is gone)", ErrNoLab, dir, st.PID)
	}
	l := &Lab{State: *st, client: &http.Client{Timeout: 30 * time.Second}}
	if l.kube, err = newKubeClient(l.URLs.Kubernetes, l.AdminToken, l.CAFile); err != nil {
		return nil, err
	}
	return l, nil
}

// Down stops the lab running in dir (empty: the current one): it asks the
// supervising process to stop and waits for it; if that process is gone,
// it kills the backends it recorded.
func Down(dir string, timeout time.Duration) error {
	if dir == "" {
		var err error
		if dir, err = current(); err != nil {
			return ErrNoLab
		}
	}
	st, err := readState(dir)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrNoLab, err)
	}
	if processAlive(st.PID) {
		_ = syscall.Kill(st.PID, syscall.SIGTERM)
		deadline := time.Now().Add(timeout)
		for processAlive(st.PID) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, pid := range st.Processes {
		if processAlive(pid) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	_ = os.Remove(filepath.Join(dir, stateFile))
	forgetCurrent(dir)
	return nil
}

// pointerFile records the lab started last, so that `sleuth lab load`
// finds it without --dir.
func pointerFile() string {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "sleuth-lab-"+strconv.Itoa(os.Getuid())+".current")
}

func rememberCurrent(dir string) error {
	return os.WriteFile(pointerFile(), []byte(dir), 0o600)
}

func forgetCurrent(dir string) {
	if b, err := os.ReadFile(pointerFile()); err == nil && string(b) == dir {
		_ = os.Remove(pointerFile())
	}
}

func current() (string, error) {
	b, err := os.ReadFile(pointerFile())
	return string(b), err
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// FindBinDir returns $SLEUTH_BIN_DIR, else the bin/ directory of the
// sleuth checkout the working directory is in, with its build script (""
// when not in a checkout).
func FindBinDir() (binDir, buildScript string) {
	var root string
	if dir, err := os.Getwd(); err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "scripts", "build-backends.sh")); err == nil {
				root = d
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if root != "" {
		buildScript = filepath.Join(root, "scripts", "build-backends.sh")
		binDir = filepath.Join(root, "bin")
	}
	if d := os.Getenv("SLEUTH_BIN_DIR"); d != "" {
		binDir = d
	}
	return binDir, buildScript
}

// ensureBinaries returns the path of each binary, building missing ones
// with the build script (which also rebuilds those at a stale version).
func ensureBinaries(ctx context.Context, o Options, names []string) (map[string]string, error) {
	if o.BinDir == "" {
		o.BinDir, o.BuildScript = FindBinDir()
	}
	if o.BuildScript != "" {
		progress(o.Progress, "lab: checking the pinned backend builds in %s (the first build takes minutes; later runs seconds)", o.BinDir)
		cmd := exec.CommandContext(ctx, "bash", append([]string{o.BuildScript}, names...)...)
		cmd.Env = append(os.Environ(), "SLEUTH_BIN_DIR="+o.BinDir)
		out := o.Progress
		if out == nil {
			out = io.Discard
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build backends with %s: %w", o.BuildScript, err)
		}
	}
	bins := map[string]string{}
	var missing []string
	for _, n := range names {
		p := filepath.Join(o.BinDir, n)
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, n)
			continue
		}
		bins[n] = p
	}
	if len(missing) > 0 && o.BinDir == "" {
		return nil, fmt.Errorf("backend binaries %v not found: run sleuth from a sleuth checkout (it builds them into bin/ with scripts/build-backends.sh), or set SLEUTH_BIN_DIR to a directory holding them", missing)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("backend binaries %v are not in %q: run scripts/build-backends.sh all from a sleuth checkout, or set SLEUTH_BIN_DIR", missing, o.BinDir)
	}
	return bins, nil
}
