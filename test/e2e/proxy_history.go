package e2e

import (
	"slices"
	"time"
)

// LongestWithoutEndpoints is the longest time within [from, to] during which the proxy had no ready endpoint for the
// Service (a Service it never heard of has had none throughout).
func (p *Proxy) LongestWithoutEndpoints(service string, from, to time.Time) time.Duration {
	p.mu.Lock()
	h := slices.Clone(p.history[service])
	p.mu.Unlock()
	var longest time.Duration
	zeroSince := from // the count before the first change is 0
	zero := true
	for _, c := range h {
		if !c.at.After(from) {
			zero = c.count == 0
			continue
		}
		if c.at.After(to) {
			break
		}
		switch {
		case zero && c.count > 0:
			longest = max(longest, c.at.Sub(zeroSince))
			zero = false
		case !zero && c.count == 0:
			zeroSince = c.at
			zero = true
		}
	}
	if zero {
		longest = max(longest, to.Sub(zeroSince))
	}
	return longest
}

// LowestEndpoints is, for each of the seconds from from on, the fewest endpoints the proxy routed the services to
// together during that second (what a GET could reach, the proxy's lag included).
func (p *Proxy) LowestEndpoints(services []string, from time.Time, seconds int) []int {
	type event struct {
		at    time.Time
		delta int
	}
	var events []event
	sum := 0 // at from
	p.mu.Lock()
	for _, s := range services {
		last := 0
		for _, c := range p.history[s] {
			if c.at.After(from) {
				events = append(events, event{c.at, c.count - last})
			} else {
				sum += c.count - last
			}
			last = c.count
		}
	}
	p.mu.Unlock()
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
	out := make([]int, seconds)
	for i := range out {
		end := from.Add(time.Duration(i+1) * time.Second)
		lowest := sum
		for len(events) > 0 && events[0].at.Before(end) {
			sum += events[0].delta
			events = events[1:]
			lowest = min(lowest, sum)
		}
		out[i] = lowest
	}
	return out
}
