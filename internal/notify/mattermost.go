package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// mattermostTextMax keeps a post well under Mattermost's 16,383-character
// limit, and readable.
const mattermostTextMax = 4000

// Mattermost posts Markdown to an incoming webhook. Webhooks return no
// post ID, so the resolution is a follow-up post.
type Mattermost struct {
	WebhookURL string
	// Channel overrides the webhook's channel when set.
	Channel string
	Client  *http.Client
}

// Name implements Sink.
func (m *Mattermost) Name() string { return "mattermost" }

// MattermostMessage is the incoming webhook's body.
type MattermostMessage struct {
	Text     string `json:"text"`
	Channel  string `json:"channel,omitempty"`
	Username string `json:"username,omitempty"`
}

// mdEscape backslash-escapes Markdown syntax in untrusted text, so that
// an alert label cannot add links, mentions or formatting.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]()#+-.!|<>~@", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// BuildMattermost renders the event as Markdown within the limit.
func BuildMattermost(e Event) string {
	var b strings.Builder
	b.WriteString("#### " + mdEscape(headline(e)) + "\n")
	if e.Kind == Resolved {
		fmt.Fprintf(&b, "All alerts of incident %d (%s) resolved.\n", e.IncidentID, mdEscape(alertLine(e)))
	} else {
		b.WriteString("**Root cause:** " + mdEscape(e.Category))
		if e.Object != "" {
			b.WriteString(" on " + mdEscape(e.Object))
		}
		if e.Confidence > 0 {
			fmt.Fprintf(&b, " (confidence %.0f%%)", e.Confidence*100)
		}
		b.WriteString("  \n**Alert:** " + mdEscape(alertLine(e)) + "\n")
		if e.Summary != "" {
			b.WriteString("\n" + mdEscape(e.Summary) + "\n")
		}
		if e.Remediation != "" {
			b.WriteString("\n**First step:** " + mdEscape(e.Remediation) + "\n")
		}
	}
	link := ""
	if e.URL != "" {
		link = "\n[Open in sleuth](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(e.URL) + ")"
	}
	return truncate(b.String(), mattermostTextMax-len([]rune(link))) + link
}

// Send implements Sink.
func (m *Mattermost) Send(ctx context.Context, e Event, _ string) (string, bool, error) {
	c := m.Client
	if c == nil {
		c = http.DefaultClient
	}
	msg := MattermostMessage{Text: BuildMattermost(e), Channel: m.Channel, Username: "sleuth"}
	status, body, hdr, err := post(ctx, c, http.MethodPost, m.WebhookURL, nil, msg)
	if err != nil {
		return "", true, sendError("mattermost", m.WebhookURL, err)
	}
	if status/100 != 2 {
		err := error(&httpStatusError{sink: "mattermost webhook", status: status, body: shortBody(body)})
		if d := retryAfter(hdr); d > 0 {
			err = &retryAfterError{after: d, err: err}
		}
		return "", retryable(status), err
	}
	return "", false, nil
}
