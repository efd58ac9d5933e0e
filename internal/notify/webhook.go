package notify

import (
	"context"
	"net/http"
)

// Webhook posts sleuth's own JSON (WebhookPayload) to any URL.
type Webhook struct {
	URL string
	// Token, when set, is sent as Authorization: Bearer.
	Token  string
	Client *http.Client
}

// WebhookVersion is the version of WebhookPayload; it changes only when a
// field changes meaning or goes away.
const WebhookVersion = "1"

// WebhookPayload is the generic webhook's body.
type WebhookPayload struct {
	Version string `json:"version"`
	// Thread is what this sink was answered for the incident's first
	// message (an X-Sleuth-Thread header), so a receiver can correlate.
	Thread string `json:"thread,omitempty"`
	Event
}

// Name implements Sink.
func (w *Webhook) Name() string { return "webhook" }

// Send implements Sink. A receiver may answer with an X-Sleuth-Thread
// header; it comes back in the resolution's thread field.
func (w *Webhook) Send(ctx context.Context, e Event, thread string) (string, bool, error) {
	c := w.Client
	if c == nil {
		c = http.DefaultClient
	}
	var hdr http.Header
	if w.Token != "" {
		hdr = http.Header{"Authorization": {"Bearer " + w.Token}}
	}
	status, body, rh, err := post(ctx, c, http.MethodPost, w.URL, hdr, WebhookPayload{Version: WebhookVersion, Thread: thread, Event: e})
	if err != nil {
		return "", true, sendError("webhook", w.URL, err)
	}
	if status/100 != 2 {
		err := error(&httpStatusError{sink: "webhook", status: status, body: shortBody(body)})
		if d := retryAfter(rh); d > 0 {
			err = &retryAfterError{after: d, err: err}
		}
		return "", retryable(status), err
	}
	return rh.Get("X-Sleuth-Thread"), false, nil
}
