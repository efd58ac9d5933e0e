// Package bounded runs the child processes of toolsets (custom YAML
// toolsets, the bash toolset) with a timeout, an output cap and a memory
// limit. A child that hits any bound is killed with its whole process
// group, so a script cannot leave a grandchild running.
//
// The memory limit is RLIMIT_DATA, set in the child before the target
// program's first instruction: Run starts the running binary itself
// (/proc/self/exe) under a marker argv[0]; this package's init sees the
// marker, sets the limit and execs the target. That works in a static
// binary on a distroless image (no prlimit(1), no cgo) and has no window in
// which the target runs unlimited, which prlimit(2) on the started child
// would. RLIMIT_DATA rather than RLIMIT_AS because Go programs such as
// kubectl reserve several hundred MiB of address space they never touch
// and fail to start under an address-space limit small enough to matter;
// RLIMIT_DATA counts the private writable memory they really use.
package bounded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Limits bound one run. Zero values take the defaults.
type Limits struct {
	// Timeout bounds the run's wall time (default 30s).
	Timeout time.Duration
	// MaxOutput bounds the output kept (default 64 KiB). A child that
	// writes more is killed and the result is marked truncated: reading the
	// rest would cost time, and nobody would see it.
	MaxOutput int
	// MaxMemory is the RLIMIT_DATA of every process, in bytes (0: the
	// default, 256 MiB; negative: no limit).
	MaxMemory int64
}

// Defaults. 256 MiB is enough for kubectl, curl, jq and a shell, and small
// enough that a runaway script cannot take the node's memory.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultMaxOutput = 64 << 10
	DefaultMaxMemory = 256 << 20
	// maxStderr bounds the standard error kept when it is not merged.
	maxStderr = 8 << 10
)

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxOutput <= 0 {
		l.MaxOutput = DefaultMaxOutput
	}
	if l.MaxMemory == 0 {
		l.MaxMemory = DefaultMaxMemory
	}
	return l
}

// Proc is one program to run.
type Proc struct {
	// Path is the program; a name without a slash is looked up in PATH.
	Path string
	// Args is the whole argv, Args[0] included.
	Args []string
	// Env is the environment (nil: empty, never the server's by accident).
	Env []string
	// Dir is the working directory ("" : the server's).
	Dir string
}

// Result is the outcome of a run.
type Result struct {
	// Output is what the last process wrote to standard output (and, with
	// MergeStderr, every process's standard error), at most MaxOutput bytes.
	Output string
	// Stderr is the standard error of every process when not merged.
	Stderr string
	// ExitCode is the last process's exit status; -1 when it was killed
	// by a signal.
	ExitCode int
	// Signal names the signal that ended the last process, if any.
	Signal string
	// Truncated says the output cap was hit and the run was stopped.
	Truncated bool
	// TimedOut says the timeout was hit and the run was killed.
	TimedOut bool
}

// Options change how output is collected.
type Options struct {
	// MergeStderr sends standard error to Output, interleaved, as a shell
	// with 2>&1 would (HolmesGPT's custom tools do this).
	MergeStderr bool
}

// reexecArg0 marks the re-executed binary that sets the limit and execs
// the target. It cannot collide with a real invocation, whose argv[0] is a
// path or a program name.
const reexecArg0 = "sleuth::bounded-exec"

// StartHook, if set, is called with every process just before it starts,
// after the path is resolved; an error prevents the start. Tests use it to
// record exactly what would run.
var StartHook func(p Proc) error

