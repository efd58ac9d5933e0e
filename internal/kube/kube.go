// Package kube provides sleuth's read-only Kubernetes toolset: typed getters
// for the kinds an investigation needs, a generic Get/List for any kind
// (CRDs included) through discovery, events, owner chains, rollout history,
// quotas, bounded container logs and compact kubectl-describe-like
// renderings. Every call is bounded in time and size and can be recorded as
// a toolcall.Call.
//
// Secrets are never read: no function gets or lists them, Get and List
// refuse the kind before any request, and a pod's secret references are
// reported by name (and key) from its spec.
package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/sleuth-sre/sleuth/internal/toolcall"
)

// Backend is the backend name of recorded calls.
const Backend = "kubernetes"

// Defaults of Config.
const (
	// DefaultTimeout bounds one toolset call, all of its requests included.
	DefaultTimeout = 15 * time.Second
	// DefaultQPS and DefaultBurst are above client-go's 5/10, which an
	// investigation fanning out over pods, owners and events hits at once,
	// and still gentle on an API server.
	DefaultQPS   = 20
	DefaultBurst = 40
)

// Bounds on what one call reads.
const (
	// pageSize is the Limit of every list request.
	pageSize = 250
	// maxListItems bounds the items a list call returns (and scans, when it
	// filters client-side): enough for a namespace's pods or a deployment's
	// ReplicaSets, small enough for a report.
	maxListItems = 500
	// maxScanItems bounds the items scanned for a match or a time window
	// (nodes by address, namespace events) before giving up.
	maxScanItems = 5000
)

// Config says how to reach the cluster.
type Config struct {
	// Kubeconfig is a kubeconfig file; empty: in-cluster when running in a
	// pod, else $KUBECONFIG or ~/.kube/config.
	Kubeconfig string `yaml:"kubeconfig"`
	// Context is the kubeconfig context; empty: the current one.
	Context string `yaml:"context"`
	// QPS and Burst limit requests client-side (0: DefaultQPS, DefaultBurst).
	QPS   float32 `yaml:"qps"`
	Burst int     `yaml:"burst"`
	// Timeout bounds each toolset call (0: DefaultTimeout).
	Timeout time.Duration `yaml:"timeout"`
}

// Client is the toolset. It is safe for concurrent use.
type Client struct {
	cs  kubernetes.Interface
	dyn dynamic.Interface
	// mapper maps kinds, resources and short names (po, deploy, cert) to
	// resources like kubectl does; reset drops its discovery cache, for
	// CRDs installed after it was filled.
	mapper  meta.RESTMapperWithContext
	reset   func(context.Context)
	timeout time.Duration
	rec     *toolcall.Recorder
}

// New connects to the cluster cfg describes. No request is made until the
// first call.
func New(cfg Config) (*Client, error) {
	rc, err := restConfig(cfg, rest.InClusterConfig)
	if err != nil {
		return nil, err
	}
	c, err := NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout > 0 {
		c.timeout = cfg.Timeout
	}
	return c, nil
}

// restConfig picks in-cluster config when no kubeconfig or context is
// asked for and the process runs in a pod, else the kubeconfig.
func restConfig(cfg Config, inCluster func() (*rest.Config, error)) (*rest.Config, error) {
	var rc *rest.Config
	if cfg.Kubeconfig == "" && cfg.Context == "" {
		c, err := inCluster()
		switch {
		case err == nil:
			rc = c
		case !errors.Is(err, rest.ErrNotInCluster):
			return nil, fmt.Errorf("in-cluster Kubernetes config: %w", err)
		}
	}
	if rc == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = cfg.Kubeconfig
		c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
			&clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
		if err != nil {
			where := cfg.Kubeconfig
			if where == "" {
				where = "$KUBECONFIG or ~/.kube/config"
			}
			return nil, fmt.Errorf("load kubeconfig %s (context %q): %w; set kubernetes.kubeconfig or run sleuth in a pod", where, cfg.Context, err)
		}
		rc = c
	}
	rc.QPS, rc.Burst = cfg.QPS, cfg.Burst
	return rc, nil
}

// NewForConfig returns a toolset using rc (copied; QPS and Burst get the
// package defaults when zero). Calls time out after rc.Timeout, or
// DefaultTimeout when it is zero.
func NewForConfig(rc *rest.Config) (*Client, error) {
	rc = rest.CopyConfig(rc)
	if rc.QPS == 0 {
		rc.QPS = DefaultQPS
	}
	if rc.Burst == 0 {
		rc.Burst = DefaultBurst
	}
	timeout := rc.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if rc.UserAgent == "" {
		rc.UserAgent = "sleuth"
	}
	// client-go prints server warnings (deprecated APIs) through klog to
	// stderr; a read-only tool has nothing to do about them.
	rc.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes dynamic client for %s: %w", rc.Host, err)
	}
	cached := memory.NewMemCacheClientWithContext(discovery.ToDiscoveryInterfaceWithContext(cs.Discovery()))
	deferred := restmapper.NewDeferredDiscoveryRESTMapperWithContext(cached)
	return &Client{
		cs:      cs,
		dyn:     dyn,
		mapper:  restmapper.NewShortcutExpanderWithContext(deferred, cached, nil),
		reset:   deferred.ResetWithContext,
		timeout: timeout,
	}, nil
}

// WithRecorder returns a copy of c that records every call in r.
func (c *Client) WithRecorder(r *toolcall.Recorder) *Client {
	cp := *c
	cp.rec = r
	return &cp
}

// WithTimeout returns a copy of c whose calls time out after d (each call,
// all of its requests included).
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	if d > 0 {
		cp.timeout = d
	}
	return &cp
}

// ErrSecretRefused is returned for any attempt to read Secrets.
var ErrSecretRefused = errors.New("reading Secrets is refused: sleuth never reads secret data; " +
	"a pod's secret references are in its spec (Describe the pod)")

// call is one toolset call in progress: its timeout and its record.
type call struct {
	ctx    context.Context
	cancel context.CancelFunc
	p      *toolcall.Pending
}

func (c *Client) start(ctx context.Context, tool string, args map[string]string, desc string) *call {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	return &call{ctx: ctx, cancel: cancel, p: c.rec.Start(tool, Backend, args, desc)}
}

// done records the outcome: NotFound is no_data, as is an empty answer
// (empty says so), any other error is an error. render is called only on
// success and when recording.
func (cl *call) done(err error, empty bool, truncated bool, render func() string) {
	defer cl.cancel()
	if cl.p == nil {
		return
	}
	if err != nil && apierrors.IsNotFound(err) {
		cl.p.Done(toolcall.NoData, err.Error(), false, nil)
		return
	}
	cl.p.Finish(err, empty, truncated, render)
}

// kubectl renders the equivalent kubectl command line.
func kubectl(verb, resource, namespace string, rest ...string) string {
	parts := []string{"kubectl", verb}
	if resource != "" {
		parts = append(parts, resource)
	}
	if namespace != "" {
		parts = append(parts, "-n", namespace)
	}
	for _, r := range rest {
		if r != "" {
			parts = append(parts, r)
		}
	}
	return strings.Join(parts, " ")
}

func args(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}
