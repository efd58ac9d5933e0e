package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// telegramTextMax is sendMessage's limit on a message's text: 4096
// characters after entity parsing; counting the markup too stays under it.
const telegramTextMax = 4096

// Telegram sends through the Bot API's sendMessage, with HTML formatting.
// The message ID it returns threads the resolution as a reply
// (reply_to_message_id).
type Telegram struct {
	BotToken string
	ChatID   string
	// APIURL is the Bot API base, https://api.telegram.org.
	APIURL string
	Client *http.Client
}

// Name implements Sink.
func (t *Telegram) Name() string { return "telegram" }

// TelegramMessage is the sendMessage request.
type TelegramMessage struct {
	ChatID                   string `json:"chat_id"`
	Text                     string `json:"text"`
	ParseMode                string `json:"parse_mode"`
	DisableWebPagePreview    bool   `json:"disable_web_page_preview"`
	ReplyToMessageID         int64  `json:"reply_to_message_id,omitempty"`
	AllowSendingWithoutReply bool   `json:"allow_sending_without_reply,omitempty"`
}

// BuildTelegram renders the event as sendMessage HTML within the limit.
// Only <b>, <code> and <a> are used, with &, < and > escaped everywhere
// else: Telegram rejects the whole message on a stray tag.
func BuildTelegram(e Event) string {
	esc := html.EscapeString
	var b strings.Builder
	b.WriteString("<b>" + esc(headline(e)) + "</b>\n")
	if e.Kind == Resolved {
		fmt.Fprintf(&b, "All alerts of incident %d (%s) resolved.\n", e.IncidentID, esc(alertLine(e)))
	} else {
		b.WriteString("Root cause: <code>" + esc(e.Category) + "</code>")
		if e.Object != "" {
			b.WriteString(" on <code>" + esc(e.Object) + "</code>")
		}
		if e.Confidence > 0 {
			fmt.Fprintf(&b, " (confidence %.0f%%)", e.Confidence*100)
		}
		b.WriteString("\nAlert: " + esc(alertLine(e)) + "\n")
	}
	// The link goes first into the budget so that a long summary cannot
	// push it out of the message.
	var link string
	if e.URL != "" {
		link = "\n<a href=\"" + esc(e.URL) + "\">Open in sleuth</a>"
	}
	var rest strings.Builder
	if e.Summary != "" && e.Kind != Resolved {
		rest.WriteString("\n" + esc(e.Summary) + "\n")
	}
	if e.Remediation != "" && e.Kind != Resolved {
		rest.WriteString("\n<b>First step:</b> " + esc(e.Remediation) + "\n")
	}
	room := telegramTextMax - len([]rune(b.String())) - len([]rune(link))
	if room > 0 {
		b.WriteString(truncateEscaped(rest.String(), room))
	}
	return truncateEscaped(b.String(), telegramTextMax-len([]rune(link))) + link
}

// Send implements Sink.
func (t *Telegram) Send(ctx context.Context, e Event, thread string) (string, bool, error) {
	msg := TelegramMessage{ChatID: t.ChatID, Text: BuildTelegram(e), ParseMode: "HTML", DisableWebPagePreview: true}
	if thread != "" {
		if id, err := strconv.ParseInt(thread, 10, 64); err == nil {
			msg.ReplyToMessageID, msg.AllowSendingWithoutReply = id, true
		}
	}
	c := t.Client
	if c == nil {
		c = http.DefaultClient
	}
	url := strings.TrimRight(t.APIURL, "/") + "/bot" + t.BotToken + "/sendMessage"
	status, body, _, err := post(ctx, c, http.MethodPost, url, nil, msg)
	if err != nil {
		return "", true, sendError("telegram", url, err)
	}
	var ans struct {
		OK          bool   `json:"ok"`
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
		Result struct {
			MessageID int64 `json:"message_id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return "", retryable(status), fmt.Errorf("telegram sendMessage: HTTP %d, unreadable answer %q", status, shortBody(body))
	}
	if !ans.OK {
		err := fmt.Errorf("telegram sendMessage: %d %s", ans.ErrorCode, ans.Description)
		if ans.Parameters.RetryAfter > 0 {
			return "", true, &retryAfterError{after: time.Duration(ans.Parameters.RetryAfter) * time.Second, err: err}
		}
		return "", retryable(status), err
	}
	return strconv.FormatInt(ans.Result.MessageID, 10), false, nil
}
