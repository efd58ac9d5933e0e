//go:build !linux

package bounded

// Elsewhere there is no memory limit; timeouts and output caps still apply.
const limitSupported = false

const selfExe = ""
