// Package audit keeps watching after admission, inside `serve`: it evaluates the opted-in namespaces from the
// informer cache with the report code (report.BuildObjects, the implementation `ha-webhook report` runs, over the
// cache's own objects), once the caches have synced, after every change (throttled) and at an interval. Every replica audits (it
// only reads) and exports the outcome as gauges (collector.go); one replica — the leader, when leader election is
// on — writes what the outcome implies: Events on workloads that turn non-compliant (changes.go) and PolicyReports
// (policyreport.go), in writer.go.
package audit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/report"
)

// Result is one completed audit.
type Result struct {
	Report    report.Report
	Completed time.Time
	Duration  time.Duration
	// Seq numbers the audits of this process from 1.
	Seq int64
}

// maxChangeLog bounds the changes kept for a writer that lags behind the audits.
const maxChangeLog = 10000

// loggedChange is a change and the audit that found it.
type loggedChange struct {
	seq    int64
	change Change
}

// Config says what the auditor reads and how often it runs.
type Config struct {
	// Options are the server's: mode, mutation and rules; the scope is the opted-in namespaces.
	Options report.Options
	// Interval re-audits even without a change (a PDB's status, a pod's readiness); > 0.
	Interval time.Duration
	// Debounce is the longest a change waits for its audit: changes within it share one.
	Debounce time.Duration
	// Watch are the kinds whose changes trigger an audit: those readCache lists.
	Watch []client.Object
}

// Auditor runs the audit. It is a manager.Runnable that runs on every replica.
type Auditor struct {
	cfg    Config
	cache  cache.Cache
	log    logr.Logger
	latest atomic.Pointer[Result]
	// changed is signalled (never blocking) by the informers' event handlers.
	changed chan struct{}

	mu          sync.Mutex
	subscribers []chan struct{}
	// changes between consecutive audits, oldest first, so that a writer that saw only some audits (it was busy, or
	// just became leader) still sees each change once.
	changes []loggedChange
	// dropped is the Seq of the newest audit whose changes were dropped from the log.
	dropped int64
	// failures counts audits that could not read the cache.
	failures atomic.Int64
	// first is closed when the first audit completes.
	first     chan struct{}
	firstOnce sync.Once
}

// New returns an auditor over c; it starts with the manager.
func New(cfg Config, c cache.Cache, log logr.Logger) *Auditor {
	return &Auditor{cfg: cfg, cache: c, log: log, changed: make(chan struct{}, 1), first: make(chan struct{})}
}

// First is closed once the first audit has completed.
func (a *Auditor) First() <-chan struct{} { return a.first }

// Latest is the last completed audit, or nil before the first.
func (a *Auditor) Latest() *Result { return a.latest.Load() }

// Failures is the number of audits that could not read the cache.
func (a *Auditor) Failures() int64 { return a.failures.Load() }

// ChangesSince returns the changes found by the audits after seq (oldest first), and the Seq of the latest audit.
// Changes older than the log's bound are lost, and said so by lost.
func (a *Auditor) ChangesSince(seq int64) (changes []Change, latest int64, lost bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.latest.Load(); r != nil {
		latest = r.Seq
	}
	for _, c := range a.changes {
		if c.seq > seq {
			changes = append(changes, c.change)
		}
	}
	return changes, latest, seq < a.dropped
}

// Subscribe returns a channel signalled after every completed audit (a signal may stand for several); read Latest.
func (a *Auditor) Subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	a.mu.Lock()
	a.subscribers = append(a.subscribers, ch)
	a.mu.Unlock()
	return ch
}

// NeedLeaderElection: every replica audits, so that each one's gauges are true wherever Prometheus scrapes.
func (a *Auditor) NeedLeaderElection() bool { return false }

// Start audits once the caches have synced, then after changes and at the interval, until ctx ends.
func (a *Auditor) Start(ctx context.Context) error {
	for _, o := range a.cfg.Watch {
		inf, err := a.cache.GetInformer(ctx, o, cache.BlockUntilSynced(false))
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { a.signal() },
			UpdateFunc: func(any, any) { a.signal() },
			DeleteFunc: func(any) { a.signal() },
		}); err != nil {
			return err
		}
	}
	if !a.cache.WaitForCacheSync(ctx) {
		return nil // ctx ended first
	}
	a.run(ctx)
	ticker := time.NewTicker(a.cfg.Interval)
	defer ticker.Stop()
	// due is armed by the first change after an audit and fires Debounce later: a steady stream of changes (pods
	// come and go all the time) is audited every Debounce, never postponed indefinitely.
	var due <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.changed:
			if due == nil {
				due = time.After(a.cfg.Debounce)
			}
		case <-due:
			due = nil
			a.run(ctx)
		case <-ticker.C:
			a.run(ctx)
		}
	}
}

func (a *Auditor) signal() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// run audits once and publishes the result. A failed read keeps the previous result: its age (the gauge of the
// last completed audit) tells that the audit is stale.
func (a *Auditor) run(ctx context.Context) {
	start := time.Now()
	in, err := readCache(ctx, a.cache)
	if err != nil {
		a.failures.Add(1)
		a.log.Error(err, "audit: reading the cache")
		return
	}
	r := &Result{Report: report.BuildObjects(in, a.cfg.Options)}
	r.Completed = time.Now()
	r.Duration = r.Completed.Sub(start)
	a.publish(r)
	a.log.V(1).Info("audit completed", "duration", r.Duration, "namespaces", r.Report.Summary.Namespaces,
		"workloads", r.Report.Summary.Workloads, "violating", r.Report.Summary.WorkloadsWithViolations, "summary", r.Report.Summary.Text)
}

// publish numbers r, logs its changes since the previous audit, makes it the latest and tells the subscribers.
func (a *Auditor) publish(r *Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r.Seq = 1
	if prev := a.latest.Load(); prev != nil {
		r.Seq = prev.Seq + 1
		for _, c := range Changes(prev.Report, r.Report) {
			a.changes = append(a.changes, loggedChange{r.Seq, c})
		}
		if n := len(a.changes) - maxChangeLog; n > 0 {
			a.dropped = a.changes[n-1].seq
			a.changes = append(a.changes[:0], a.changes[n:]...)
		}
	}
	a.latest.Store(r)
	a.firstOnce.Do(func() { close(a.first) })
	for _, ch := range a.subscribers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
