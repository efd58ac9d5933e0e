package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Slack's documented limits (api.slack.com/reference/block-kit/blocks):
// a header's plain text at most 150 characters, a section's text at most
// 3000, at most 50 blocks per message, a button URL at most 3000; the
// top-level text is truncated by Slack after 40,000 and should stay
// under 4,000.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackBlocksMax  = 50
	slackTextMax    = 4000
	slackURLMax     = 3000
)

// Slack posts Block Kit messages. With a bot token it uses
// chat.postMessage, which returns the message's ts, so the resolution is
// posted as a reply in the same thread; an incoming webhook returns no ts,
// so there the resolution is a follow-up message in the channel.
type Slack struct {
	// WebhookURL is an incoming webhook; used when BotToken is empty.
	WebhookURL string
	// BotToken (xoxb-...) and Channel (an ID) select chat.postMessage.
	BotToken string
	Channel  string
	// APIURL is the Web API base, https://slack.com/api.
	APIURL string
	Client *http.Client
}

// Name implements Sink.
func (s *Slack) Name() string { return "slack" }

// slackEscape escapes the three characters Slack's mrkdwn reserves for
// links and mentions, so that alert labels cannot ping @channel or forge a
// link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackCode renders untrusted text as inline code; a backtick would end
// the span early.
func slackCode(s string) string {
	return "`" + strings.ReplaceAll(slackEscape(s), "`", "'") + "`"
}

// SlackMessage is the JSON of a Slack message, for webhooks and
// chat.postMessage alike.
type SlackMessage struct {
	Channel  string       `json:"channel,omitempty"`
	Text     string       `json:"text"`
	Blocks   []SlackBlock `json:"blocks,omitempty"`
	ThreadTS string       `json:"thread_ts,omitempty"`
	// UnfurlLinks off: a link preview of the UI would only show the login.
	UnfurlLinks bool `json:"unfurl_links"`
}

// SlackBlock is one Block Kit block.
type SlackBlock struct {
	Type     string         `json:"type"`
	Text     *SlackText     `json:"text,omitempty"`
	Fields   []SlackText    `json:"fields,omitempty"`
	Elements []SlackElement `json:"elements,omitempty"`
}

// SlackText is a text object.
type SlackText struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// SlackElement is a context element or a button.
type SlackElement struct {
	Type     string         `json:"type"`
	Text     any            `json:"text,omitempty"`
	URL      string         `json:"url,omitempty"`
	Style    string         `json:"style,omitempty"`
	ActionID string         `json:"action_id,omitempty"`
	Elements []SlackElement `json:"elements,omitempty"`
}

// BuildSlack renders the event as a Block Kit message within Slack's limits.
func BuildSlack(e Event) SlackMessage {
	head := truncate(headline(e), slackHeaderMax)
	var blocks []SlackBlock
	section := func(md string) {
		if md = strings.TrimSpace(md); md != "" {
			blocks = append(blocks, SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: truncateEscaped(md, slackSectionMax)}})
		}
	}
	blocks = append(blocks, SlackBlock{Type: "header", Text: &SlackText{Type: "plain_text", Text: head}})
	var text strings.Builder
	text.WriteString(head)
	if e.Kind == Resolved {
		section("All alerts of incident " + strconv.FormatInt(e.IncidentID, 10) + " (" + slackEscape(alertLine(e)) + ") resolved.")
		text.WriteString(": all alerts resolved")
	} else {
		var rc strings.Builder
		rc.WriteString("*Root cause:* " + slackCode(e.Category))
		if e.Object != "" {
			rc.WriteString(" on " + slackCode(e.Object))
		}
		if e.Confidence > 0 {
			fmt.Fprintf(&rc, " (confidence %.0f%%)", e.Confidence*100)
		}
		rc.WriteString("\n*Alert:* " + slackEscape(alertLine(e)))
		section(rc.String())
		if e.Summary != "" {
			section(slackEscape(e.Summary))
			text.WriteString("\n" + e.Summary)
		}
		if e.Remediation != "" {
			section("*First step:* " + slackEscape(e.Remediation))
			text.WriteString("\nFirst step: " + e.Remediation)
		}
	}
	var buttons []SlackElement
	if e.URL != "" && len(e.URL) <= slackURLMax {
		label := "Open investigation"
		if e.Kind == Resolved {
			label = "Open in sleuth"
		}
		buttons = append(buttons, SlackElement{Type: "button", Text: SlackText{Type: "plain_text", Text: label}, URL: e.URL, ActionID: "sleuth-open"})
	}
	if e.GeneratorURL != "" && len(e.GeneratorURL) <= slackURLMax && strings.HasPrefix(e.GeneratorURL, "http") {
		buttons = append(buttons, SlackElement{Type: "button", Text: SlackText{Type: "plain_text", Text: "Alert source"}, URL: e.GeneratorURL, ActionID: "sleuth-source"})
	}
	if len(buttons) > 0 {
		blocks = append(blocks, SlackBlock{Type: "actions", Elements: buttons})
	}
	if len(blocks) > slackBlocksMax {
		blocks = blocks[:slackBlocksMax]
	}
	return SlackMessage{Text: truncate(text.String(), slackTextMax), Blocks: blocks}
}

// Send implements Sink.
func (s *Slack) Send(ctx context.Context, e Event, thread string) (string, bool, error) {
	msg := BuildSlack(e)
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	if s.BotToken == "" {
		status, body, hdr, err := post(ctx, c, http.MethodPost, s.WebhookURL, nil, msg)
		if err != nil {
			return "", true, sendError("slack", s.WebhookURL, err)
		}
		if status/100 != 2 {
			err := error(&httpStatusError{sink: "slack webhook", status: status, body: shortBody(body)})
			if d := retryAfter(hdr); d > 0 {
				err = &retryAfterError{after: d, err: err}
			}
			return "", retryable(status), err
		}
		return "", false, nil
	}
	msg.Channel, msg.ThreadTS = s.Channel, thread
	url := strings.TrimRight(s.APIURL, "/") + "/chat.postMessage"
	hdr := http.Header{"Authorization": {"Bearer " + s.BotToken}}
	status, body, rh, err := post(ctx, c, http.MethodPost, url, hdr, msg)
	if err != nil {
		return "", true, sendError("slack", url, err)
	}
	if status == http.StatusTooManyRequests || status >= 500 {
		err := error(&httpStatusError{sink: "slack chat.postMessage", status: status, body: shortBody(body)})
		if d := retryAfter(rh); d > 0 {
			err = &retryAfterError{after: d, err: err}
		}
		return "", true, err
	}
	// The Web API answers 200 with {"ok": false, "error": "..."} on errors.
	var ans struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		TS    string `json:"ts"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return "", status >= 500, fmt.Errorf("slack chat.postMessage: HTTP %d, unreadable answer %q", status, shortBody(body))
	}
	if !ans.OK {
		switch ans.Error {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return "", true, errors.New("slack chat.postMessage: " + ans.Error)
		}
		return "", false, errors.New("slack chat.postMessage: " + ans.Error)
	}
	return ans.TS, false, nil
}
