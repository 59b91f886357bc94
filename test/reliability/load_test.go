package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// podReview is the AdmissionReview the API server sends for a ReplicaSet's new pod; %s is the request uid.
const podReview = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"%s",` +
	`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
	`"namespace":"load","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller"},` +
	`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-7d9f8-","labels":{"app":"web"}},` +
	`"spec":{"restartPolicy":"Always","terminationGracePeriodSeconds":30,"containers":[{"name":"app",` +
	`"image":"registry.example/shop/web:1.4.2","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}]}]}}}}`

// admitPod sends one pod admission and checks the answer is what the API server needs: HTTP 200, an AdmissionReview
// for this uid, allowed, with a patch. Anything else — a connection error included — is a failed admission.
func admitPod(c *http.Client, url, uid string) (connClose bool, err error) {
	return admitPodBody(c, url, fmt.Sprintf(podReview, uid), uid)
}

// admitPodBody posts the pod AdmissionReview reviewBody (whose uid is uid) and checks that it was mutated.
func admitPodBody(c *http.Client, url, reviewBody, uid string) (connClose bool, err error) {
	connClose, body, err := postReview(c, url, reviewBody)
	if err != nil {
		return connClose, err
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Response == nil {
		return connClose, fmt.Errorf("not an AdmissionReview: %.200s", body)
	}
	r := review.Response
	switch {
	case string(r.UID) != uid:
		return connClose, fmt.Errorf("answer for uid %q, want %q", r.UID, uid)
	case !r.Allowed:
		return connClose, fmt.Errorf("refused: %+v", r.Result)
	case !bytes.Contains(r.Patch, []byte(names.AnnotationInjected)) && !bytes.Contains(r.Patch, []byte(strings.ReplaceAll(names.AnnotationInjected, "/", "~1"))):
		return connClose, fmt.Errorf("no mutation in the answer: %s", r.Patch)
	}
	return connClose, nil
}

// postReview POSTs an AdmissionReview and returns the body of an HTTP 200 answer; any other status is an error.
func postReview(c *http.Client, url, reviewBody string) (connClose bool, body []byte, err error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(reviewBody))
	if err != nil {
		return false, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return false, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return resp.Close, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Close, nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	return resp.Close, body, nil
}

// outcome is one admission sent by the load generator.
type outcome struct {
	start, end time.Time
	backend    string
	err        error
	// connClose: the server asked to close the connection after this answer.
	connClose bool
}

// target says where the next request goes; ok=false holds it (no ready backend as far as the client knows).
type target func() (url, backend string, ok bool)

// loadGen sends rate admissions per second, each on its own goroutine, until stopped. Every freshEvery-th request
// (0: none) opens a new TLS connection; the others share a keep-alive pool. With maxOutstanding > 0, a request due
// while that many are unanswered is not sent but counted in capped, as a client with its own in-flight limit does.
type loadGen struct {
	rate           int
	keepAlive      *http.Client
	fresh          *http.Client
	freshEvery     int
	target         target
	maxOutstanding int
	// admit sends one admission; nil: admitPod, an AdmissionReview POSTed to the target.
	admit func(c *http.Client, url, uid string) (connClose bool, err error)

	mu          sync.Mutex
	outcomes    []outcome
	held        atomic.Int64
	capped      atomic.Int64
	outstanding atomic.Int64
	seq         atomic.Int64
	stop        chan struct{}
	halted      sync.Once
	stopped     chan struct{}
	inflight    sync.WaitGroup
}

func (l *loadGen) start() *loadGen {
	l.stop, l.stopped = make(chan struct{}), make(chan struct{})
	go l.run()
	return l
}

func (l *loadGen) run() {
	defer close(l.stopped)
	const tick = 10 * time.Millisecond
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	begin := time.Now()
	sent := 0
	for {
		select {
		case <-l.stop:
			return
		case now := <-ticker.C:
			// Catch up on the schedule rather than send per tick, so a late tick does not lower the rate.
			due := int(now.Sub(begin).Seconds() * float64(l.rate))
			for ; sent < due; sent++ {
				l.send()
			}
		}
	}
}

func (l *loadGen) send() {
	url, backend, ok := l.target()
	if !ok {
		l.held.Add(1)
		return
	}
	if l.maxOutstanding > 0 && l.outstanding.Load() >= int64(l.maxOutstanding) {
		l.capped.Add(1)
		return
	}
	l.outstanding.Add(1)
	n := l.seq.Add(1)
	c := l.keepAlive
	if l.freshEvery > 0 && n%int64(l.freshEvery) == 0 {
		c = l.fresh
	}
	l.inflight.Add(1)
	go func() {
		defer l.inflight.Done()
		o := outcome{start: time.Now(), backend: backend}
		admit := l.admit
		if admit == nil {
			admit = admitPod
		}
		o.connClose, o.err = admit(c, url, fmt.Sprintf("load-%08d", n))
		o.end = time.Now()
		l.outstanding.Add(-1)
		l.mu.Lock()
		l.outcomes = append(l.outcomes, o)
		l.mu.Unlock()
	}()
}

// halt stops sending; the requests in flight go on.
func (l *loadGen) halt() { l.halted.Do(func() { close(l.stop) }) }

// finish stops sending, waits for the requests in flight and returns every outcome in start order.
func (l *loadGen) finish() []outcome {
	l.halt()
	<-l.stopped
	l.inflight.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	sort.Slice(l.outcomes, func(i, j int) bool { return l.outcomes[i].start.Before(l.outcomes[j].start) })
	return l.outcomes
}

// phase is a named interval of a scenario's timeline; a request belongs to the phase in which it was sent.
type phase struct {
	name string
	from time.Time
}

// tally counts requests and failures per phase (phases in time order; a request before the first belongs to it).
type tally struct {
	name         string
	sent, failed int
	errors       map[string]int
	// took are the latencies of the successful requests.
	took []time.Duration
}

// latencies summarises the successful requests' latencies over all phases.
func latencies(ts []*tally) string {
	var all []time.Duration
	for _, t := range ts {
		all = append(all, t.took...)
	}
	if len(all) == 0 {
		return ""
	}
	q := func(p float64) time.Duration { return quantile(all, p).Round(100 * time.Microsecond) }
	return fmt.Sprintf("latency of the successful admissions: p50 %s, p99 %s, max %s", q(0.5), q(0.99), q(1))
}

func tallyPhases(outcomes []outcome, phases []phase) []*tally {
	out := make([]*tally, len(phases))
	for i, p := range phases {
		out[i] = &tally{name: p.name, errors: map[string]int{}}
	}
	for _, o := range outcomes {
		i := 0
		for j, p := range phases {
			if !o.start.Before(p.from) {
				i = j
			}
		}
		out[i].sent++
		if o.err != nil {
			out[i].failed++
			out[i].errors[errorClass(o.err)]++
		} else {
			out[i].took = append(out[i].took, o.end.Sub(o.start))
		}
	}
	return out
}

// errorClass shortens an error to its kind, for the figures.
func errorClass(err error) string {
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "EOF", "broken pipe", "timeout", "HTTP 5", "refused:", "certificate"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return testenv.Tail(s, 80)
}

func totals(ts []*tally) (sent, failed int) {
	for _, t := range ts {
		sent += t.sent
		failed += t.failed
	}
	return sent, failed
}

// report logs the figures of a scenario in the table format of docs/reliability.md.
func report(t *testing.T, scenario string, ts []*tally, extra string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "FIGURES %s\n| phase | sent | failed | errors |\n|---|---:|---:|---|\n", scenario)
	for _, x := range ts {
		var errs []string
		for k, v := range x.errors {
			errs = append(errs, fmt.Sprintf("%s ×%d", k, v))
		}
		sort.Strings(errs)
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", x.name, x.sent, x.failed, strings.Join(errs, ", "))
	}
	sent, failed := totals(ts)
	fmt.Fprintf(&b, "| **total** | **%d** | **%d** | |\n", sent, failed)
	if lat := latencies(ts); lat != "" {
		b.WriteString(lat + "\n")
	}
	if extra != "" {
		b.WriteString(extra + "\n")
	}
	t.Log(b.String())
}

