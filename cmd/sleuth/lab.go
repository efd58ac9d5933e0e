package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sleuth-sre/sleuth/deploy/rules"
	"github.com/sleuth-sre/sleuth/internal/lab"
	"github.com/sleuth-sre/sleuth/internal/scenario"
)

const labUsage = `Usage:
  sleuth lab up [--dir DIR] [--no-rules]   start the local lab and keep it up until Ctrl-C or "sleuth lab down"
  sleuth lab down [--dir DIR]              stop a running lab
  sleuth lab load [--dir DIR] FILE...      load scenarios into the running lab (without a reset) and send
                                           their alerts to its Alertmanager (--no-alerts: don't)
  sleuth lab reset [--dir DIR]             empty the running lab
  sleuth lab status [--dir DIR]            print the running lab's endpoints

The lab runs the real backends on loopback: etcd and kube-apiserver,
VictoriaMetrics, VictoriaLogs, Alertmanager and vmalert with the shipped
alert rules, from the pinned builds in bin/ (built when missing).
`

func labCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, labUsage)
		return 2
	}
	fs := flag.NewFlagSet("lab "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the lab's `directory` (up: default a new temporary one; others: the lab started last)")
	noRules := fs.Bool("no-rules", false, "up: do not start vmalert with the shipped alert rules")
	noAlerts := fs.Bool("no-alerts", false, "load: do not send the scenario's alerts to the lab's Alertmanager")
	listen := fs.String("sleuth-listen", "127.0.0.1:8080", "up: the `address` the written sleuth config listens on, where Alertmanager delivers")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "sleuth lab:", err)
		return 1
	}
	switch args[0] {
	case "up":
		o := lab.Options{Dir: *dir, Progress: stderr, SleuthListen: *listen, Register: true}
		if !*noRules {
			rules, err := shippedRules()
			if err != nil {
				return fail(err)
			}
			o.Rules = rules
		}
		l, err := lab.Start(ctx, o)
		if err != nil {
			return fail(err)
		}
		defer l.Stop()
		printLab(stdout, l)
		fmt.Fprintln(stdout, "\nThe lab runs until Ctrl-C or `sleuth lab down`.")
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				fmt.Fprintln(stderr, "lab: stopping")
				return 0
			case <-tick.C:
				if name := l.Exited(); name != "" {
					return fail(fmt.Errorf("%s exited; see %s", name, l.LogPath(name)))
				}
			}
		}
	case "down":
		if err := lab.Down(*dir, 30*time.Second); err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, "lab stopped")
		return 0
	case "status":
		l, err := lab.Attach(ctx, *dir)
		if err != nil {
			return fail(err)
		}
		printLab(stdout, l)
		return 0
	case "reset":
		l, err := lab.Attach(ctx, *dir)
		if err != nil {
			return fail(err)
		}
		if err := l.Reset(ctx); err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, "lab reset: objects, series and log lines deleted")
		return 0
	case "load":
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "sleuth lab load: name at least one scenario file")
			return 2
		}
		l, err := lab.Attach(ctx, *dir)
		if err != nil {
			return fail(err)
		}
		code := 0
		for _, f := range fs.Args() {
			parsed, err := scenario.ReadFile(f)
			if err == nil {
				var s *scenario.Scenario
				if s, err = parsed.Resolve(time.Now()); err == nil {
					var n lab.Loaded
					if n, err = l.Load(ctx, s); err == nil {
						fmt.Fprintf(stdout, "%s: loaded %s: %d objects, %d samples, %d log lines\n", f, s.Name, n.Objects, n.Samples, n.Lines)
						if *noAlerts {
							continue
						}
						if err = l.SendAlerts(ctx, s); err == nil {
							fmt.Fprintf(stdout, "%s: %d alerts sent to Alertmanager (%s), which routes critical and warning ones to %s\n", f, len(s.Alerts), l.URLs.Alertmanager, l.SleuthListen)
							continue
						}
					}
				}
			}
			fmt.Fprintln(stderr, "sleuth lab load:", err)
			code = 1
		}
		return code
	default:
		fmt.Fprintf(stderr, "sleuth lab: unknown command %q\n\n%s", args[0], labUsage)
		return 2
	}
}

func printLab(w io.Writer, l *lab.Lab) {
	fmt.Fprintf(w, "lab in %s\n", l.Dir)
	fmt.Fprintf(w, "  kubernetes       %s (kubeconfig %s)\n", l.URLs.Kubernetes, l.Kubeconfig)
	fmt.Fprintf(w, "  victoriametrics  %s\n", l.URLs.VictoriaMetrics)
	fmt.Fprintf(w, "  victorialogs     %s\n", l.URLs.VictoriaLogs)
	fmt.Fprintf(w, "  alertmanager     %s\n", l.URLs.Alertmanager)
	if l.URLs.VMAlert != "" {
		fmt.Fprintf(w, "  vmalert          %s\n", l.URLs.VMAlert)
	}
	fmt.Fprintf(w, "  sleuth config    %s (sleuth serve --config %s)\n", l.SleuthConfig, l.SleuthConfig)
	fmt.Fprintf(w, "  backend logs     %s/logs/\n", l.Dir)
}

// shippedRules returns the alert rule files sleuth ships, by file name.
func shippedRules() (map[string][]byte, error) { return rules.Contents() }
