package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// readyResult is the ready_10k phase: how long a fresh `ha-webhook serve` takes, with the full fill in the cluster,
// from its start (exec) to its first /readyz 200 (its caches have synced: the initial lists of every cached kind,
// each object decoded and stripped) and to its first admission answered as expected.
type readyResult struct {
	Runs int `json:"runs"`
	// ReadySeconds and AdmissionSeconds are per run, in order.
	ReadySeconds     []float64 `json:"ready_seconds"`
	AdmissionSeconds []float64 `json:"admission_seconds"`
	ReadyMedianS     float64   `json:"ready_median_s"`
	ReadyMaxS        float64   `json:"ready_max_s"`
	AdmissionMedianS float64   `json:"admission_median_s"`
	AdmissionMaxS    float64   `json:"admission_max_s"`
	// PollMs is how often /readyz and the admission were tried: the resolution of the figures.
	PollMs float64 `json:"poll_interval_ms"`
	// Admission names the request: validate_10k's, allowed only once the cache holds the namespace's PDB.
	Admission string `json:"admission"`
}

// readyPoll is how often /readyz and the admission are tried.
const readyPoll = 10 * time.Millisecond

// timeToReady starts bin serve o.readyRuns times, a fresh process each with nothing else of ha-webhook's running,
// and measures from its start to the first /readyz 200 and to the first validate_10k request answered as that case
// expects (allowed: its PDB and HPA found in the cache; a request before the cache synced fails or waits). Between
// runs the control plane goes idle again, so every start lists the fill from an idle API server.
func (b *bench) timeToReady(ctx context.Context, bin string) (*readyResult, error) {
	t := b.targets["validate_10k"]
	res := &readyResult{Runs: b.o.readyRuns, PollMs: float64(readyPoll) / float64(time.Millisecond), Admission: t.name}
	for r := range b.o.readyRuns {
		b.settle(ctx, 20*time.Second)
		ready, admitted, err := b.startTimed(ctx, bin, t)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", r+1, err)
		}
		res.ReadySeconds = append(res.ReadySeconds, ready.Seconds())
		res.AdmissionSeconds = append(res.AdmissionSeconds, admitted.Seconds())
		b.p.printf("  run %d: /readyz 200 after %.2fs, first admission after %.2fs", r+1, ready.Seconds(), admitted.Seconds())
	}
	res.ReadyMedianS, res.ReadyMaxS = median(res.ReadySeconds), slices.Max(res.ReadySeconds)
	res.AdmissionMedianS, res.AdmissionMaxS = median(res.AdmissionSeconds), slices.Max(res.AdmissionSeconds)
	return res, nil
}

// startTimed starts one process and polls its /readyz and t's request against it until both succeed, then stops it.
func (b *bench) startTimed(ctx context.Context, bin string, t *target) (ready, admitted time.Duration, err error) {
	a, err := freeAddrs(false)
	if err != nil {
		return 0, 0, err
	}
	p, err := launch(b.serveCommand(ctx, bin, a), a)
	if err != nil {
		return 0, 0, err
	}
	defer p.stop()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	url := p.base + strings.TrimPrefix(t.url, b.base)
	client := newClient(b.tlsConf, 1, nil)
	client.Timeout = 30 * time.Second // a request may wait for the cache to sync
	defer client.CloseIdleConnections()

	// Each poller returns the time from the start to its first success.
	poll := func(try func() bool) (time.Duration, error) {
		for ctx.Err() == nil {
			if try() {
				return time.Since(p.started), nil
			}
			select {
			case err := <-p.exited:
				p.exited <- err // for stop
				return 0, fmt.Errorf("%s serve exited: %v\n%s", bin, err, p.logs.String())
			case <-time.After(readyPoll):
			case <-ctx.Done():
			}
		}
		return 0, fmt.Errorf("not ready within 60s: %v\n%s", ctx.Err(), p.logs.String())
	}
	var wg sync.WaitGroup
	var readyErr, admitErr error
	wg.Go(func() {
		ready, readyErr = poll(func() bool {
			resp, err := http.Get(p.healthURL)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	})
	wg.Go(func() {
		admitted, admitErr = poll(func() bool {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(t.body))
			if err != nil {
				return false
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return false
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			return err == nil && resp.StatusCode == http.StatusOK && checkAnswer(body, t.check) == nil
		})
	})
	wg.Wait()
	if readyErr != nil {
		return 0, 0, readyErr
	}
	return ready, admitted, admitErr
}