// firstErrors returns up to n failed outcomes, for a test failure message.
func firstErrors(outcomes []outcome, n int) string {
	var b strings.Builder
	for _, o := range outcomes {
		if o.err != nil && n > 0 {
			fmt.Fprintf(&b, "\n  %s %s: %v", o.start.Format("15:04:05.000"), o.backend, o.err)
			n--
		}
	}
	return b.String()
}

// readinessFollower polls a backend's /readyz like the kubelet and the endpoints pipeline do: a change it sees
// takes effect for clients after lag (endpoint removal, EndpointSlice propagation, kube-proxy or the API server's
// endpoint resolution).
type readinessFollower struct {
	url       string
	poll, lag time.Duration
	listed    atomic.Bool
	// firstNotReady is when the poller first saw /readyz fail; unlisted when clients stopped being sent there.
	mu                      sync.Mutex
	firstNotReady, unlisted time.Time
	stop                    chan struct{}
}

func followReadiness(url string, poll, lag time.Duration) *readinessFollower {
	f := &readinessFollower{url: url, poll: poll, lag: lag, stop: make(chan struct{})}
	f.listed.Store(httpStatus(url) == http.StatusOK)
	go f.run()
	return f
}

func (f *readinessFollower) run() {
	ticker := time.NewTicker(f.poll)
	defer ticker.Stop()
	var pending *time.Timer
	seen := f.listed.Load()
	for {
		select {
		case <-f.stop:
			if pending != nil {
				pending.Stop()
			}
			return
		case <-ticker.C:
		}
		ready := httpStatus(f.url) == http.StatusOK
		if ready == seen {
			continue
		}
		seen = ready
		if pending != nil {
			pending.Stop()
		}
		now := time.Now()
		if !ready {
			f.mu.Lock()
			if f.firstNotReady.IsZero() {
				f.firstNotReady = now
			}
			f.mu.Unlock()
		}
		pending = time.AfterFunc(f.lag, func() {
			f.listed.Store(ready)
			if !ready {
				f.mu.Lock()
				if f.unlisted.IsZero() {
					f.unlisted = time.Now()
				}
				f.mu.Unlock()
			}
		})
	}
}

func (f *readinessFollower) times() (firstNotReady, unlisted time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.firstNotReady, f.unlisted
}

func (f *readinessFollower) close() { close(f.stop) }
