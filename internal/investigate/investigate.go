// Package investigate provides the contract between the queue and the
// investigator it runs: the job an investigation is given and the errors
// that tell a retry apart from a permanent failure.
package investigate

import (
	"errors"

	"github.com/sleuth-sre/sleuth/internal/store"
)

// Job is what an investigator is given.
type Job struct {
	Investigation store.Investigation
	Incident      store.Incident
	Alerts        []store.Alert
}

// PermanentError marks a failure that a retry cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the queue fails the investigation without retrying.
func Permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
