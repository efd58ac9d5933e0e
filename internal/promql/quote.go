package promql

import "strconv"

// QuoteLabelValue returns s as a double-quoted PromQL string literal,
// quotes included, for embedding an untrusted value in a label matcher:
//
//	q := `up{pod=` + promql.QuoteLabelValue(pod) + `}`
//
// Backslashes, double quotes, newlines and every non-printable byte are
// escaped the way Go escapes them, which is the escaping PromQL and
// MetricsQL both read back (each unquotes with Go's rules), so no value
// can end the literal early and change the query around it.
func QuoteLabelValue(s string) string {
	return strconv.Quote(s)
}
