package bounded

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

const limitSupported = true

// selfExe is the running binary. /proc/self/exe still execs when the file
// was replaced on disk by an upgrade.
const selfExe = "/proc/self/exe"

func init() {
	if len(os.Args) >= 4 && os.Args[0] == reexecArg0 {
		os.Exit(limitAndExec(os.Args[1], os.Args[2], os.Args[3:]))
	}
}

// limitAndExec runs in the re-executed child: it sets the limits and
// replaces itself with the target. It returns only on failure, with the
// exit status a shell uses for a program that cannot run.
func limitAndExec(limit, path string, argv []string) int {
	n, err := strconv.ParseUint(limit, 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sleuth: bad memory limit %q\n", limit)
		return 126
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		fmt.Fprintf(os.Stderr, "sleuth: set the memory limit: %v\n", err)
		return 126
	}
	// No core files: a tool that crashed under the limit must not fill the
	// disk with its memory.
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "sleuth: exec %s: %v\n", path, err)
	return 127
}
