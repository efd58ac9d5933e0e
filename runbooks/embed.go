// Package runbooks holds the runbooks sleuth ships, embedded in the binary.
// They are YAML files next to this one, kept at the repository's root so
// that operators find them and copy them as examples; internal/runbook
// loads them (runbook.Builtin) and its tests hold them to the same checks as
// any operator's file. docs/runbooks.md describes the format.
package runbooks

import "embed"

// FS holds the shipped runbook files.
//
//go:embed *.yaml
var FS embed.FS
