package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/report"
)

// Options of a drill. DefaultOptions keeps it short enough for CI; docs/drill.md explains each choice.
type Options struct {
	// Nodes in the pool, each replaced once.
	Nodes int
	// PreStopSleepSeconds is the opted-in pods' ha-webhook.io/prestop-sleep-seconds: it must exceed ProxyLag (plus
	// the EndpointSlice controller's own delay) for no GET to fail.
	PreStopSleepSeconds int
	// ProxyLag is how late the proxy applies endpoint changes (Kong's controller syncs every 3 s).
	ProxyLag time.Duration
	// AppStartDelay is each application's start-up time: from container start to listening.
	AppStartDelay time.Duration
	// RequestInterval is the pause between two GETs to one Service.
	RequestInterval time.Duration
	// EvictionRetry is the drain's pause after a 429.
	EvictionRetry time.Duration
	// DrainTimeout bounds one node's drain; beyond it the upgrade stalled.
	DrainTimeout time.Duration
	// Settle is how long traffic keeps flowing after the upgrade, so late failures are counted too.
	Settle time.Duration
	Logf   func(string, ...any)
}

// DefaultOptions are the drill's defaults.
func DefaultOptions() Options {
	return Options{
		Nodes:               3,
		PreStopSleepSeconds: 7,
		ProxyLag:            3 * time.Second,
		AppStartDelay:       4 * time.Second,
		RequestInterval:     50 * time.Millisecond,
		EvictionRetry:       time.Second,
		DrainTimeout:        2 * time.Minute,
		Settle:              5 * time.Second,
		Logf:                func(string, ...any) {},
	}
}

// Validate rejects options under which the drill proves nothing.
func (o Options) Validate() error {
	var errs []error
	if o.Nodes < 2 {
		errs = append(errs, fmt.Errorf("need at least 2 nodes, got %d", o.Nodes))
	}
	if time.Duration(o.PreStopSleepSeconds)*time.Second <= o.ProxyLag {
		errs = append(errs, fmt.Errorf("the preStop sleep (%ds) must exceed the proxy lag (%s), or opted-in GETs fail by design",
			o.PreStopSleepSeconds, o.ProxyLag))
	}
	if o.RequestInterval <= 0 || o.EvictionRetry <= 0 || o.DrainTimeout <= 0 {
		errs = append(errs, errors.New("intervals and timeouts must be > 0"))
	}
	return errors.Join(errs...)
}

// Harness is what every drill run shares: the control plane, the runtime playing the pods' processes, and the
// Kong-like proxy listening on loopback.
type Harness struct {
	Cluster  *Cluster
	Runtime  *Runtime
	Proxy    *Proxy
	ProxyURL string
	Options  Options
	stop     context.CancelFunc
	done     chan struct{}
}

// StartHarness starts the control plane, the runtime and the proxy.
func StartHarness(ctx context.Context, o Options) (*Harness, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c, err := StartCluster(ctx, o.Logf)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &Harness{Cluster: c, Options: o, stop: cancel, done: make(chan struct{})}
	h.Runtime = NewRuntime(c.Clientset, o.AppStartDelay, o.Logf)
	h.Proxy = NewProxy(c.Clientset, h.Runtime, o.ProxyLag, o.Logf)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, errors.Join(err, c.Stop())
	}
	h.ProxyURL = "http://" + l.Addr().String()
	srv := &http.Server{Handler: h.Proxy, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- h.Runtime.Run(hctx) }()
	go func() { errc <- h.Proxy.Run(hctx) }()
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	go func() {
		<-hctx.Done()
		_ = srv.Close()
		close(h.done)
	}()
	// The runtime and the proxy must see every pod and EndpointSlice before the fleet is created.
	if err := c.waitFor(ctx, "the runtime's and the proxy's informers to sync", 30*time.Second, func(context.Context) (bool, error) {
		select {
		case err := <-errc:
			return false, fmt.Errorf("harness: %w", err)
		default:
		}
		return h.Runtime.informer.HasSynced() && h.Proxy.informer.HasSynced(), nil
	}); err != nil {
		return nil, errors.Join(err, h.Stop())
	}
	go func() {
		if err := <-errc; err != nil {
			o.Logf("harness: %v", err)
		}
	}()
	return h, nil
}

// Stop ends the harness and the control plane.
func (h *Harness) Stop() error {
	h.stop()
	<-h.done
	return h.Cluster.Stop()
}

