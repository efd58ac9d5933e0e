package redact

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	f := func(in, secret string, keep ...string) {
		t.Helper()
		out := String(in)
		if strings.Contains(out, secret) {
			t.Errorf("String(%q) = %q still holds %q", in, out, secret)
		}
		for _, k := range keep {
			if !strings.Contains(out, k) {
				t.Errorf("String(%q) = %q lost %q", in, out, k)
			}
		}
	}
	f("DB_PASSWORD=hunter2", "hunter2", "DB_PASSWORD=")
	f(`password: "p@ss word"`, "p@ss word", "password:")
	f(`{"api_key": "abc123xyz", "user": "bob"}`, "abc123xyz", `"user": "bob"`)
	f("Authorization: Bearer abc.def.ghi123456", "abc.def.ghi123456", "Authorization")
	f("curl -H 'Authorization: Basic dXNlcjpwYXNz' http://x", "dXNlcjpwYXNz")
	f("postgres://app:s3cret@db:5432/shop", "s3cret", "postgres://app:", "@db:5432/shop")
	f("redis://:pw123@cache:6379", "pw123", "cache:6379")
	f("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXk", "PRIVATE KEY")
	f("token eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJrOHMifQ.sig_sig-sig", "eyJpc3MiOiJrOHMifQ")
	f("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE")
	f("run --password hunter2 --user bob", "hunter2", "--user bob")
	f("kind: Secret\ndata:\n  tls.key: LS0tLS1CRUdJTg==\n  ca.crt: |\n    Q0VSVElGSUNBVEU=\ntype: Opaque", "LS0tLS1CRUdJTg==", "tls.key:", "type: Opaque")
	f(`{"kind":"Secret","data":{"password":"c2VjcmV0"}}`, "c2VjcmV0", `"password"`)
	// References and counts are not secrets.
	for _, s := range []string{"DB_PASSWORD=<Secret db key password>", "secretName: db-creds", "prompt_tokens: 1234", "passwordFile: /etc/pw"} {
		if got := String(s); got != s {
			t.Errorf("String(%q) = %q, want it unchanged", s, got)
		}
	}
}
