package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/sleuth-sre/sleuth/internal/alert"
	"github.com/sleuth-sre/sleuth/internal/incident"
	"github.com/sleuth-sre/sleuth/internal/runbook"
)

const runbooksUsage = `sleuth runbooks checks, lists and tries runbooks.

Usage:
  sleuth runbooks check PATH...
        validate runbook files (directories of *.yaml/*.yml, files, or ConfigMap
        manifests): print each file with its number of runbooks or its errors
        as FILE:LINE: KEY: MESSAGE; exit 1 if any file has an error
  sleuth runbooks list [--no-builtin] [PATH...]
        list the runbooks sleuth would load: the builtin ones, then PATHs'
  sleuth runbooks match --alert FILE [--target KIND/NAMESPACE/NAME] [--no-builtin] [PATH...]
        show which runbooks apply to the alerts in FILE (an Alertmanager webhook
        payload, or one alert object) and their steps rendered for each alert;
        the target (the object to fix) is guessed from the labels unless given

The formats are described in docs/runbooks.md.
`

// maxAlertFileBytes bounds the --alert file, as intake bounds a webhook body.
const maxAlertFileBytes = 4 << 20

// runbooksCmd runs "sleuth runbooks ...". It returns the exit code: 0, 1 when
// a runbook file has errors, 2 for a usage error.
func runbooksCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, runbooksUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return runbooksCheck(args[1:], stdout, stderr)
	case "list":
		return runbooksList(args[1:], stdout, stderr)
	case "match":
		return runbooksMatch(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, runbooksUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "sleuth runbooks: unknown command %q\n\n%s", args[0], runbooksUsage)
		return 2
	}
}

func runbooksCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runbooks check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "sleuth runbooks check: name at least one file or directory\n\n%s", runbooksUsage)
		return 2
	}
	set, errs := runbook.Load(fs.Args()...)
	byFile := map[string][]runbook.LoadError{}
	for _, e := range errs {
		byFile[e.File] = append(byFile[e.File], e)
	}
	builtins := map[string]*runbook.Runbook{}
	if b, _ := runbook.Builtin(); b != nil {
		for _, r := range b.Runbooks() {
			builtins[r.Name] = r
		}
	}
	failed := 0
	files := set.Files()
	for _, f := range files {
		if f.Failed {
			failed++
			for _, e := range byFile[f.Path] {
				fmt.Fprintln(stdout, e.Error())
			}
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", f.Path, plural(f.Runbooks, "runbook"))
	}
	for _, r := range set.Runbooks() {
		// Checking the repository's runbooks directory finds the builtin
		// runbooks themselves: only a different runbook is a replacement.
		if b := builtins[r.Name]; r.Kind == runbook.Native && b != nil && !sameRunbook(r, b) {
			fmt.Fprintf(stdout, "%s:%d: note: %q replaces the builtin runbook of that name\n", r.Source, r.Line, r.Name)
		}
	}
	// A path that yields no file is most likely a wrong path in CI.
	for _, p := range fs.Args() {
		if !anyFileUnder(files, p) {
			fmt.Fprintf(stdout, "%s: no *.yaml or *.yml files\n", p)
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%s, %d with errors\n", plural(len(files), "file"), failed)
		return 1
	}
	fmt.Fprintf(stdout, "%s, %s, no errors\n", plural(len(files), "file"), plural(set.Len(), "runbook"))
	return 0
}

func sameRunbook(a, b *runbook.Runbook) bool {
	if a.Instructions != b.Instructions || a.Selector() != b.Selector() || len(a.Steps) != len(b.Steps) {
		return false
	}
	for i := range a.Steps {
		if a.Steps[i].Tool != b.Steps[i].Tool || fmt.Sprint(a.Steps[i].Args()) != fmt.Sprint(b.Steps[i].Args()) {
			return false
		}
	}
	return true
}

func anyFileUnder(files []runbook.File, p string) bool {
	for _, f := range files {
		if f.Path == p || strings.HasPrefix(f.Path, p+"[") || filepath.Dir(f.Path) == filepath.Clean(p) {
			return true
		}
	}
	return false
}

// loadForUse loads what the service would: the builtin runbooks (unless
// noBuiltin) and then the paths', which override builtin ones by name.
// Load errors are printed; the runbooks that loaded are still used.
func loadForUse(paths []string, noBuiltin bool, stderr io.Writer) (*runbook.Set, bool) {
	var sets []*runbook.Set
	var errs []runbook.LoadError
	if !noBuiltin {
		b, e := runbook.Builtin()
		sets, errs = append(sets, b), append(errs, e...)
	}
	if len(paths) > 0 {
		s, e := runbook.Load(paths...)
		sets, errs = append(sets, s), append(errs, e...)
	}
	for _, e := range errs {
		fmt.Fprintln(stderr, e.Error())
	}
	return runbook.Join(sets...), len(errs) == 0
}

func runbooksList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runbooks list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noBuiltin := fs.Bool("no-builtin", false, "leave out the runbooks built into sleuth")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	set, ok := loadForUse(fs.Args(), *noBuiltin, stderr)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tNAME\tCATEGORY\tSTEPS\tMATCHES")
	for _, r := range set.Runbooks() {
		name, cats := r.Name, strings.Join(r.Categories, ",")
		if name == "" {
			name = "-"
		}
		if cats == "" {
			cats = "-"
		}
		fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\t%d\t%s\n", r.Source, r.Line, r.Kind, name, cats, len(r.Steps), r.Selector())
	}
	tw.Flush()
	if !ok {
		return 1
	}
	return 0
}

func runbooksMatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runbooks match", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alertFile := fs.String("alert", "", "`file` holding an Alertmanager webhook payload or one alert (JSON)")
	noBuiltin := fs.Bool("no-builtin", false, "leave out the runbooks built into sleuth")
	targetFlag := fs.String("target", "", "the object to fix, `KIND/NAMESPACE/NAME` (default: guessed from the labels)")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	var target *runbook.Object
	if *targetFlag != "" {
		t, err := parseTarget(*targetFlag)
		if err != nil {
			fmt.Fprintln(stderr, "sleuth runbooks match:", err)
			return 2
		}
		target = &t
	}
	if *alertFile == "" {
		fmt.Fprintf(stderr, "sleuth runbooks match: --alert FILE is required\n\n%s", runbooksUsage)
		return 2
	}
	alerts, err := readAlerts(*alertFile)
	if err != nil {
		fmt.Fprintf(stderr, "sleuth runbooks match: %s: %v\n", *alertFile, err)
		return 1
	}
	set, ok := loadForUse(fs.Args(), *noBuiltin, stderr)
	for i, a := range alerts {
		if ctx.Err() != nil {
			return 1
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printMatches(stdout, set, a, target)
	}
	if !ok {
		return 1
	}
	return 0
}

func printMatches(w io.Writer, set *runbook.Set, a alert.Alert, given *runbook.Object) {
	ra := runbook.Alert{
		Labels:      a.Labels,
		Annotations: a.Annotations,
		Fingerprint: a.Fingerprint,
		StartsAt:    a.StartsAt,
	}
	is := ra.Issue()
	fmt.Fprintf(w, "alert %s %s\n", ra.AlertName(), labelString(a.Labels))
	fmt.Fprintf(w, "  issue_id=%q issue_name=%q source=%q\n", is.ID, is.Name, is.Source)
	if given != nil {
		fmt.Fprintf(w, "  target: %s %s\n", given.Kind, objectName(*given))
	} else {
		given = new(runbook.Object)
		*given = targetFromLabels(a.Labels)
		fmt.Fprintf(w, "  target (guessed from the labels; the investigation follows owner references): %s %s\n", given.Kind, objectName(*given))
	}
	target := *given
	matches := set.Match(ra)
	if len(matches) == 0 {
		fmt.Fprintln(w, "  no runbook applies")
		return
	}
	data := runbook.NewTemplateData(ra, target)
	for i, m := range matches {
		r := m.Runbook
		fmt.Fprintf(w, "  %d. %s (%s, %s:%d)", i+1, r, m.Kind, m.Source, r.Line)
		if len(r.Categories) > 0 {
			fmt.Fprintf(w, " [%s]", strings.Join(r.Categories, ", "))
		}
		fmt.Fprintln(w)
		steps, errs := r.RenderSteps(data)
		for _, s := range steps {
			fmt.Fprintf(w, "       %s\n", s)
		}
		for _, err := range errs {
			var re *runbook.RenderError
			if errors.As(err, &re) {
				fmt.Fprintf(w, "       skipped step %d (%s): %s: %v\n", re.Step, re.Tool, re.Arg, re.Err)
				continue
			}
			fmt.Fprintf(w, "       skipped: %v\n", err)
		}
	}
}

