package certmanager

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// loadGen creates pods through the API server at a steady rate, each a real CREATE that the API server sends to
// ha-webhook's mutating webhook (failurePolicy Fail here: a webhook call that fails is a failed creation, which is
// what a rotation must never cause). Requests are started on a ticker, not back to back, so a slow phase does not
// lower the rate it is measured at.
type loadGen struct {
	c       client.Client
	ns      string
	rate    int
	workers int

	mu       sync.Mutex
	outcomes []outcome
	backlog  int // ticks skipped because every worker was busy (the generator's own limit, reported)
	stop     chan struct{}
	done     sync.WaitGroup
}

type outcome struct {
	at      time.Time
	latency time.Duration
	err     error
	mutated bool
}

// budget is how long one creation may take before it counts as failed: the webhook's timeoutSeconds (5) plus room
// for a two-core machine shared with other jobs.
const budget = 10 * time.Second

func (g *loadGen) start() *loadGen {
	g.stop = make(chan struct{})
	jobs := make(chan struct{}, g.workers)
	for range g.workers {
		g.done.Add(1)
		go func() {
			defer g.done.Done()
			for range jobs {
				g.one()
			}
		}()
	}
	g.done.Add(1)
	go func() {
		defer g.done.Done()
		defer close(jobs)
		tick := time.NewTicker(time.Second / time.Duration(g.rate))
		defer tick.Stop()
		for {
			select {
			case <-g.stop:
				return
			case <-tick.C:
				select {
				case jobs <- struct{}{}:
				default:
					g.mu.Lock()
					g.backlog++
					g.mu.Unlock()
				}
			}
		}
	}()
	return g
}

func (g *loadGen) one() {
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "load-", Namespace: g.ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
	start := time.Now()
	err := g.c.Create(ctx, pod)
	o := outcome{at: start, latency: time.Since(start), err: err,
		mutated: err == nil && pod.Annotations[names.AnnotationInjected] != ""}
	g.mu.Lock()
	g.outcomes = append(g.outcomes, o)
	g.mu.Unlock()
}

// finish stops the generator, waits for the requests in flight, and returns every outcome.
func (g *loadGen) finish() ([]outcome, int) {
	close(g.stop)
	g.done.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.outcomes, g.backlog
}

// phase is a named stretch of the run, from start to the next phase's start.
type phase struct {
	name  string
	start time.Time
}

type tally struct {
	phase                             string
	sent, answered, failed, unmutated int
	errors                            map[string]int
	firstFail, lastFail               time.Time
	maxLatency                        time.Duration
}

// tallyPhases counts each outcome in the phase its request started in.
func tallyPhases(outcomes []outcome, phases []phase) []*tally {
	ts := make([]*tally, len(phases))
	for i, p := range phases {
		ts[i] = &tally{phase: p.name, errors: map[string]int{}}
	}
	for _, o := range outcomes {
		i := sort.Search(len(phases), func(i int) bool { return phases[i].start.After(o.at) }) - 1
		if i < 0 {
			i = 0
		}
		t := ts[i]
		t.sent++
		t.maxLatency = max(t.maxLatency, o.latency)
		switch {
		case o.err != nil:
			t.failed++
			t.errors[errorClass(o.err)]++
			if t.firstFail.IsZero() || o.at.Before(t.firstFail) {
				t.firstFail = o.at
			}
			if o.at.After(t.lastFail) {
				t.lastFail = o.at
			}
		case !o.mutated:
			t.answered++
			t.unmutated++
		default:
			t.answered++
		}
	}
	return ts
}

// errorClass shortens an API error to the part that says why the webhook call failed.
func errorClass(err error) string {
	s := err.Error()
	if i := strings.Index(s, "failed calling webhook"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 260 {
		s = s[:260] + "…"
	}
	return s
}

// format is the tally's line; failures are placed on the test's timeline.
func (t *tally) format(tl *timeline) string {
	s := fmt.Sprintf("%-58s sent %5d  answered %5d  failed %4d  unmutated %d  max latency %s", t.phase, t.sent,
		t.answered, t.failed, t.unmutated, t.maxLatency.Round(time.Millisecond))
	if t.failed > 0 {
		s += fmt.Sprintf("  failures from %s to %s (%s)", tl.at(t.firstFail), tl.at(t.lastFail),
			t.lastFail.Sub(t.firstFail).Round(time.Millisecond))
	}
	return s
}
