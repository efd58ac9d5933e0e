// Package integration holds end-to-end tests of the sleuth binary against
// real backends (Alertmanager, ...) built from the project's pinned versions.
package integration