// RunDrill deploys a fleet in its own namespaces and node pool (named after run), reports on it, sends traffic,
// upgrades every node and counts what failed. mode is the opted-in namespaces' ha-webhook.io/mode: enforce injects,
// audit only warns.
func (h *Harness) RunDrill(ctx context.Context, run string, mode policy.Mode) (Result, error) {
	o := h.Options
	c := h.Cluster.Clientset
	res := Result{Run: run, Mode: mode}
	fleet := NewFleet(run)

	var (
		nodes []string
		err   error
	)
	for i := range o.Nodes {
		name := fmt.Sprintf("%s-%d", run, i+1)
		if err := CreateNode(ctx, c, name, run); err != nil {
			return res, err
		}
		nodes = append(nodes, name)
	}
	res.CacheLagDenials, err = fleet.Create(ctx, c, FleetOptions{Mode: mode, PreStopSleepSeconds: o.PreStopSleepSeconds})
	if err != nil {
		return res, err
	}
	o.Logf("%s: fleet created: %d workloads, %d PDBs on %d nodes", run, len(fleet.Apps), len(fleet.PDBs()), len(nodes))
	if res.CacheLagDenials > 0 {
		o.Logf("%s: the webhook denied a workload created right after its PDB %d time(s) (pdb-missing: its informer cache had not seen the PDB yet); retried",
			run, res.CacheLagDenials)
	}
	if err := h.waitSteady(ctx, fleet, 3*time.Minute); err != nil {
		return res, fmt.Errorf("%s: before the upgrade: %w", run, err)
	}

	pods, err := c.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: fleetLabel})
	if err != nil {
		return res, err
	}
	for _, p := range pods.Items {
		if slices.Contains(fleet.OptedIn, p.Namespace) && p.DeletionTimestamp == nil {
			res.Pods++
			if p.Annotations[names.AnnotationInjected] != "" {
				res.Injected++
			}
		}
	}

	// What `ha-webhook report` says before the upgrade: with --all-namespaces, and with -n for this run's namespaces
	// only (the report of a later run would otherwise show the earlier run's fleet too).
	ropts := report.DefaultOptions()
	ropts.Scope = report.Scope{AllNamespaces: true}
	if res.Report, err = report.Run(ctx, h.Cluster.Env.Client, ropts); err != nil {
		return res, fmt.Errorf("ha-webhook report --all-namespaces: %w", err)
	}
	ropts.Scope = report.Scope{Namespaces: fleet.Namespaces()}
	if res.RunReport, err = report.Run(ctx, h.Cluster.Env.Client, ropts); err != nil {
		return res, fmt.Errorf("ha-webhook report -n: %w", err)
	}

	tctx, stopTraffic := context.WithCancel(ctx)
	from := time.Now()
	traffic := &Traffic{ProxyURL: h.ProxyURL, Interval: o.RequestInterval, Timeout: 2 * time.Second, Start: from}
	services := make([]string, len(fleet.Apps))
	for i, a := range fleet.Apps {
		services[i] = a.Key()
	}
	trafficDone := make(chan struct{})
	go func() {
		traffic.Run(tctx, services)
		close(trafficDone)
	}()
	select { // steady traffic before the first node goes
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}

	o.Logf("%s: upgrading %d nodes", run, len(nodes))
	res.Upgrade, err = Upgrade(ctx, c, nodes, UpgradeOptions{Pool: run, EvictionRetry: o.EvictionRetry, DrainTimeout: o.DrainTimeout, Logf: o.Logf})
	if err == nil && !res.Upgrade.Stalled() {
		err = h.waitSteady(ctx, fleet, 2*time.Minute)
	}
	if err == nil {
		time.Sleep(o.Settle)
	}
	stopTraffic()
	<-trafficDone
	to := time.Now()
	res.Traffic = to.Sub(from)
	if err != nil {
		return res, fmt.Errorf("%s: %w", run, err)
	}
	if err := h.Cluster.CheckComponents(); err != nil {
		return res, err
	}

	h.count(&res, fleet, traffic, from, to)
	res.Timeline = h.timeline(res, fleet, traffic, from, to)
	return res, nil
}

// waitSteady waits until every Deployment and StatefulSet of the fleet has all its replicas updated and ready, no
// pod of the fleet is terminating, every pod's process listens (a pod without a readiness probe is Ready before
// that), and the proxy routes every Service to all of its replicas.
func (h *Harness) waitSteady(ctx context.Context, f Fleet, timeout time.Duration) error {
	c := h.Cluster.Clientset
	return h.Cluster.waitFor(ctx, "the fleet to be ready and routed", timeout, func(ctx context.Context) (bool, error) {
		for _, a := range f.Apps {
			steady, err := workloadSteady(ctx, c, a)
			if err != nil {
				return false, err
			}
			if !steady || h.Proxy.Endpoints(a.Key()) != int(a.Replicas) {
				return false, nil
			}
		}
		for _, ns := range f.Namespaces() {
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !h.Runtime.Listening(p.UID) {
					return false, nil
				}
			}
		}
		return true, nil
	})
}
