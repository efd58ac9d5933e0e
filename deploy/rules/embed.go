// Package rules holds the alerting rules shipped with sleuth: Prometheus and
// vmalert rule files (groups of rules with expr, for, a severity label and
// summary, description and runbook_url annotations) for the alerts sleuth
// investigates, embedded in the binary.
//
// The YAML files next to this one are the single source of truth for these
// rules. The lab and `sleuth eval --e2e` write them to disk (WriteDir) and
// start vmalert with them, and the deploy manifests wrap the same files into
// VMRule objects: change a rule here, never in a copy.
//
// Every alert has unit tests in tests/, which rules_test.go runs with the real
// vmalert-tool, and a row in docs/alert-rules.md; the tests fail when an alert
// lacks either.
package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FS holds the rule files at its root (the tests/ folder is not included).
//
//go:embed *.yaml
var FS embed.FS

// Files returns the names of the rule files in FS, sorted.
func Files() ([]string, error) {
	return fs.Glob(FS, "*.yaml")
}

// WriteDir writes every rule file into dir, creating dir if needed, and
// returns the paths it wrote in the order of Files. Each path can be given
// to vmalert's -rule flag, or all of them as the pattern dir/*.yaml.
func WriteDir(dir string) ([]string, error) {
	names, err := Files()
	if err != nil {
		return nil, fmt.Errorf("list embedded rule files: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create rule directory: %w", err)
	}
	paths := make([]string, 0, len(names))
	for _, name := range names {
		data, err := FS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read embedded rule file %s: %w", name, err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, fmt.Errorf("write rule file: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// Contents returns every rule file's content by file name.
func Contents() (map[string][]byte, error) {
	names, err := Files()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		if out[n], err = FS.ReadFile(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}