// readAlerts reads a webhook payload, or one alert object, which it wraps
// in a payload so that it is validated and fingerprinted the same way. A
// lone alert may come from Alertmanager's API (status is an object there)
// or be hand-written without a status: it is taken as firing.
func readAlerts(path string) ([]alert.Alert, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAlertFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAlertFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxAlertFileBytes)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("want a JSON object: %w", err)
	}
	if _, ok := obj["alerts"]; !ok {
		var status string
		if json.Unmarshal(obj["status"], &status) != nil || status == "" {
			obj["status"] = json.RawMessage(`"firing"`)
		}
		one, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		data = []byte(`{"alerts":[` + string(one) + `]}`)
	}
	p, err := alert.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return p.Alerts, nil
}

// targetFromLabels guesses the object to fix from an alert's labels, as a
// stand-in for the investigation, which follows owner references: a
// workload label names it; a pod's owner is guessed from the suffixes its
// controller gave the pod's name.
func targetFromLabels(l map[string]string) runbook.Object {
	ns := l["namespace"]
	for _, k := range []struct{ label, kind string }{
		{"deployment", "Deployment"}, {"statefulset", "StatefulSet"}, {"daemonset", "DaemonSet"},
		{"cronjob", "CronJob"}, {"job_name", "Job"},
	} {
		if v := l[k.label]; v != "" {
			return runbook.Object{Kind: k.kind, Namespace: ns, Name: v}
		}
	}
	if pod := l["pod"]; pod != "" {
		owner := incident.PodPrefix(pod)
		suffix := strings.Split(strings.TrimPrefix(pod, owner+"-"), "-")
		switch {
		case owner == pod:
			return runbook.Object{Kind: "Pod", Namespace: ns, Name: pod}
		case len(suffix) == 2 && isDigits(suffix[0]):
			return runbook.Object{Kind: "CronJob", Namespace: ns, Name: owner}
		case len(suffix) == 2:
			return runbook.Object{Kind: "Deployment", Namespace: ns, Name: owner}
		case isDigits(suffix[0]):
			return runbook.Object{Kind: "StatefulSet", Namespace: ns, Name: owner}
		}
		return runbook.Object{Kind: "DaemonSet", Namespace: ns, Name: owner}
	}
	for _, k := range []struct{ label, kind string }{
		{"horizontalpodautoscaler", "HorizontalPodAutoscaler"},
		{"persistentvolumeclaim", "PersistentVolumeClaim"}, {"service", "Service"},
	} {
		if v := l[k.label]; v != "" {
			return runbook.Object{Kind: k.kind, Namespace: ns, Name: v}
		}
	}
	if v := l["node"]; v != "" {
		return runbook.Object{Kind: "Node", Name: v}
	}
	if v := l["persistentvolume"]; v != "" {
		return runbook.Object{Kind: "PersistentVolume", Name: v}
	}
	return runbook.Object{}
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// parseTarget reads KIND/NAMESPACE/NAME, or KIND/NAME for cluster-scoped kinds.
func parseTarget(s string) (runbook.Object, error) {
	parts := strings.Split(s, "/")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return runbook.Object{Kind: parts[0], Name: parts[1]}, nil
	case len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "":
		return runbook.Object{Kind: parts[0], Namespace: parts[1], Name: parts[2]}, nil
	}
	return runbook.Object{}, fmt.Errorf("--target %q: want KIND/NAMESPACE/NAME or KIND/NAME", s)
}

func objectName(o runbook.Object) string {
	switch {
	case o.Name == "":
		return "(none)"
	case o.Namespace == "":
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

func labelString(l map[string]string) string {
	b, _ := json.Marshal(l) // sorted keys
	return string(b)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
