// Package scenarios embeds the incident scenarios sleuth ships (the format
// is docs/scenario-format.md), so that `sleuth demo` plays them from any
// directory.
package scenarios

import "embed"

// FS holds every *.yaml scenario in this directory.
//
//go:embed *.yaml
var FS embed.FS
