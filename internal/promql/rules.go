package promql

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Rules is the bounded list of rule groups.
type Rules struct {
	Groups []RuleGroup
	// Truncated says rules, or alerts of a rule, were left out.
	Truncated bool
	Warnings  []string
}

// RuleGroup is one group of rules evaluated together.
type RuleGroup struct {
	Name     string
	File     string
	Interval time.Duration
	Rules    []Rule
}

// Rule is an alerting or a recording rule and its last evaluation.
type Rule struct {
	Name string
	// Type is "alerting" or "recording".
	Type  string
	Query string
	// State is inactive, pending or firing for alerting rules.
	State          string
	Health         string
	LastError      string
	LastEvaluation time.Time
	// For is how long the condition must hold before the alert fires.
	For         time.Duration
	Labels      map[string]string
	Annotations map[string]string
	Alerts      []Alert
}

// Alerts is the bounded list of active alerts.
type Alerts struct {
	Alerts    []Alert
	Truncated bool
	Warnings  []string
}

// Alert is one pending or firing alert.
type Alert struct {
	Labels      map[string]string
	Annotations map[string]string
	State       string
	ActiveAt    time.Time
	Value       string
}

type apiGroup struct {
	Name     string    `json:"name"`
	File     string    `json:"file"`
	Interval float64   `json:"interval"`
	Rules    []apiRule `json:"rules"`
}

type apiRule struct {
	Name           string            `json:"name"`
	Type           string            `json:"type"`
	Query          string            `json:"query"`
	State          string            `json:"state"`
	Health         string            `json:"health"`
	LastError      string            `json:"lastError"`
	LastEvaluation time.Time         `json:"lastEvaluation"`
	Duration       float64           `json:"duration"`
	Labels         map[string]string `json:"labels"`
	Annotations    map[string]string `json:"annotations"`
	Alerts         []apiAlert        `json:"alerts"`
}

type apiAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// alertsPerRule bounds the alerts kept under each rule: enough to name
// the firing instances; Alerts lists all of them.
const alertsPerRule = 10

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func (a apiAlert) alert() Alert {
	return Alert{Labels: a.Labels, Annotations: a.Annotations, State: a.State, ActiveAt: a.ActiveAt, Value: a.Value}
}

// fill keeps at most maxRules rules over all groups.
func (r *Rules) fill(groups []apiGroup, maxRules int) {
	total, kept, alertsCut := 0, 0, 0
	for _, g := range groups {
		rg := RuleGroup{Name: g.Name, File: g.File, Interval: seconds(g.Interval)}
		for _, ar := range g.Rules {
			total++
			if kept >= maxRules {
				continue
			}
			kept++
			rule := Rule{
				Name: ar.Name, Type: ar.Type, Query: ar.Query, State: ar.State, Health: ar.Health,
				LastError: ar.LastError, LastEvaluation: ar.LastEvaluation, For: seconds(ar.Duration),
				Labels: ar.Labels, Annotations: ar.Annotations,
			}
			for i, a := range ar.Alerts {
				if i == alertsPerRule {
					alertsCut++
					break
				}
				rule.Alerts = append(rule.Alerts, a.alert())
			}
			rg.Rules = append(rg.Rules, rule)
		}
		if len(rg.Rules) > 0 {
			r.Groups = append(r.Groups, rg)
		}
	}
	if total > kept {
		r.Truncated = true
		r.Warnings = append(r.Warnings, fmt.Sprintf("showing %d of %d rules", kept, total))
	}
	if alertsCut > 0 {
		r.Truncated = true
		r.Warnings = append(r.Warnings, fmt.Sprintf(
			"showing %d alerts per rule for %d rules with more; list them with alerts", alertsPerRule, alertsCut))
	}
}

// Text renders one line per group and one per rule under it.
func (r *Rules) Text() string {
	var b strings.Builder
	if len(r.Groups) == 0 {
		b.WriteString("no rules\n")
	}
	for _, g := range r.Groups {
		fmt.Fprintf(&b, "group %s", g.Name)
		if g.File != "" {
			fmt.Fprintf(&b, " (%s)", g.File)
		}
		if g.Interval > 0 {
			fmt.Fprintf(&b, " every %s", shortDuration(g.Interval))
		}
		b.WriteString(":\n")
		for _, rule := range g.Rules {
			fmt.Fprintf(&b, "  %s %s", rule.Type, rule.Name)
			var tags []string
			if rule.State != "" {
				tags = append(tags, rule.State)
			}
			if n := len(rule.Alerts); n > 0 {
				tags = append(tags, fmt.Sprintf("%d alerts", n))
			}
			if rule.Health != "" && rule.Health != "ok" {
				tags = append(tags, "health "+rule.Health)
			}
			if rule.LastError != "" {
				tags = append(tags, "error: "+rule.LastError)
			}
			if len(tags) > 0 {
				b.WriteString(" [" + strings.Join(tags, ", ") + "]")
			}
			b.WriteString(": " + rule.Query)
			if rule.For > 0 {
				b.WriteString(" for " + shortDuration(rule.For))
			}
			b.WriteByte('\n')
		}
	}
	writeNotes(&b, r.Warnings)
	return b.String()
}

func (a *Alerts) fill(alerts []apiAlert, maxAlerts int) {
	// Firing before pending, then the longest active first: the order a
	// person triages in.
	sort.SliceStable(alerts, func(i, j int) bool {
		if (alerts[i].State == "firing") != (alerts[j].State == "firing") {
			return alerts[i].State == "firing"
		}
		return alerts[i].ActiveAt.Before(alerts[j].ActiveAt)
	})
	for i, al := range alerts {
		if i == maxAlerts {
			a.Truncated = true
			a.Warnings = append(a.Warnings, fmt.Sprintf("showing %d of %d alerts", maxAlerts, len(alerts)))
			break
		}
		a.Alerts = append(a.Alerts, al.alert())
	}
}

// Text renders one line per alert: state, labels, since when, value and
// summary.
func (a *Alerts) Text() string {
	var b strings.Builder
	if len(a.Alerts) == 0 {
		b.WriteString("no alerts\n")
	}
	for _, al := range a.Alerts {
		fmt.Fprintf(&b, "%s %s", al.State, alertLabels(al.Labels))
		if !al.ActiveAt.IsZero() {
			b.WriteString(" since " + al.ActiveAt.UTC().Format(time.RFC3339))
		}
		if al.Value != "" {
			b.WriteString(" value=" + al.Value)
		}
		if s := al.Annotations["summary"]; s != "" {
			b.WriteString(" summary: " + s)
		}
		b.WriteByte('\n')
	}
	writeNotes(&b, a.Warnings)
	return b.String()
}

// alertLabels renders labels with the alert's name in front, as
// Alertmanager shows them.
func alertLabels(labels map[string]string) string {
	l := make(map[string]string, len(labels))
	for k, v := range labels {
		l[k] = v
	}
	if name, ok := l["alertname"]; ok {
		l["__name__"] = name
		delete(l, "alertname")
	}
	return LabelsString(l)
}
