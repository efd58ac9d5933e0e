package analyze

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// This file finds the concrete values an SRE quotes in a report: the
// platform an image lacks, the port an application really listens on.

var (
	// platformMissing is a registry or runtime saying the image has no
	// variant for the node's platform; platformNamed the platform when the
	// message names it ("no matching manifest for linux/arm64 in the
	// manifest list entries").
	platformMissing = regexp.MustCompile(`(?i)(no match(?:ing)? (?:manifest )?for platform|no matching manifest for|does not match the specified platform|image with reference \S+ was found but does not match|exec format error)`)
	platformNamed   = regexp.MustCompile(`(?i)\b((?:linux|windows)/(?:amd64|arm64|arm|386|ppc64le|s390x|riscv64)(?:/v\d)?)\b`)
)

// imagePlatform explains an image pull that fails for want of the node's
// platform: the platform the message names, else the node's OS and
// architecture (its kubernetes.io/arch label or nodeInfo), and where it
// was read. ok is false when the message is not about the platform.
func imagePlatform(ev *Evidence, p *corev1.Pod, msg string) (platform, where string, ok bool) {
	if !platformMissing.MatchString(msg) {
		return "", "", false
	}
	if m := platformNamed.FindStringSubmatch(msg); m != nil {
		return strings.ToLower(m[1]), "named by the error", true
	}
	of := func(n *corev1.Node) string {
		arch := or(n.Labels["kubernetes.io/arch"], n.Status.NodeInfo.Architecture)
		os := or(n.Labels["kubernetes.io/os"], or(n.Status.NodeInfo.OperatingSystem, "linux"))
		if arch == "" {
			return ""
		}
		return os + "/" + arch
	}
	for i := range ev.Nodes {
		if n := &ev.Nodes[i]; n.Name == p.Spec.NodeName {
			if pl := of(n); pl != "" {
				return pl, "node " + n.Name, true
			}
		}
	}
	// Not scheduled yet, or the node was not read: the nodes read agree?
	seen := map[string]bool{}
	for i := range ev.Nodes {
		if pl := of(&ev.Nodes[i]); pl != "" {
			seen[pl] = true
		}
	}
	if len(seen) == 1 {
		for pl := range seen {
			return pl, fmt.Sprintf("every node read (%d)", len(ev.Nodes)), true
		}
	}
	return "", "", true
}

var (
	// listenPhrase is an application announcing where it serves: "Now
	// listening on: http://[::]:8080", "listening on :8080", "Uvicorn
	// running on http://0.0.0.0:8000", "Tomcat started on port(s): 8080",
	// "server started on port 3000", {"msg":"listening","addr":":8080"}.
	listenPhrase = regexp.MustCompile(`(?i)(listen(?:ing)?\b|running on\b|started on\b|serving on\b|serving at\b|bound to\b|binding to\b|initialized with\b|server (?:started|starting|running)\b)(.{0,80})`)
	// listenPort is the port in what follows such a phrase: after a colon
	// (host:port, [::]:port, :port) or a "port" word, and not a clock
	// (11:42:19) or an address.
	listenPort = regexp.MustCompile(`(?i)(?:[\w\]\.\-]:|^:|[\s"'=(]:|port\(?s?\)?\s*[:=]?\s*"?)([1-9]\d{1,4})(?:[^\d:.]|$)`)
	// clockTime is a time of day (11:42, 11:42:19) that would read as a
	// host:port.
	clockTime = regexp.MustCompile(`(?:^|[^\d:])\d{1,2}:[0-5]\d(?::[0-5]\d)?(?:[^\d:]|$)`)
	// dialPort is the port a failed probe dialled.
	dialPort = regexp.MustCompile(`dial tcp \S+:(\d{1,5}): `)
)

// listenedPort is a port an application's log says it listens on.
type listenedPort struct {
	Port int
	Line string
}

// listenPorts returns the ports the container's log lines say it listens
// on, in order, each with the first line that says so.
func listenPorts(ev *Evidence, ns, pod, container string) []listenedPort {
	var out []listenedPort
	seen := map[int]bool{}
	for _, l := range ev.Logs {
		if l.Namespace != ns || l.Pod != pod || (container != "" && l.Container != "" && l.Container != container) {
			continue
		}
		m := listenPhrase.FindStringSubmatch(l.Msg)
		if m == nil {
			continue
		}
		pm := listenPort.FindStringSubmatch(clockTime.ReplaceAllStringFunc(m[2], blankClock))
		if pm == nil {
			continue
		}
		port, err := strconv.Atoi(pm[1])
		if err != nil || port == 0 || port > 65535 || seen[port] {
			continue
		}
		seen[port] = true
		out = append(out, listenedPort{Port: port, Line: firstLine(l.Msg)})
	}
	return out
}

// probePort resolves the port a probe of the container checks: a number,
// or the containerPort of that name; name is the port as the probe gives
// it. 0 when the probe has no port (exec) or the name is not declared.
func probePort(c *corev1.Container, pr *corev1.Probe) (port int, name string) {
	var p intstr.IntOrString
	switch {
	case pr == nil:
		return 0, ""
	case pr.HTTPGet != nil:
		p = pr.HTTPGet.Port
	case pr.TCPSocket != nil:
		p = pr.TCPSocket.Port
	case pr.GRPC != nil:
		return int(pr.GRPC.Port), ""
	default:
		return 0, ""
	}
	if p.Type == intstr.Int {
		return p.IntValue(), ""
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), p.StrVal
		}
	}
	return 0, p.StrVal
}

// probeListenMismatch compares the port a failing probe checks with the
// ports the container's logs say it listens on. It returns the detail to
// quote and the remediation when they differ.
func probeListenMismatch(ev *Evidence, p *corev1.Pod, kind, eventMsg string) (detail, fix string, ok bool) {
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		var pr *corev1.Probe
		switch kind {
		case "liveness":
			pr = c.LivenessProbe
		case "startup":
			pr = c.StartupProbe
		default:
			pr = c.ReadinessProbe
		}
		if pr == nil {
			continue
		}
		port, name := probePort(c, pr)
		if m := dialPort.FindStringSubmatch(eventMsg); m != nil && port == 0 {
			port, _ = strconv.Atoi(m[1])
		}
		listens := listenPorts(ev, p.Namespace, p.Name, c.Name)
		if port == 0 || len(listens) == 0 {
			return "", "", false
		}
		var ports, lines []string
		for _, l := range listens {
			if l.Port == port {
				return "", "", false // it listens where the probe checks
			}
			ports = append(ports, strconv.Itoa(l.Port))
			if len(lines) < 2 {
				lines = append(lines, fmt.Sprintf("%q", l.Line))
			}
		}
		checked := fmt.Sprintf("port %d", port)
		if name != "" {
			checked = fmt.Sprintf("port %s = containerPort %d", name, port)
		}
		detail = fmt.Sprintf("container %s listens on port %s (its log: %s), but the %s probe checks %s",
			c.Name, strings.Join(ports, ", "), strings.Join(lines, "; "), kind, checked)
		fix = fmt.Sprintf("The application listens on port %s, not %d: point the containerPort and the probes of container %s at %s, or configure the application to listen on %d again (its port setting or environment).",
			ports[0], port, c.Name, ports[0], port)
		return detail, fix, true
	}
	return "", "", false
}

// blankClock replaces a time of day with spaces, keeping its boundaries.
func blankClock(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == ':' {
			return ' '
		}
		return r
	}, s)
}
