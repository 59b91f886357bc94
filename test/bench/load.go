package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// target is one webhook endpoint with the request body every hit sends and a check of the answer.
type target struct {
	name string
	url  string
	body []byte
	// check returns an error when the AdmissionReview answer is not what this case expects (e.g. a mutate that
	// returns no patch); such answers count as errors, as transport errors and non-2xx statuses do.
	check func(reviewAnswer) error
	// client keeps this target's keep-alive connections across attacks; dials counts the connections it opened.
	client *http.Client
	dials  atomic.Int64
}

// reviewAnswer is the part of an AdmissionReview answer the checks read.
type reviewAnswer struct {
	Response *struct {
		Allowed  bool     `json:"allowed"`
		Patch    []byte   `json:"patch"`
		Warnings []string `json:"warnings"`
		Result   *struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
	} `json:"response"`
}

func checkAnswer(body []byte, check func(reviewAnswer) error) error {
	var a reviewAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("answer is not an AdmissionReview: %v", err)
	}
	if a.Response == nil {
		return fmt.Errorf("answer has no response")
	}
	return check(a)
}

func wantAllowed(a reviewAnswer) error {
	if !a.Response.Allowed {
		return fmt.Errorf("denied: %+v", a.Response.Result)
	}
	return nil
}

func wantPatch(a reviewAnswer) error {
	if err := wantAllowed(a); err != nil {
		return err
	}
	if len(a.Response.Patch) == 0 {
		return fmt.Errorf("allowed without a patch")
	}
	return nil
}

func wantWarning(a reviewAnswer) error {
	if err := wantAllowed(a); err != nil {
		return err
	}
	if len(a.Response.Warnings) == 0 {
		return fmt.Errorf("allowed without a warning")
	}
	return nil
}

func wantDenied(code int32) func(reviewAnswer) error {
	return func(a reviewAnswer) error {
		if a.Response.Allowed || a.Response.Result == nil || a.Response.Result.Code != code {
			return fmt.Errorf("want a denial with code %d, got allowed=%v %+v", code, a.Response.Allowed, a.Response.Result)
		}
		return nil
	}
}

// newClient is an HTTPS/1.1 keep-alive client, as the API server calls webhooks (HTTP/2 is off on the server).
// dials, when not nil, counts the connections it opens.
func newClient(tlsConf *tls.Config, conns int, dials *atomic.Int64) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials != nil {
					dials.Add(1)
				}
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig:     tlsConf,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   false,
		},
	}
}

// sample accumulates the outcome of requests to one target.
type sample struct {
	latencies []time.Duration // successful and failed requests alike
	requests  int
	errors    int
	firstErr  string
	elapsed   time.Duration // wall time of the attacks
	// roundP99 holds the p99 of each merged round (see mergeRound).
	roundP99 []time.Duration
}

// mergeRound merges o as one round and records its p99.
func (s *sample) mergeRound(o sample) {
	s.roundP99 = append(s.roundP99, o.percentiles().p99)
	s.merge(o)
}

// medianRoundP99 is the median of the rounds' p99: a burst of foreign load on a shared machine spoils the p99 of the
// round it falls in, and the pooled p99 with it, but not the median of several rounds.
func (s *sample) medianRoundP99() time.Duration {
	if len(s.roundP99) == 0 {
		return 0
	}
	l := slices.Clone(s.roundP99)
	slices.Sort(l)
	if len(l)%2 == 1 {
		return l[len(l)/2]
	}
	return (l[len(l)/2-1] + l[len(l)/2]) / 2
}

func (s *sample) add(lat time.Duration, err error) {
	s.requests++
	s.latencies = append(s.latencies, lat)
	if err != nil {
		s.errors++
		if s.firstErr == "" {
			s.firstErr = err.Error()
		}
	}
}

func (s *sample) merge(o sample) {
	s.latencies = append(s.latencies, o.latencies...)
	s.requests += o.requests
	s.errors += o.errors
	s.elapsed += o.elapsed
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
}

// percentiles of the sample: nearest rank on the sorted latencies.
type percentiles struct{ p50, p90, p99, max time.Duration }

func (s *sample) percentiles() percentiles {
	if len(s.latencies) == 0 {
		return percentiles{}
	}
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	return percentiles{p50: quantile(l, 0.50), p90: quantile(l, 0.90), p99: quantile(l, 0.99), max: l[len(l)-1]}
}

// quantile is the nearest-rank q-quantile of sorted.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// openLoop offers rate requests per second for d with vegeta, whatever the answers' latency (new workers are started
// when all are busy, so a slow answer does not delay the next request: no coordinated omission from the client).
func openLoop(ctx context.Context, t *target, rate int, d time.Duration) sample {
	atk := vegeta.NewAttacker(vegeta.Client(t.client), vegeta.Workers(16), vegeta.MaxWorkers(1024))
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: t.url, Body: t.body,
		Header: http.Header{"Content-Type": []string{"application/json"}}})
	var s sample
	start := time.Now()
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	for r := range atk.Attack(tr, vegeta.Rate{Freq: rate, Per: time.Second}, d, t.name) {
		var err error
		switch {
		case r.Error != "":
			err = fmt.Errorf("%s", r.Error)
		case r.Code != http.StatusOK:
			err = fmt.Errorf("HTTP %d", r.Code)
		default:
			err = checkAnswer(r.Body, t.check)
		}
		s.add(r.Latency, err)
	}
	s.elapsed = time.Since(start)
	return s
}

// closedLoop runs conc workers, each sending its next request as soon as the previous answer arrived, for d: the
// achieved rate is the maximum throughput at that concurrency. Requests in flight at the end are waited for, not
// cancelled: cancelling would close their connections, and the next run would pay for new ones.
func closedLoop(ctx context.Context, t *target, conc int, d time.Duration) sample {
	deadline := time.Now().Add(d)
	results := make([]sample, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			s := &results[w]
			s.latencies = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := hit(context.WithoutCancel(ctx), t)
				s.add(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	var all sample
	for _, s := range results {
		all.merge(s)
	}
	all.elapsed = time.Since(start)
	return all
}

// hit sends one request and checks the answer.
func hit(ctx context.Context, t *target) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return checkAnswer(body, t.check)
}
