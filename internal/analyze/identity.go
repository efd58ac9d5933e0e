package analyze

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// identityDenied are the errors of a workload identity the cloud refuses:
// AWS IRSA (STS AssumeRoleWithWebIdentity, an assumed role denied), GKE
// Workload Identity (getAccessToken denied), Azure workload identity.
var identityDenied = regexp.MustCompile(`(?i)(AssumeRoleWithWebIdentity|assumed-role/|\bAccessDenied\b|not authorized to perform|iam\.serviceAccounts\.getAccessToken|AADSTS\d+|WebIdentityErr|InvalidIdentityToken)`)

// assumedRole is the role an AWS error names: "arn:aws:sts::1:assumed-role/NAME/session".
var assumedRole = regexp.MustCompile(`assumed-role/([\w+=,.@-]+)`)

// roleARN is an IAM role's ARN; the name is the last path element.
var roleARN = regexp.MustCompile(`arn:aws[\w-]*:iam::\d*:role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)`)

// identityAnnotations are the ServiceAccount (and pod) annotations that bind
// a Kubernetes identity to a cloud one.
var identityAnnotations = []string{
	"eks.amazonaws.com/role-arn",
	"iam.gke.io/gcp-service-account",
	"azure.workload.identity/client-id",
}

// quoteIdentity runs after the analyzers: when the failure a finding states
// is a cloud identity refusing the workload, it quotes the role (or cloud
// service account) the pods run as, the value an SRE has to check against
// the role's trust policy.
func quoteIdentity(ev *Evidence, out *Output) {
	denied := ""
	for _, l := range ev.Logs {
		if identityDenied.MatchString(l.Msg) {
			denied = firstLine(l.Msg)
		}
	}
	for _, f := range out.Findings {
		if denied == "" && identityDenied.MatchString(f.Title+" "+f.Detail) {
			denied = f.Title + " " + f.Detail
		}
	}
	if denied == "" {
		return
	}
	roles := map[string]string{} // name -> where it was read
	for _, l := range ev.Logs {
		if m := assumedRole.FindStringSubmatch(l.Msg); m != nil {
			roles[m[1]] = "the error names the assumed role"
		}
	}
	for i := range ev.Pods {
		p := &ev.Pods[i]
		for _, c := range append(append(p.Spec.InitContainers[:0:0], p.Spec.InitContainers...), p.Spec.Containers...) {
			for _, e := range c.Env {
				if e.Name == "AWS_ROLE_ARN" {
					if m := roleARN.FindStringSubmatch(e.Value); m != nil {
						roles[m[1]] = fmt.Sprintf("AWS_ROLE_ARN %s of pod %s, injected from ServiceAccount %s", e.Value, p.Name, or(p.Spec.ServiceAccountName, "default"))
					}
				}
			}
		}
		for _, a := range identityAnnotations {
			if v := p.Annotations[a]; v != "" {
				roles[roleName(v)] = fmt.Sprintf("annotation %s=%s of pod %s", a, v, p.Name)
			}
		}
		if sa, ok := ev.Objects["ServiceAccount/"+p.Namespace+"/"+or(p.Spec.ServiceAccountName, "default")]; ok {
			md, _ := sa["metadata"].(map[string]any)
			ann, _ := md["annotations"].(map[string]any)
			for _, a := range identityAnnotations {
				if v, _ := ann[a].(string); v != "" {
					roles[roleName(v)] = fmt.Sprintf("annotation %s=%s of ServiceAccount %s/%s", a, v, p.Namespace, or(p.Spec.ServiceAccountName, "default"))
				}
			}
		}
	}
	if len(roles) == 0 {
		return
	}
	var names []string
	for n := range roles {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s (%s)", n, roles[n]))
	}
	note := "the cloud identity refuses the workload's role " + strings.Join(parts, ", ")
	fix := fmt.Sprintf("Check the role %s: the ServiceAccount's annotation must name the role of this cluster and environment, and the role's trust policy must allow this cluster's OIDC provider and the ServiceAccount (system:serviceaccount:NAMESPACE:NAME).", strings.Join(names, ", "))
	for i := range out.Findings {
		f := &out.Findings[i]
		switch f.Category {
		case report.CrashLoop, report.JobFailure, report.ConfigError, report.BadRollout, report.DependencyFailure:
		default:
			continue
		}
		f.Detail = strings.TrimPrefix(f.Detail+"; "+note, "; ")
		f.Remediation = append([]string{fix}, f.Remediation...)
	}
}

// roleName is the name in a role ARN or a cloud service account's email.
func roleName(v string) string {
	if m := roleARN.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return v
}
