package logfold

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestFoldRetryLoop(t *testing.T) {
	var lines []Line
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 500 {
		lines = append(lines, Line{Time: t0.Add(time.Duration(i) * time.Second),
			Text: fmt.Sprintf("ERROR dial tcp 10.0.%d.%d:5432: connect: connection refused (attempt %d, request_id=%08x)", i%3, i%250, i+1000, i*7919)})
	}
	lines = append(lines, Line{Time: t0, Text: "starting checkout v2.3.1"}, Line{Time: t0, Text: "panic: runtime error: invalid memory address"})
	groups := Fold(lines, Options{})
	if len(groups) != 3 {
		t.Fatalf("%d groups, want 3: %+v", len(groups), groups)
	}
	g := groups[0]
	if g.Count != 500 || g.Template != "ERROR dial tcp <*> connect: connection refused (attempt <*> request_id=<*>" {
		t.Errorf("group = %d %q", g.Count, g.Template)
	}
	if !g.First.Equal(t0) || !g.Last.Equal(t0.Add(499*time.Second)) {
		t.Errorf("span %v - %v", g.First, g.Last)
	}
	out := Render(groups, 0, 0)
	if !strings.Contains(out, "502 lines folded into 3 templates") || !strings.Contains(out, "500x 12:00:00-12:08:19") || !strings.Contains(out, "panic: runtime error") {
		t.Errorf("render:\n%s", out)
	}
}

// Lines about the pod under investigation never fold together with lines
// about other pods, and its name is never masked.
func TestFoldKeepsThePodUnderInvestigation(t *testing.T) {
	var lines []Line
	for i := range 20 {
		lines = append(lines, Line{Text: fmt.Sprintf("shop/checkout-7d4b9c-9xk2p OOM score %d", i)})
		lines = append(lines, Line{Text: fmt.Sprintf("shop/checkout-7d4b9c-a1b2c OOM score %d", i)})
	}
	groups := Fold(lines, Options{Keep: []string{"checkout-7d4b9c-9xk2p", "shop"}})
	var kept *Group
	for i := range groups {
		if strings.Contains(groups[i].Template, "checkout-7d4b9c-9xk2p") {
			kept = &groups[i]
		}
	}
	if kept == nil || kept.Count != 20 {
		t.Fatalf("the pod's lines are not a group of their own: %+v", groups)
	}
	// Without Keep, the two pods fold into one template.
	if g := Fold(lines, Options{}); len(g) != 1 {
		t.Errorf("without keep: %d groups, want 1 (the feature is what separates them)", len(g))
	}
}

func TestRenderBound(t *testing.T) {
	var lines []Line
	for i := range 300 {
		// 60 lengths: 60 templates that cannot fold together.
		lines = append(lines, Line{Text: "event" + strings.Repeat(" word", i%60)})
	}
	groups := Fold(lines, Options{})
	if len(groups) != 60 {
		t.Fatalf("%d groups, want 60", len(groups))
	}
	out := Render(groups, 2000, 0)
	if len(out) > 2000 || !strings.Contains(out, "more templates") {
		t.Errorf("%d bytes:\n%s", len(out), out)
	}
}
