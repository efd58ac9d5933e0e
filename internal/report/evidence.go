package report

import "time"

// Units of a Series, as the UI formats them.
const (
	UnitBytes   = "bytes"
	UnitCores   = "cores"
	UnitRatio   = "ratio" // 0..1, shown as a percentage
	UnitSeconds = "seconds"
)

// MaxSeries bounds the series a report keeps for charts, and
// MaxSeriesPoints the points of one: enough to see a curve reach its limit,
// small enough that a stored report stays in the tens of kilobytes.
const (
	MaxSeries       = 24
	MaxSeriesPoints = 120
)

// Series is a metric series a range query of the investigation returned,
// bounded, so that a reader sees the curve and not only the excerpt.
type Series struct {
	// Name is what the series is for, such as "memory_working_set".
	Name string `json:"name"`
	// Query is the expression that returned it.
	Query  string            `json:"query"`
	Labels map[string]string `json:"labels,omitempty"`
	// Unit is one of the Unit constants, or "" for a plain number.
	Unit string `json:"unit,omitempty"`
	// Limit is the configured limit of what the series measures (the
	// container's memory limit, ...), when known.
	Limit *float64 `json:"limit,omitempty"`
	// Points are [unix seconds, value] pairs, oldest first.
	Points [][2]float64 `json:"points"`
}

// LogGroup is a set of log lines folded into one template: the variable
// parts (numbers, IDs, addresses) replaced with <*>.
type LogGroup struct {
	Template string `json:"template"`
	Count    int    `json:"count"`
	// Example is one of the lines as written.
	Example string    `json:"example"`
	Pod     string    `json:"pod,omitempty"`
	First   time.Time `json:"first,omitzero"`
	Last    time.Time `json:"last,omitzero"`
	// Previous marks lines of a previous (crashed) container.
	Previous bool `json:"previous,omitempty"`
}

// Timeline entry kinds.
const (
	TimelineAlert   = "alert"
	TimelineEvent   = "event"
	TimelineRestart = "restart"
	TimelineRollout = "rollout"
)

// TimelineEntry is one dated thing that happened around the alert.
type TimelineEntry struct {
	Time time.Time `json:"time"`
	// Kind is one of the Timeline constants.
	Kind   string `json:"kind"`
	Object Ref    `json:"object,omitzero"`
	Text   string `json:"text"`
	// Warning marks entries that signal trouble (a Warning event, a
	// restart, a firing alert).
	Warning bool `json:"warning,omitempty"`
}
