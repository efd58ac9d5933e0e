package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badKey, []byte("listen: 127.0.0.1:0\nauth:\n  webhok_token: x\n"), 0o600)
	f := func(args []string, wantCode int, wantOut string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != wantCode || !strings.Contains(out, wantOut) {
			t.Errorf("sleuth %v = %d %q, want %d containing %q", args, code, out, wantCode, wantOut)
		}
	}
	f(nil, 2, "Usage:")
	f([]string{"version"}, 0, "sleuth ")
	f([]string{"frobnicate"}, 2, `unknown command "frobnicate"`)
	f([]string{"serve", "--nope"}, 2, "flag provided but not defined: -nope")
	f([]string{"serve", "extra"}, 2, "unexpected arguments")
	f([]string{"serve", "--config", badKey}, 1, `bad.yaml:3: unknown key "auth.webhok_token"`)
	f([]string{"serve", "--config", filepath.Join(dir, "missing.yaml")}, 1, "read config")
	// Listening on every interface without credentials is refused ...
	f([]string{"serve", "--listen", "0.0.0.0:0", "--store", "sqlite://" + filepath.Join(dir, "a.db")}, 1, "auth.webhook_token")
	f([]string{"serve", "--listen", "0.0.0.0:0", "--workers", "0"}, 1, "queue.workers")
	f([]string{"serve", "--log-format", "xml"}, 1, "log.format")
	f([]string{"serve", "--store", "postgres://u:secret@db/sleuth", "--listen", "127.0.0.1:0"}, 1, "postgres://***@db/sleuth")
}

func TestServeStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	// Cancel (as SIGTERM would) once the server says it listens.
	stderr := &watchWriter{want: "sleuth listening", fn: cancel}
	store := "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	if code := run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--store", store, "--log-format", "json"}, &stdout, stderr); code != 0 {
		t.Fatalf("serve = %d: %s", code, stderr.String())
	}
	for _, want := range []string{`"msg":"sleuth listening"`, `"msg":"stopped"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr.String())
		}
	}
}

func TestUnknownEnv(t *testing.T) {
	got := unknownEnv([]string{"SLEUTH_LLM_URL=http://x", "SLEUTH_LLM_ULR=http://x", "HOME=/root"})
	if len(got) != 1 || got[0] != "SLEUTH_LLM_ULR" {
		t.Fatalf("unknownEnv = %v, want [SLEUTH_LLM_ULR]", got)
	}
}

// watchWriter calls fn once when the text written so far contains want.
type watchWriter struct {
	bytes.Buffer
	want string
	fn   func()
	done bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if !w.done && strings.Contains(w.String(), w.want) {
		w.done = true
		w.fn()
	}
	return n, err
}
