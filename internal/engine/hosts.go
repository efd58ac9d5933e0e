package engine

import (
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// failureLine matches log lines that report a failed call to something.
var failureLine = regexp.MustCompile(`(?i)(refused|timed? ?out|no such host|unreachable|connection reset|broken pipe|eof|unavailable|could not connect|couldn't connect|failed to connect|cannot connect|can't connect|dial tcp|dial udp|econnrefused|etimedout|enotfound|upstream|503|502|504|too many connections|authentication failed)`)

// certFailure matches log lines that reject a peer's certificate; they
// rarely name the peer, so the configured peers are the suspects.
var certFailure = regexp.MustCompile(`(?i)((certificate|x509|ssl|tls).*(expired|not yet valid|unknown authority|verify failed|validity)|pkix|certificateexpired)`)

// hostPatterns find the peer a failing line names: Go's net errors, URLs,
// cluster DNS names, "host=" pairs, and "connect to X".
var hostPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)dial (?:tcp|udp)4?6?:? (?:lookup )?([a-z0-9][a-z0-9.-]*[a-z0-9])(?::(\d+))?`),
	regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://(?:[^@/\s]+@)?([a-z0-9][a-z0-9.-]*[a-z0-9])(?::(\d+))?`),
	regexp.MustCompile(`(?i)\b([a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9-]*\.svc(?:\.cluster\.local)?)(?::(\d+))?`),
	regexp.MustCompile(`(?i)\b(?:host|hostname|server|addr|address|upstream)=\s*"?([a-z0-9][a-z0-9.-]*[a-z0-9])(?::(\d+))?`),
	regexp.MustCompile(`(?i)\bhost\s+"([a-z0-9][a-z0-9.-]*[a-z0-9])"`),
	regexp.MustCompile(`(?i)(?:connect(?:ing|ion)?(?: error)? to|reach|resolve)\s+(?:host\s+)?"?([a-z0-9][a-z0-9.-]*[a-z0-9])"?(?::(\d+))?`),
	regexp.MustCompile(`(?i)\b(\d{1,3}(?:\.\d{1,3}){3}):(\d+)`),
}

// hostHit is a peer named by failing log lines.
type hostHit struct {
	Host  string // as written: a name, an FQDN or an IP
	Port  string
	Lines []string
}

// hostsInLogs returns the peers that failing log lines name, most
// mentioned first, with up to three sample lines each.
func hostsInLogs(lines []string) []hostHit {
	hits := map[string]*hostHit{}
	count := map[string]int{}
	for _, l := range lines {
		if !failureLine.MatchString(l) {
			continue
		}
		seen := map[string]bool{}
		for _, re := range hostPatterns {
			for _, m := range re.FindAllStringSubmatch(l, -1) {
				host := strings.ToLower(strings.TrimSuffix(m[1], "."))
				// Port 53 is the resolver in "lookup X on 10.96.0.10:53".
				if ignorableHost(host) || seen[host] || (len(m) > 2 && m[2] == "53") {
					continue
				}
				seen[host] = true
				h := hits[host]
				if h == nil {
					h = &hostHit{Host: host}
					hits[host] = h
				}
				if h.Port == "" && len(m) > 2 {
					h.Port = m[2]
				}
				count[host]++
				if len(h.Lines) < 3 && !slices.Contains(h.Lines, l) {
					h.Lines = append(h.Lines, truncate(l, 300))
				}
			}
		}
	}
	out := make([]hostHit, 0, len(hits))
	for _, h := range hits {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		if count[out[i].Host] != count[out[j].Host] {
			return count[out[i].Host] > count[out[j].Host]
		}
		return out[i].Host < out[j].Host
	})
	return out
}

// ignorableHost filters names that are not peers: DNS servers in "lookup X
// on 10.96.0.10:53" are kept out by the port check below, loopback and
// words the patterns catch by accident are dropped here.
func ignorableHost(h string) bool {
	switch h {
	case "localhost", "127.0.0.1", "0.0.0.0", "::1", "to", "the", "host", "server":
		return true
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return true
	}
	return len(h) < 2
}

// serviceName reduces a host to the Service name and namespace it can
// mean: "postgres", "postgres.db", "postgres.db.svc.cluster.local".
func serviceName(host, defaultNS string) (name, ns string) {
	parts := strings.Split(host, ".")
	switch {
	case len(parts) == 1:
		return parts[0], defaultNS
	case len(parts) >= 3 && parts[2] == "svc":
		return parts[0], parts[1]
	case len(parts) >= 4 && parts[3] == "svc":
		// A pod behind a headless Service: "kafka-0.kafka-headless.data.svc".
		return parts[1], parts[2]
	case len(parts) == 2:
		return parts[0], parts[1]
	}
	return "", ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