// Run runs the procs as a pipeline (each one's standard output feeds the
// next one's standard input; the first reads nothing) within the limits.
// A non-zero exit is not an error: it is in the result. Errors are for what
// prevented the run (a program not found, a pipe not created).
func Run(ctx context.Context, lim Limits, opt Options, procs ...Proc) (Result, error) {
	lim = lim.withDefaults()
	if len(procs) == 0 {
		return Result{}, errors.New("nothing to run")
	}
	for i := range procs {
		if len(procs[i].Args) == 0 {
			return Result{}, fmt.Errorf("process %d has no argv", i)
		}
		path, err := exec.LookPath(procs[i].Path)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", procs[i].Path, err)
		}
		procs[i].Path = path
	}
	if StartHook != nil {
		for _, p := range procs {
			if err := StartHook(p); err != nil {
				return Result{}, err
			}
		}
	}

	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	// stop is the run's own cancellation: the output cap calls it.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	out := &capWriter{max: lim.MaxOutput, full: stop}
	var errw io.Writer = out
	errBuf := &capWriter{max: maxStderr}
	if !opt.MergeStderr {
		errw = errBuf
	}

	cmds := make([]*exec.Cmd, len(procs))
	var closeAfterStart []*os.File
	defer func() {
		for _, f := range closeAfterStart {
			f.Close()
		}
	}()
	for i, p := range procs {
		c := command(runCtx, p, lim.MaxMemory)
		c.Stderr = errw
		cmds[i] = c
	}
	for i := 0; i+1 < len(cmds); i++ {
		r, w, err := os.Pipe()
		if err != nil {
			return Result{}, fmt.Errorf("pipe: %w", err)
		}
		cmds[i].Stdout, cmds[i+1].Stdin = w, r
		closeAfterStart = append(closeAfterStart, r, w)
	}
	cmds[len(cmds)-1].Stdout = out

	started := 0
	var startErr error
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			startErr = fmt.Errorf("start %s: %w", c.Args[min(2, len(c.Args)-1)], err)
			break
		}
		started++
	}
	// The parent's copies of the pipe ends must go, or a reader would never
	// see the end of its input.
	for _, f := range closeAfterStart {
		f.Close()
	}
	closeAfterStart = nil
	if startErr != nil {
		stop()
	}
	var lastErr error
	for i, c := range cmds[:started] {
		err := c.Wait()
		if i == len(cmds)-1 {
			lastErr = err
		}
	}
	if startErr != nil {
		return Result{}, startErr
	}

	res := Result{Output: out.String(), Stderr: errBuf.String(), Truncated: out.truncated()}
	res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	last := cmds[len(cmds)-1]
	if st, ok := last.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
		res.ExitCode, res.Signal = -1, st.Signal().String()
	} else if last.ProcessState != nil {
		res.ExitCode = last.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	if lastErr != nil && !errors.As(lastErr, &ee) && !errors.Is(lastErr, exec.ErrWaitDelay) {
		return res, lastErr
	}
	if err := ctx.Err(); err != nil && !res.TimedOut {
		return res, err // the caller cancelled
	}
	return res, nil
}

// command prepares one process: in its own process group (so that a kill
// reaches its children), killed with the group when ctx ends, and under the
// memory limit through the re-exec.
func command(ctx context.Context, p Proc, maxMemory int64) *exec.Cmd {
	c := exec.CommandContext(ctx, p.Path)
	c.Err = nil // resolved by the caller
	c.Path, c.Args, c.Env, c.Dir = p.Path, p.Args, p.Env, p.Dir
	if c.Env == nil {
		c.Env = []string{}
	}
	if maxMemory > 0 && limitSupported {
		c.Path = selfExe
		c.Args = append([]string{reexecArg0, fmt.Sprint(maxMemory), p.Path}, p.Args...)
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error {
		// The negative pid is the process group: the child and whatever it
		// started.
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		return c.Process.Kill()
	}
	// A grandchild that inherited the output pipe would keep Wait waiting
	// after the kill; WaitDelay closes the pipe.
	c.WaitDelay = 2 * time.Second
	return c
}

// capWriter keeps at most max bytes; past that it calls full (once) and
// discards the rest while reporting success, so the copying goroutine
// drains the pipe until the killed writer closes it.
type capWriter struct {
	mu   sync.Mutex
	max  int
	buf  bytes.Buffer
	over bool
	full func()
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - w.buf.Len(); room < len(p) {
		w.buf.Write(p[:max(room, 0)])
		if !w.over {
			w.over = true
			if w.full != nil {
				w.full()
			}
		}
		return len(p), nil
	}
	w.buf.Write(p)
	return len(p), nil
}

func (w *capWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *capWriter) truncated() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.over
}
