package agent

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sleuth-sre/sleuth/internal/investigate"
	"github.com/sleuth-sre/sleuth/internal/kube"
	"github.com/sleuth-sre/sleuth/internal/report"
)

// Deterministic is the stage that answers first: the engine.
type Deterministic interface {
	Investigate(ctx context.Context, job investigate.Job) (*report.Report, error)
}

// Investigator is the queue's investigator: the deterministic engine
// first, then, when a model is configured, the model stage on its report.
type Investigator struct {
	Engine Deterministic
	// Agent is nil without a model.
	Agent *Agent
	// Finished, if set, is told about every model stage (for metrics).
	Finished func(*report.LLMStage)
}

// Investigate implements the queue's Investigator. The model stage never
// turns a report into an error.
func (i *Investigator) Investigate(ctx context.Context, job investigate.Job) (*report.Report, error) {
	det, err := i.Engine.Investigate(ctx, job)
	if err != nil || det == nil || i.Agent == nil {
		return det, err
	}
	out := i.Agent.Investigate(ctx, det, InvestigateOptions{OnStep: StepFuncFrom(ctx)})
	if i.Finished != nil && out.LLM != nil {
		i.Finished(out.LLM)
	}
	return out, nil
}

type stepFuncKey struct{}

// WithStepFunc returns a context whose Investigator streams the model
// stage's events to f (the live /api/stream/investigate): the queue calls
// the Investigator through an interface that has no place for it.
func WithStepFunc(ctx context.Context, f StepFunc) context.Context {
	if f == nil {
		return ctx
	}
	return context.WithValue(ctx, stepFuncKey{}, f)
}

// StepFuncFrom returns the StepFunc of ctx, nil when it has none.
func StepFuncFrom(ctx context.Context) StepFunc {
	f, _ := ctx.Value(stepFuncKey{}).(StepFunc)
	return f
}

// KubeChecker checks culprits against the cluster.
type KubeChecker struct{ Kube *kube.Client }

// Exists reports whether the object exists. Secrets cannot be read, so a
// Secret culprit is an error (not verified).
func (k KubeChecker) Exists(ctx context.Context, ref report.Ref) (bool, error) {
	_, err := k.Kube.Get(ctx, ref.Kind, ref.Namespace, ref.Name)
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, err
}
