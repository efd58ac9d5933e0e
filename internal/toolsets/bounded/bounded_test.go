package bounded

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as a child that allocates memory:
// with BOUNDED_TEST_ALLOC=N it touches N MiB and reports it.
func TestMain(m *testing.M) {
	if v := os.Getenv("BOUNDED_TEST_ALLOC"); v != "" {
		n, _ := strconv.Atoi(v)
		b := make([]byte, n<<20)
		for i := range b {
			b[i] = 1
		}
		fmt.Printf("allocated %d MiB\n", len(b)>>20)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestPipeline(t *testing.T) {
	res, err := Run(context.Background(), Limits{}, Options{},
		Proc{Path: "printf", Args: []string{"printf", "a1\\nb2\\na3\\n"}},
		Proc{Path: "grep", Args: []string{"grep", "a"}},
		Proc{Path: "wc", Args: []string{"wc", "-l"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(res.Output) != "2" || res.ExitCode != 0 || res.Truncated || res.TimedOut {
		t.Errorf("result = %+v, want output 2 and exit 0", res)
	}
}

func TestExitCodeAndStderr(t *testing.T) {
	res, err := Run(context.Background(), Limits{}, Options{},
		Proc{Path: "sh", Args: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.Output != "out\n" || res.Stderr != "err\n" {
		t.Errorf("result = %+v", res)
	}
	res, err = Run(context.Background(), Limits{}, Options{MergeStderr: true},
		Proc{Path: "sh", Args: []string{"sh", "-c", "echo out; echo err >&2"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Output != "out\nerr\n" {
		t.Errorf("merged output = %q", res.Output)
	}
}

func TestEnvironmentIsOnlyWhatIsGiven(t *testing.T) {
	t.Setenv("SLEUTH_SECRET_FOR_TEST", "s3cret")
	res, err := Run(context.Background(), Limits{}, Options{},
		Proc{Path: "/usr/bin/env", Args: []string{"env"}, Env: []string{"ONLY=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(res.Output) != "ONLY=1" {
		t.Errorf("child environment = %q, want only ONLY=1", res.Output)
	}
}

func TestOutputCapStopsTheWriter(t *testing.T) {
	// yes never ends by itself: only the cap's kill ends this run.
	res, err := Run(context.Background(), Limits{MaxOutput: 1000, Timeout: time.Hour}, Options{},
		Proc{Path: "yes", Args: []string{"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || len(res.Output) != 1000 || res.TimedOut {
		t.Errorf("truncated=%v len=%d timedOut=%v, want a truncated 1000-byte output", res.Truncated, len(res.Output), res.TimedOut)
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	// The script starts a grandchild and prints its pid; the timeout must
	// kill the grandchild too, not only the shell.
	res, err := Run(context.Background(), Limits{Timeout: 300 * time.Millisecond}, Options{},
		Proc{Path: "sh", Args: []string{"sh", "-c", "sleep 1000 & echo $!; wait"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.Signal != "killed" {
		t.Fatalf("result = %+v, want timed out and killed", res)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(res.Output))
	if err != nil {
		t.Fatalf("grandchild pid %q: %v", res.Output, err)
	}
	// The grandchild is reparented; once killed it is gone or a zombie
	// waiting for its new parent.
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return // gone
		}
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still running after the timeout: %s", pid, stat)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMemoryLimit(t *testing.T) {
	if !limitSupported {
		t.Skip("no memory limit on this OS")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(limit int64) Result {
		t.Helper()
		res, err := Run(context.Background(), Limits{MaxMemory: limit}, Options{MergeStderr: true},
			Proc{Path: self, Args: []string{self}, Env: []string{"BOUNDED_TEST_ALLOC=200"}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run(-1); res.ExitCode != 0 || !strings.Contains(res.Output, "allocated 200 MiB") {
		t.Fatalf("without a limit: %+v", res)
	}
	res := run(64 << 20)
	if res.ExitCode == 0 || strings.Contains(res.Output, "allocated") {
		t.Fatalf("under a 64 MiB limit the 200 MiB allocation succeeded: %+v", res)
	}
	if !strings.Contains(res.Output, "out of memory") {
		t.Errorf("output = %q, want the Go runtime's out of memory", res.Output)
	}
}

func TestStartHookSeesEveryProcessAndCanRefuse(t *testing.T) {
	var seen []string
	StartHook = func(p Proc) error {
		seen = append(seen, p.Path+" "+strings.Join(p.Args[1:], " "))
		if p.Args[0] == "cat" {
			return fmt.Errorf("refused")
		}
		return nil
	}
	defer func() { StartHook = nil }()
	_, err := Run(context.Background(), Limits{}, Options{},
		Proc{Path: "echo", Args: []string{"echo", "x"}}, Proc{Path: "cat", Args: []string{"cat"}})
	if err == nil || err.Error() != "refused" {
		t.Fatalf("err = %v, want refused", err)
	}
	if len(seen) != 2 || !strings.HasSuffix(seen[0], "/echo x") {
		t.Errorf("hook saw %q", seen)
	}
}

func TestProgramNotFound(t *testing.T) {
	_, err := Run(context.Background(), Limits{}, Options{}, Proc{Path: "no-such-program-xyz", Args: []string{"x"}})
	if err == nil {
		t.Fatal("want an error")
	}
}
