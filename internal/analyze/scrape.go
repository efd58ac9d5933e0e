package analyze

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// A scrape that fails while the pods it reads are Running and Ready is
// about what sits between the scraper and the target: a NetworkPolicy
// that isolates the pods (a default deny) and whose allow-list does not
// admit the monitoring namespace on the metrics port, which is often not
// the port the application serves on. The pods look healthy from
// everywhere but the scraper, so nothing here may conclude "none" while
// the scrape still fails.

// ScrapeState is who scrapes the alert's targets, as far as the evidence
// tells: the scraper's pod and namespace from its own log lines about the
// targets, and those lines.
type ScrapeState struct {
	// Namespace is the scraper's namespace, "" when unknown; PodName the
	// pod its lines come from, Pod that pod when it could be read, and
	// NamespaceLabels its namespace's labels when read.
	Namespace       string
	PodName         string
	Pod             *corev1.Pod
	NamespaceLabels map[string]string
	// Lines are the scraper's lines about the targets.
	Lines []string
}

// scrapeAlertName matches the alerts about failing scrapes: TargetDown,
// PrometheusTargetMissing, ScrapeFailed, a job or instance down.
var scrapeAlertName = regexp.MustCompile(`(?i)(targetdown|target_down|targetmissing|scrape|instancedown|jobdown|exporterdown|endpointdown|^up$)`)

// ScrapeAlert reports whether an alert is about a failing scrape: by its
// name, or a "...Down" alert naming a job without a pod.
func ScrapeAlert(name string, labels map[string]string) bool {
	if scrapeAlertName.MatchString(name) {
		return true
	}
	return strings.HasSuffix(strings.ToLower(name), "down") && labels["job"] != "" && labels["pod"] == "" && labels["node"] == ""
}

// scrapeTimeout matches a scrape that got no answer (dropped packets: a
// NetworkPolicy, a firewall) rather than a refusal (nothing listens).
var scrapeTimeout = regexp.MustCompile(`(?i)(deadline exceeded|timed? ?out|timeout|i/o timeout|no route to host)`)

// scrapeTarget is one target whose scrape fails.
type scrapeTarget struct {
	pod      *corev1.Pod
	instance string
	port     int32
	portName string
	downFor  time.Duration
}

func analyzeScrape(ev *Evidence, out *Output) {
	if !ScrapeAlert(ev.Alert.Name, ev.Alert.Labels) && len(ev.Metrics[MetricUp]) == 0 {
		return
	}
	down, up, elsewhere := scrapeTargets(ev)
	if len(down) == 0 {
		if up > 0 && elsewhere == 0 {
			out.Check("the scrape succeeds now: %s up", plural(up, "target is", "targets are"))
		}
		if len(ev.Metrics[MetricUp]) > 0 || ev.Scrape == nil || len(ev.Scrape.Lines) == 0 {
			return
		}
		// No up series, but the scraper says it fails: judge the pods'
		// policies on their declared metrics port.
		down = guessedTargets(ev)
		if len(down) == 0 {
			out.notCleared("the scraper reports failed scrapes of %s", targetName(ev))
			return
		}
	}
	// A target whose pod is not Ready fails its scrape for its own reason,
	// which the pod analyzers find; the path matters for the healthy ones.
	var t scrapeTarget
	for _, d := range down {
		if podHealthy(d.pod) {
			t = d
			break
		}
	}
	if t.pod == nil {
		return
	}
	np, why, ok := scrapeBlocked(ev, t)
	stillDown := fmt.Sprintf("%d of %d targets of %s are down", len(down), len(down)+up, or(ev.Alert.Labels["job"], targetName(ev)))
	if !ok {
		out.notCleared("the scrape still fails: %s (%s)", stillDown, portDesc(t))
		return
	}
	ref := report.Ref{Kind: "NetworkPolicy", Namespace: np.Namespace, Name: np.Name}
	from := scraperDesc(ev)
	score := 0.8
	var detail []string
	if len(ev.Metrics[MetricUp]) > 0 {
		score = 0.86
		d := stillDown
		if t.downFor > 0 {
			d += fmt.Sprintf(", for %s", durText(t.downFor))
		}
		detail = append(detail, d)
	}
	if ev.Scrape != nil && len(ev.Scrape.Lines) > 0 {
		detail = append(detail, "the scraper says: "+ev.Scrape.Lines[0])
		if scrapeTimeout.MatchString(ev.Scrape.Lines[0]) {
			score = max(score, 0.86)
			detail = append(detail, "scrapes time out rather than being refused: the packets are dropped on the way, as a NetworkPolicy drops them")
		}
	}
	detail = append(detail, why, fmt.Sprintf("pod %s is Running and Ready: the application is up, only the scrape is blocked", t.pod.Name))
	out.Find(report.Finding{
		Category: report.NetworkPolicy, Object: ref, Score: score,
		Title: fmt.Sprintf("the scrape of %s is blocked: NetworkPolicy %s isolates its pods and no policy admits %s on %s",
			or(ev.Alert.Labels["job"], targetName(ev)), np.Name, from, portDesc(t)),
		Detail:   strings.Join(detail, "; "),
		Evidence: cite(ev, "netpol/"+np.Namespace, "metric/"+MetricUp, "scrape", podKey(t.pod)),
		Remediation: []string{
			fmt.Sprintf("Allow the scrape: add an ingress rule to NetworkPolicy %s/%s (or a policy selecting the same pods) from %s on %s.", np.Namespace, np.Name, from, portDesc(t)),
			fmt.Sprintf("Then check the targets come back: up{job=%q} == 1.", ev.Alert.Labels["job"]),
		},
	})
}

