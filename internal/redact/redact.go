// Package redact provides the removal of secrets from text before it
// leaves sleuth for a model or a chat: private keys, bearer and basic
// credentials, Authorization headers, passwords, tokens and API keys in
// key=value, YAML and JSON forms, passwords in connection strings, JSON
// Web Tokens, well-known token formats, and the values of Kubernetes
// Secret objects. It errs on the side of hiding: a redacted value that was
// harmless costs a little context, a leaked one costs a credential.
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces every redacted value.
const Mask = "[REDACTED]"

// secretKey matches names of fields that hold secrets.
const secretKey = `(?:[A-Za-z0-9_.\-]*(?:password|passwd|passphrase|pwd|secret|token|api[_\-.]?key|apikey|access[_\-.]?key|private[_\-.]?key|client[_\-.]?secret|credentials?|auth[_\-.]?key|session[_\-.]?key|signing[_\-.]?key|encryption[_\-.]?key|sas[_\-.]?key|dsn)[A-Za-z0-9_.\-]*)`

// A rule applies only to texts containing one of its words (lower case):
// most texts contain none, and a substring search is much cheaper than
// the regular expression.
var rules = []struct {
	words []string
	re    *regexp.Regexp
	repl  string
}{
	// PEM blocks of private keys (RSA, EC, OPENSSH, ENCRYPTED, PGP ...),
	// whole, and a dangling BEGIN without its END.
	{[]string{"private key"}, regexp.MustCompile(`(?s)-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)`), "-----BEGIN $1----- " + Mask + " -----END $1-----"},
	// Authorization and similar headers, any scheme.
	{[]string{"authorization", "api-key", "auth-token", "cookie"}, regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie)(\s*[:=]\s*"?)(?:(bearer|basic|token|digest|negotiate|apikey)\s+)?[^\s",}]+`), "${1}${2}${3} " + Mask},
	// Bearer and basic credentials anywhere else.
	{[]string{"bearer", "basic"}, regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*`), "$1 " + Mask},
	// Passwords in URLs and connection strings: scheme://user:pass@host.
	{[]string{"://"}, regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@"'<>]*):[^\s@/"'<>]+@`), "$1:" + Mask + "@"},
	// JSON Web Tokens.
	{[]string{"eyj"}, regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*`), Mask},
	// Well-known token formats: AWS access keys, GitHub, GitLab, Slack,
	// OpenAI-style and Google API keys.
	{[]string{"akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "xox", "sk-", "aiza"}, regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bglpat-[A-Za-z0-9_\-]{20,}\b|\bxox[abposr]-[A-Za-z0-9\-]{10,}\b|\bsk-[A-Za-z0-9_\-]{20,}\b|\bAIza[0-9A-Za-z_\-]{35}\b`), Mask},
	// JSON: "password": "value" (a string value; numbers are rare secrets).
	{secretWords, regexp.MustCompile(`(?i)("` + secretKey + `"\s*:\s*)"(?:[^"\\]|\\.)*"`), `$1"` + Mask + `"`},
	// --password value style flags.
	{secretWords, regexp.MustCompile(`(?i)(\s--?` + secretKey + `[ \t]+)[^\s\-<][^\s]*`), "${1}" + Mask},
}

// keyValue matches key=value and key: value (env listings, YAML, logs,
// command lines); the value runs to the end of the token, quoted values
// whole.
var keyValue = regexp.MustCompile(`(?i)\b(` + secretKey + `)(\s*(?:=|:)[ \t]*)("[^"\n]*"|'[^'\n]*'|[^\s,;&"'}{\]\[]+)`)

// secretWords are the words of secretKey.
var secretWords = []string{"pass", "pwd", "secret", "token", "key", "credential", "dsn"}

// String returns s with secrets replaced by Mask.
func String(s string) string {
	if s == "" {
		return s
	}
	s = secretObjects(s)
	lower := strings.ToLower(s)
	has := func(words []string) bool {
		for _, w := range words {
			if strings.Contains(lower, w) {
				return true
			}
		}
		return false
	}
	for _, r := range rules {
		if has(r.words) {
			s = r.re.ReplaceAllString(s, r.repl)
		}
	}
	if !has(secretWords) {
		return s
	}
	return keyValue.ReplaceAllStringFunc(s, func(m string) string {
		sm := keyValue.FindStringSubmatch(m)
		key, sep, val := strings.ToLower(sm[1]), sm[2], sm[3]
		if keepValue(key, val) {
			return m
		}
		return sm[1] + sep + Mask
	})
}

// keepValue tells values that name or count secrets from secrets: a
// reference to a Secret (secretName: db-creds, <Secret db key password>),
// a file path, a token count, an already masked value.
func keepValue(key, val string) bool {
	v := strings.Trim(val, `"'`)
	switch {
	case v == "" || v == Mask || strings.HasPrefix(v, "<") || strings.HasPrefix(v, "[REDACTED"),
		strings.HasPrefix(v, "$(") || strings.HasPrefix(v, "${"), // a reference to another variable
		strings.HasSuffix(key, "name") || strings.HasSuffix(key, "ref") || strings.HasSuffix(key, "refs"),
		strings.HasSuffix(key, "file") || strings.HasSuffix(key, "path") || strings.HasSuffix(key, "_id"),
		strings.HasSuffix(key, "tokens") || strings.HasSuffix(key, "secrets"):
		return true
	}
	return false
}

var (
	yamlSecretKind = regexp.MustCompile(`(?m)^\s*kind:\s*["']?Secret["']?\s*$`)
	jsonSecretKind = regexp.MustCompile(`"kind"\s*:\s*"Secret"`)
	jsonDataBlock  = regexp.MustCompile(`("(?:data|stringData)"\s*:\s*)\{[^{}]*\}`)
)

// secretObjects hides the values under data and stringData of Secret
// objects rendered as YAML or JSON, keeping the key names (which are
// useful: "the secret has no key DB_URL").
func secretObjects(s string) string {
	if jsonSecretKind.MatchString(s) {
		s = jsonDataBlock.ReplaceAllStringFunc(s, func(m string) string {
			head := jsonDataBlock.FindStringSubmatch(m)[1]
			keys := regexp.MustCompile(`"([^"]+)"\s*:`).FindAllStringSubmatch(m[len(head):], -1)
			var b strings.Builder
			b.WriteString(head)
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`"` + k[1] + `":"` + Mask + `"`)
			}
			b.WriteByte('}')
			return b.String()
		})
	}
	if !yamlSecretKind.MatchString(s) {
		return s
	}
	lines := strings.Split(s, "\n")
	out := lines[:0]
	inData, dataIndent, keyIndent := false, 0, -1
	for _, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		indent := len(l) - len(trimmed)
		if inData && trimmed != "" {
			if indent > dataIndent {
				if keyIndent < 0 {
					keyIndent = indent
				}
				if indent == keyIndent {
					k, _, _ := strings.Cut(trimmed, ":")
					out = append(out, l[:indent]+k+": "+Mask)
				}
				// Deeper lines are a block value's text: dropped.
				continue
			}
			inData = false
		}
		if trimmed == "data:" || trimmed == "stringData:" {
			inData, dataIndent, keyIndent = true, indent, -1
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
