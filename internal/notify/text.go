package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// headline is a message's first line, without markup.
func headline(e Event) string {
	if e.Kind == Resolved {
		s := "Resolved: " + e.AlertName
		if e.Namespace != "" {
			s += " in " + e.Namespace
		}
		return s
	}
	var b strings.Builder
	if e.Severity != "" {
		b.WriteString("[" + e.Severity + "] ")
	}
	cat := e.Category
	if cat == "" {
		cat = "investigated"
	}
	b.WriteString(cat)
	switch {
	case e.Object != "":
		b.WriteString(": " + e.Object)
	case e.Workload != "":
		b.WriteString(": " + e.Namespace + "/" + e.Workload)
	}
	return b.String()
}

// alertLine says which alert the message is about.
func alertLine(e Event) string {
	s := e.AlertName
	if e.Namespace != "" {
		s += " in " + e.Namespace
	}
	if e.Workload != "" {
		s += " (" + e.Workload + ")"
	}
	return s
}

// truncate cuts s to at most max runes, marking the cut with an ellipsis.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 1 {
		return "…"
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// truncateEscaped cuts markup with &entities; without splitting one.
func truncateEscaped(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	t := []rune(s)[:max-1]
	if amp := lastIndexRune(t, '&'); amp >= 0 && lastIndexRune(t[amp:], ';') < 0 {
		t = t[:amp]
	}
	return string(t) + "…"
}

func lastIndexRune(rs []rune, c rune) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == c {
			return i
		}
	}
	return -1
}

// post sends a JSON body and returns the answer's status and start. A
// transport error is worth a retry.
func post(ctx context.Context, c *http.Client, method, url string, hdr http.Header, body any) (int, []byte, http.Header, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "sleuth")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	// Answers are short ("ok", a small JSON); 64 KiB is plenty and bounds
	// a misbehaving endpoint.
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, rb, resp.Header, err
}

// redactURL hides what follows the host of a URL that holds a secret
// (webhook paths and bot tokens are credentials), for error messages.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "(url)"
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host + "/…"
}

// sendError wraps a transport error without the URL, which may hold a
// secret (Go's url.Error prints it).
func sendError(sink, url string, err error) error {
	return fmt.Errorf("%s: request to %s failed: %w", sink, redactURL(url), unwrapURLError(err))
}

func unwrapURLError(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && strings.Contains(err.Error(), "://") {
		if inner := u.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func shortBody(b []byte) string {
	return truncate(strings.TrimSpace(string(b)), 200)
}
