// Package report provides the investigation report: what broke, which
// object to fix, the evidence and what to do. It is stored as JSON and
// served by the API as is; Text and Markdown render it for people.
package report

import (
	"time"

	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Categories of the root-cause taxonomy (docs/scenario-format.md).
const (
	OOMKilled         = "oom-killed"
	CrashLoop         = "crash-loop"
	ConfigError       = "config-error"
	ImagePull         = "image-pull"
	Unschedulable     = "unschedulable"
	Volume            = "volume"
	ProbeFailure      = "probe-failure"
	CPUThrottling     = "cpu-throttling"
	CPUSaturation     = "cpu-saturation"
	DiskPressure      = "disk-pressure"
	NodeFailure       = "node-failure"
	DependencyFailure = "dependency-failure"
	BadRollout        = "bad-rollout"
	JobFailure        = "job-failure"
	QuotaExceeded     = "quota-exceeded"
	CertificateExpiry = "certificate-expiry"
	NetworkPolicy     = "network-policy"
	ScalingLimit      = "scaling-limit"
	None              = "none"
	Unknown           = "unknown"
)

// Categories lists the taxonomy in its documented order.
var Categories = []string{
	OOMKilled, CrashLoop, ConfigError, ImagePull, Unschedulable, Volume, ProbeFailure,
	CPUThrottling, CPUSaturation, DiskPressure, NodeFailure, DependencyFailure, BadRollout,
	JobFailure, QuotaExceeded, CertificateExpiry, NetworkPolicy, ScalingLimit, None, Unknown,
}

// Ref names a Kubernetes object. Cluster-scoped objects have no namespace.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// IsZero reports whether the ref names nothing.
func (r Ref) IsZero() bool { return r.Kind == "" && r.Name == "" }

// String renders the ref as kind/namespace/name.
func (r Ref) String() string {
	if r.IsZero() {
		return ""
	}
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Report is the result of one investigation.
type Report struct {
	// Investigator names what produced the report.
	Investigator string    `json:"investigator"`
	IncidentID   int64     `json:"incident_id,omitempty"`
	Generated    time.Time `json:"generated_at"`

	// RootCause is the decision: the category and the object to fix.
	RootCause RootCause `json:"root_cause"`
	// Summary is one paragraph a person can act on.
	Summary string `json:"summary"`
	// Target is the object the alert is about, as resolved.
	Target Ref `json:"target,omitzero"`
	// Findings are what the analyzers found, most relevant first.
	Findings []Finding `json:"findings"`
	// Remediation lists concrete steps, most important first.
	Remediation []string `json:"remediation"`
	// Checked lists what was examined and found healthy.
	Checked []Check `json:"checked"`
	// Unchecked lists what could not be examined, and why.
	Unchecked []Unchecked `json:"unchecked"`
	// Runbooks are the runbooks that matched the alert.
	Runbooks []Runbook `json:"runbooks,omitempty"`
	// References are knowledge-base documents about the same problem, such
	// as a past postmortem of the same alert on the same workload.
	References []Reference `json:"references,omitempty"`
	// Alerts are the alerts the investigation looked at.
	Alerts []Alert `json:"alerts"`
	// ToolCalls are every backend call made, citable by ID.
	ToolCalls []toolcall.Call `json:"tool_calls"`
	// Sections holds HolmesGPT's named sections, for its clients.
	Sections map[string]string `json:"sections,omitempty"`
	// Series are the metric series range queries returned, for charts.
	Series []Series `json:"series,omitempty"`
	// Logs are the log lines read, folded into templates with counts.
	Logs []LogGroup `json:"logs,omitempty"`
	// Timeline lists the alerts, events, restarts and rollouts in time order.
	Timeline []TimelineEntry `json:"timeline,omitempty"`
	Timing   Timing          `json:"timing"`
	// LLM describes the model stage when one ran: what it cost, whether it
	// was cut short, and what became of its answer.
	LLM *LLMStage `json:"llm,omitempty"`
}

// RootCause is the decided cause.
type RootCause struct {
	Category string `json:"category"`
	Object   Ref    `json:"object"`
	// Confidence is between 0 and 1.
	Confidence float64 `json:"confidence"`
}

// Finding is one conclusion of an analyzer, with the calls that support it.
type Finding struct {
	Analyzer string `json:"analyzer"`
	Category string `json:"category"`
	Object   Ref    `json:"object"`
	// Score ranks findings; higher is more likely the root cause.
	Score  float64 `json:"score"`
	Title  string  `json:"title"`
	Detail string  `json:"detail,omitempty"`
	// Evidence are IDs of tool calls in ToolCalls.
	Evidence    []string `json:"evidence,omitempty"`
	Remediation []string `json:"remediation,omitempty"`
}

// Check is something examined and found healthy (or not applicable).
type Check struct {
	Analyzer string `json:"analyzer"`
	Note     string `json:"note"`
}

// Unchecked is something that could not be examined.
type Unchecked struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// Runbook is a matched runbook as the report cites it.
type Runbook struct {
	Name         string `json:"name"`
	Source       string `json:"source"`
	Instructions string `json:"instructions,omitempty"`
}

// Reference is a knowledge-base document the report cites.
type Reference struct {
	// Kind is postmortem, runbook or doc.
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// Path is the document's path in the knowledge base.
	Path    string `json:"path"`
	Excerpt string `json:"excerpt,omitempty"`
}

// Alert is an alert as the report cites it.
type Alert struct {
	Name         string            `json:"alertname"`
	Status       string            `json:"status"`
	Fingerprint  string            `json:"fingerprint"`
	StartsAt     time.Time         `json:"starts_at"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
}

// Timing says where the time went.
type Timing struct {
	TotalMS   float64 `json:"total_ms"`
	CollectMS float64 `json:"collect_ms"`
	AnalyzeMS float64 `json:"analyze_ms"`
	Calls     int     `json:"calls"`
}