// scrapeTargets returns the targets whose up series is 0 now, matched to
// the target's pods, how many are up, and how many are down that match no
// pod of the target.
func scrapeTargets(ev *Evidence) (down []scrapeTarget, up, elsewhere int) {
	for _, s := range ev.Metrics[MetricUp] {
		v, ok := s.Last()
		if !ok {
			continue
		}
		if v >= 1 {
			up++
			continue
		}
		t := scrapeTarget{instance: s.Labels["instance"]}
		host, port, err := net.SplitHostPort(t.instance)
		if err != nil {
			host = t.instance
		}
		for i := range ev.Pods {
			p := &ev.Pods[i]
			if (s.Labels["pod"] != "" && p.Name == s.Labels["pod"]) || (host != "" && p.Status.PodIP == host) {
				t.pod = p
			}
		}
		if t.pod == nil {
			elsewhere++
			continue
		}
		n, _ := strconv.Atoi(port)
		t.port = int32(n)
		t.portName = containerPortName(t.pod, t.port)
		if t.port == 0 {
			t.port, t.portName = servicePort(ev, t.pod, s.Labels["endpoint"])
		}
		// How long it has been 0.
		for i := len(s.Points) - 1; i >= 0 && s.Points[i].V < 1; i-- {
			t.downFor = ev.Now.Sub(s.Points[i].T)
		}
		down = append(down, t)
	}
	return down, up, elsewhere
}

// guessedTargets builds targets from the pods' declared metrics port
// when no up series tells the instance.
func guessedTargets(ev *Evidence) []scrapeTarget {
	var out []scrapeTarget
	for i := range ev.Pods {
		p := &ev.Pods[i]
		port, name := metricsPort(p)
		if port == 0 {
			continue
		}
		out = append(out, scrapeTarget{pod: p, instance: p.Status.PodIP, port: port, portName: name})
	}
	return out
}

// metricsPort is the port a pod is scraped on: its prometheus.io/port
// annotation, else a container port named for metrics.
func metricsPort(p *corev1.Pod) (int32, string) {
	if v := p.Annotations["prometheus.io/port"]; v != "" {
		n, _ := strconv.Atoi(v)
		return int32(n), containerPortName(p, int32(n))
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			n := strings.ToLower(cp.Name)
			if strings.Contains(n, "metric") || strings.Contains(n, "prom") || strings.Contains(n, "manage") || strings.Contains(n, "monitor") {
				return cp.ContainerPort, cp.Name
			}
		}
	}
	return 0, ""
}

func containerPortName(p *corev1.Pod, port int32) string {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort == port {
				return cp.Name
			}
		}
	}
	return ""
}

// servicePort resolves the Service port a ServiceMonitor endpoint names
// to the pod's port.
func servicePort(ev *Evidence, p *corev1.Pod, endpoint string) (int32, string) {
	if endpoint == "" {
		return 0, ""
	}
	for _, svc := range ev.Services {
		for _, sp := range svc.Spec.Ports {
			if sp.Name != endpoint {
				continue
			}
			if sp.TargetPort.Type == intstr.String {
				for _, c := range p.Spec.Containers {
					for _, cp := range c.Ports {
						if cp.Name == sp.TargetPort.StrVal {
							return cp.ContainerPort, cp.Name
						}
					}
				}
				continue
			}
			port := sp.TargetPort.IntVal
			if port == 0 {
				port = sp.Port
			}
			return port, containerPortName(p, port)
		}
	}
	return 0, ""
}

func portDesc(t scrapeTarget) string {
	switch {
	case t.port != 0 && t.portName != "":
		return fmt.Sprintf("port %d/TCP (%s)", t.port, t.portName)
	case t.port != 0:
		return fmt.Sprintf("port %d/TCP", t.port)
	}
	return "the metrics port"
}

