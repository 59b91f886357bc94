package e2e

import (
	"slices"
	"testing"
	"time"
)

func TestLowestEndpoints(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	p := &Proxy{history: map[string][]countChange{
		// a: 2 endpoints from before the start; one gone over [1.2, 1.5) and over [3.9, 5.1).
		"ns/a": {{at(-5), 2}, {at(1.2), 1}, {at(1.5), 2}, {at(3.9), 1}, {at(5.1), 2}},
		// b: 1 endpoint from 0.5 on, none over [3.5, 4.2).
		"ns/b": {{at(0.5), 1}, {at(3.5), 0}, {at(4.2), 1}},
	}}
	got := p.LowestEndpoints([]string{"ns/a", "ns/b"}, t0, 7)
	// second 0: 2 then 3; 1: 2 (a dips); 2: 3; 3: 3, then 2 (b gone), then 1 (a dips too); 4: 1, then 2;
	// 5: 2, then 3; 6: 3.
	if want := []int{2, 2, 3, 1, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("LowestEndpoints = %v, want %v", got, want)
	}
	if got := p.LowestEndpoints([]string{"ns/unknown"}, t0, 2); !slices.Equal(got, []int{0, 0}) {
		t.Errorf("LowestEndpoints of an unknown Service = %v, want [0 0]", got)
	}
}

func TestIsOrdinalName(t *testing.T) {
	for pod, want := range map[string]bool{"sessions-0": true, "sessions-12": true, "sessions-x": false, "sessions": false,
		"sessions-abc12-xyz": false, "other-0": false} {
		if got := isOrdinalName(pod, "sessions"); got != want {
			t.Errorf("isOrdinalName(%q, sessions) = %v, want %v", pod, got, want)
		}
	}
}
