package e2e

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// syntheticTimeline is a small run: 20 s of traffic, two node replacements, the control group failing during them.
func syntheticTimeline(run string, optedInFailed int64) Timeline {
	const seconds = 20
	t := Timeline{Run: run, Mode: run, Seconds: seconds, Nodes: []NodeSpan{
		{Old: run + "-1", New: run + "-upgraded-1", Start: 2, End: 8.5, Evicted: 5, Refused: 3},
		{Old: run + "-2", New: run + "-upgraded-2", Start: 8.7, End: 15, Evicted: 6, Refused: 4},
	}}
	for _, g := range []struct {
		name     string
		services int
		replicas int
		failed   int64
	}{{groupOptedIn, 3, 7, optedInFailed}, {groupControl, 1, 1, 12}} {
		s := GroupSeries{Group: g.name, Services: g.services, Replicas: g.replicas,
			Sent: make([]int64, seconds), Failed: make([]int64, seconds), Endpoints: make([]int, seconds)}
		for i := range seconds {
			s.Sent[i] = int64(20 * g.services)
			s.Endpoints[i] = g.replicas
			if i == 4 || i == 11 {
				s.Failed[i] = g.failed
				s.Endpoints[i] = g.replicas - 1
			}
		}
		t.Groups = append(t.Groups, s)
	}
	return t
}

func TestWritePlot(t *testing.T) {
	for name, runs := range map[string][]Timeline{
		"two runs": {syntheticTimeline("enforce", 0), syntheticTimeline("audit", 9)},
		"one run":  {syntheticTimeline("enforce", 0)},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "drill.png")
			if err := WritePlot(path, DefaultOptions(), runs...); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("%s is no PNG: %v", path, err)
			}
			if b := img.Bounds(); b.Dx() != PlotWidth || b.Dy() != PlotHeight {
				t.Errorf("picture is %dx%d, want %dx%d", b.Dx(), b.Dy(), PlotWidth, PlotHeight)
			}
		})
	}
	if err := WritePlot(filepath.Join(t.TempDir(), "none.png"), DefaultOptions()); err == nil {
		t.Error("WritePlot of no run: want an error")
	}
}

func TestGroupSeriesTotals(t *testing.T) {
	g := syntheticTimeline("audit", 9).Group(groupOptedIn)
	if got, want := g.TotalFailed(), int64(18); got != want {
		t.Errorf("TotalFailed = %d, want %d", got, want)
	}
	if got, want := g.TotalSent(), int64(20*3*20); got != want {
		t.Errorf("TotalSent = %d, want %d", got, want)
	}
}
