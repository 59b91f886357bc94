package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Traffic is the client: steady GETs to every Service through the proxy, each Service on its own loop, one request
// every Interval (a request that fails or times out is counted and the loop goes on).
type Traffic struct {
	ProxyURL string
	Interval time.Duration
	Timeout  time.Duration
	// Start is second 0 of the per-second counts (Run's start when zero).
	Start time.Time

	mu    sync.Mutex
	stats map[string]*ServiceStats
}

// ServiceStats counts the GETs to one Service.
type ServiceStats struct {
	Sent, Failed int64
	// Reasons counts failures by cause: "502 upstream: connection refused", "503 no ready endpoint", …
	Reasons map[string]int64
	// FirstFailure and LastFailure bound the failures in time (zero when none).
	FirstFailure, LastFailure time.Time
	// SentPerSecond and FailedPerSecond count the GETs that ended in each second since Traffic.Start.
	SentPerSecond, FailedPerSecond []int64
}

// Run sends GETs to each service ("namespace/name") until ctx ends.
func (t *Traffic) Run(ctx context.Context, services []string) {
	t.mu.Lock()
	if t.Start.IsZero() {
		t.Start = time.Now()
	}
	t.stats = map[string]*ServiceStats{}
	for _, s := range services {
		t.stats[s] = &ServiceStats{Reasons: map[string]int64{}}
	}
	t.mu.Unlock()
	client := &http.Client{Timeout: t.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: len(services) + 1}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Go(func() {
			ticker := time.NewTicker(t.Interval)
			defer ticker.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ticker.C:
				}
				reason := get(client, t.ProxyURL+"/"+s+"/")
				t.record(s, reason)
			}
		})
	}
	wg.Wait()
}

// get returns "" on a 200 with a body, else why the GET failed.
func get(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		return "client: " + errorClass(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return "client: reading the body: " + errorClass(err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	case len(body) == 0:
		return "200 with an empty body"
	}
	return ""
}

func (t *Traffic) record(service, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats[service]
	now := time.Now()
	sec := max(int(now.Sub(t.Start)/time.Second), 0)
	for len(s.SentPerSecond) <= sec {
		s.SentPerSecond = append(s.SentPerSecond, 0)
		s.FailedPerSecond = append(s.FailedPerSecond, 0)
	}
	s.Sent++
	s.SentPerSecond[sec]++
	if reason == "" {
		return
	}
	s.Failed++
	s.FailedPerSecond[sec]++
	s.Reasons[reason]++
	if s.FirstFailure.IsZero() {
		s.FirstFailure = now
	}
	s.LastFailure = now
}

// Stats returns a copy of the counts of one Service.
func (t *Traffic) Stats(service string) ServiceStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.stats[service]
	if !ok {
		return ServiceStats{Reasons: map[string]int64{}}
	}
	out := *s
	out.Reasons = maps.Clone(s.Reasons)
	out.SentPerSecond, out.FailedPerSecond = slices.Clone(s.SentPerSecond), slices.Clone(s.FailedPerSecond)
	return out
}

// formatReasons renders failure causes, most frequent first: "412 × 502 upstream: connection refused; 40 × 503 …".
func formatReasons(reasons map[string]int64) string {
	type rc struct {
		reason string
		n      int64
	}
	var list []rc
	for r, n := range reasons {
		list = append(list, rc{r, n})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].reason < list[j].reason
	})
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = fmt.Sprintf("%d × %s", x.n, x.reason)
	}
	return strings.Join(parts, "; ")
}