func scraperDesc(ev *Evidence) string {
	s := ev.Scrape
	switch {
	case s == nil || s.Namespace == "":
		return "the monitoring namespace"
	case s.PodName != "":
		return fmt.Sprintf("namespace %s (scraper pod %s)", s.Namespace, s.PodName)
	}
	return "namespace " + s.Namespace
}

// scrapeBlocked judges the scraper's traffic to a target against the
// NetworkPolicies of the target's namespace. It returns the policy to fix
// and why the traffic is denied; ok is false when no policy isolates the
// pod, or one admits the scrape.
func scrapeBlocked(ev *Evidence, t scrapeTarget) (*networkingv1.NetworkPolicy, string, bool) {
	p := t.pod
	f := flow{serverNS: p.Namespace, serverLabels: p.Labels, serverIP: p.Status.PodIP, port: t.port, portName: t.portName, protocol: corev1.ProtocolTCP}
	var selecting []*networkingv1.NetworkPolicy
	for i := range ev.NetPolicies {
		np := &ev.NetPolicies[i]
		if np.Namespace != p.Namespace || !selects(np.Spec.PodSelector, p.Labels) || !hasType(np, networkingv1.PolicyTypeIngress) {
			continue
		}
		selecting = append(selecting, np)
		for _, r := range np.Spec.Ingress {
			if portsMatch(r.Ports, f) && (len(r.From) == 0 || scraperAdmitted(ev.Scrape, r.From, np.Namespace)) {
				return nil, "", false
			}
		}
	}
	if len(selecting) == 0 {
		return nil, "", false
	}
	// Blame the allow-list written for these pods, which admits other
	// traffic but not this, over a namespace-wide default deny.
	np := blame(selecting, f, true)
	var parts []string
	sort.SliceStable(selecting, func(i, j int) bool { return selecting[i].Name < selecting[j].Name })
	for _, s := range selecting {
		parts = append(parts, policyText(s))
	}
	why := fmt.Sprintf("the NetworkPolicies selecting pod %s (labels %s) admit no traffic from %s on %s: %s",
		p.Name, labelString(p.Labels), scraperDesc(ev), portDesc(t), strings.Join(parts, "; "))
	return np, why, true
}

// policyText renders what an ingress policy admits.
func policyText(np *networkingv1.NetworkPolicy) string {
	if len(np.Spec.Ingress) == 0 {
		return np.Name + " denies all ingress"
	}
	var rules []string
	for _, r := range np.Spec.Ingress {
		from := "anywhere"
		if len(r.From) > 0 {
			var peers []string
			for _, d := range describePeers(r.From) {
				if d == "pods (all)" {
					d = "every pod of " + np.Namespace
				}
				peers = append(peers, d)
			}
			from = strings.Join(peers, ", ")
		}
		ports := "any port"
		if len(r.Ports) > 0 {
			ports = strings.Join(describePorts(r.Ports), ", ")
		}
		rules = append(rules, from+" on "+ports)
	}
	return np.Name + " admits only " + strings.Join(rules, " and ")
}

// scraperAdmitted judges a rule's peers for the scraper. What is not
// known about the scraper counts in its favour, so that no policy is
// blamed on a guess: an unknown namespace matches any namespaceSelector,
// unknown pod labels any podSelector; but a peer without a
// namespaceSelector admits only the policy's own namespace, which a
// scraper elsewhere is not in.
func scraperAdmitted(s *ScrapeState, peers []networkingv1.NetworkPolicyPeer, policyNS string) bool {
	ns := ""
	var podLabels, nsLabels map[string]string
	var podIP string
	if s != nil {
		ns, nsLabels = s.Namespace, s.NamespaceLabels
		if s.Pod != nil {
			podLabels, podIP = s.Pod.Labels, s.Pod.Status.PodIP
		}
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			if podIP == "" || ipMatches(peer.IPBlock, podIP) {
				return true
			}
			continue
		}
		var nsOK bool
		switch {
		case peer.NamespaceSelector == nil:
			nsOK = ns == policyNS
		case ns == "":
			nsOK = true
		case nsLabels != nil:
			l := map[string]string{"kubernetes.io/metadata.name": ns}
			for k, v := range nsLabels {
				l[k] = v
			}
			nsOK = selects(*peer.NamespaceSelector, l)
		default:
			nsOK = namespaceMatches(peer.NamespaceSelector, ns)
		}
		podOK := peer.PodSelector == nil || podLabels == nil || selects(*peer.PodSelector, podLabels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}
