// Package testbackend provides what tests need to run real backends:
// the pinned binaries from the project's bin/ (built on first use by
// scripts/build-backends.sh), free loopback ports and supervised processes
// that are always stopped when the test ends.
package testbackend

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sleuth-sre/sleuth/internal/lab"
)

// Root returns the repository root (the directory holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testbackend: no go.mod above the working directory")
		}
		dir = parent
	}
}

// BinDir returns where the backends live: $SLEUTH_BIN_DIR or ROOT/bin.
func BinDir(t testing.TB) string {
	if d := os.Getenv("SLEUTH_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join(Root(t), "bin")
}

// Binary returns the path of a pinned backend binary, running
// scripts/build-backends.sh for it first; the script returns at once when
// the binary is already built at its pinned version, and serialises
// concurrent builds from parallel test packages with a lock.
func Binary(t testing.TB, name string) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(Root(t), "scripts", "build-backends.sh"), name)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out.String())
	}
	path := filepath.Join(BinDir(t), name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	return path
}

var sleuthOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sleuth-bin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "sleuth")
	root, err := findRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", path, "./cmd/sleuth")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sleuth: %v\n%s", err, out)
	}
	return path, nil
})

// Sleuth builds the sleuth binary once per test process and returns it.
func Sleuth(t testing.TB) string {
	t.Helper()
	path, err := sleuthOnce()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := lab.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Process is a started backend.
type Process struct {
	Cmd  *exec.Cmd
	Name string
	log  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Start starts a process; it is killed when the test ends, and its output
// is shown if the test failed.
func Start(t testing.TB, name string, path string, args ...string) *Process {
	t.Helper()
	return StartEnv(t, name, nil, path, args...)
}

// StartEnv is Start with an environment (nil: the test's own).
func StartEnv(t testing.TB, name string, env []string, path string, args ...string) *Process {
	t.Helper()
	p := &Process{Cmd: exec.Command(path, args...), Name: name, log: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	p.Cmd.Env = env
	p.Cmd.Stdout = lockedWriter{p.mu, p.log}
	p.Cmd.Stderr = lockedWriter{p.mu, p.log}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, p.Output())
		}
	})
	return p
}

// Output returns what the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Kill kills the process (SIGKILL) and waits for it.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout before killing.
func (p *Process) Stop(timeout time.Duration) {
	_ = p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitHTTP polls url until it answers 200, the process exits or timeout passes.
func (p *Process) WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if p.Exited() {
			t.Fatalf("%s exited before %s was ready:\n%s", p.Name, url, p.Output())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s not ready after %v:\n%s", p.Name, url, timeout, p.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Eventually polls cond every 50 ms until it returns nil or timeout passes,
// then fails with the last error. It bounds waits on real processes; it
// asserts nothing about how fast they are.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
