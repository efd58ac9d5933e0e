package promql

import (
	"testing"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/google/go-cmp/cmp"
)

// hostileValues try to end the string literal early and add to the query.
var hostileValues = []string{
	`x"} or vector(1) or up{a="`,
	`x\"} or vector(1) or up{a=\"`,
	`\`,
	`\\"`,
	"a\nb",
	"a\r\n} or vector(1) #",
	`'single' and "double" and ` + "`back`",
	"\x00\x01\x7f",
	"\xff\xfe not UTF-8",
	"ünïcødé ✓ 🚀",
	"",
}

func TestQuoteLabelValueKeepsQueryStructure(t *testing.T) {
	for _, v := range hostileValues {
		q := `up{pod=` + QuoteLabelValue(v) + `}`
		expr, err := metricsql.Parse(q)
		if err != nil {
			t.Errorf("value %q: %s does not parse: %v", v, q, err)
			continue
		}
		me, ok := expr.(*metricsql.MetricExpr)
		if !ok {
			t.Errorf("value %q: %s parses as %T, want one selector", v, q, expr)
			continue
		}
		want := [][]metricsql.LabelFilter{{{Label: "__name__", Value: "up"}, {Label: "pod", Value: v}}}
		if diff := cmp.Diff(want, me.LabelFilterss); diff != "" {
			t.Errorf("value %q: %s matchers (-want +got):\n%s", v, q, diff)
		}
	}
}

func TestUnquotedValueWouldInject(t *testing.T) {
	// The check above means something: the same value pasted between
	// quotes without QuoteLabelValue does change the query.
	q := `up{pod="` + hostileValues[0] + `"}`
	expr, err := metricsql.Parse(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if _, ok := expr.(*metricsql.MetricExpr); ok {
		t.Fatalf("%s parsed as one selector; the hostile value is not hostile", q)
	}
}
