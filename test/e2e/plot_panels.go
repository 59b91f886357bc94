package e2e

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// newPlot is one panel of a run: seconds since traffic started on x, over the whole run.
func newPlot(r Timeline) *plot.Plot {
	p := plot.New()
	p.X.Min, p.X.Max = 0, float64(max(r.Seconds, 1))
	p.X.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick { return secondTicks(hi) })
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Tick.Label.Font.Size = 12
		a.Label.TextStyle.Font.Size = 14
	}
	return p
}

// secondTicks are labelled every 5 or 10 s, or more, with minor ticks between.
func secondTicks(hi float64) []plot.Tick {
	step := 5.0
	for hi/step > 12 {
		step *= 2
	}
	var ticks []plot.Tick
	for v := 0.0; v <= hi; v += step / 5 {
		t := plot.Tick{Value: v}
		if math.Mod(v+1e-9, step) < 1e-6 {
			t.Label = fmt.Sprintf("%.0f", v)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// nodesPlot is a strip with one row per node, a bar from its replacement's start to its end.
func nodesPlot(r Timeline) *plot.Plot {
	p := newPlot(r)
	total := r.Group(groupOptedIn)
	control := r.Group(groupControl)
	p.Title.Text = fmt.Sprintf("%s mode — opted-in GETs failed: %d of %d; control: %d of %d",
		r.Mode, total.TotalFailed(), total.TotalSent(), control.TotalFailed(), control.TotalSent())
	p.Title.TextStyle.Font.Size = 16
	p.Title.Padding = vg.Points(8)
	names := make([]string, len(r.Nodes))
	for i, n := range r.Nodes {
		names[len(r.Nodes)-1-i] = n.Old
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(names))-0.4
	p.Y.Tick.Label.Font.Size = 12
	p.Y.Label.Text = "node"
	p.Y.Label.TextStyle.Font.Size = 14
	p.HideX() // the panels below carry the seconds
	p.Add(nodeBars{r.Nodes})
	return p
}

type nodeBars struct{ nodes []NodeSpan }

func (b nodeBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	half := (trY(1) - trY(0)) * 0.32
	sty := textStyle(11, color.Black, draw.XCenter, draw.YCenter)
	for i, n := range b.nodes {
		y := trY(float64(len(b.nodes) - 1 - i))
		x0, x1 := trX(n.Start), trX(n.End)
		rect := vg.Rectangle{Min: vg.Point{X: x0, Y: y - half}, Max: vg.Point{X: x1, Y: y + half}}
		c.SetColor(barColors[i%len(barColors)])
		c.Fill(rect.Path())
		for _, label := range []string{
			fmt.Sprintf("%d pods evicted, %d refused (429)", n.Evicted, n.Refused),
			fmt.Sprintf("%d evicted", n.Evicted),
			strconv.Itoa(n.Evicted),
		} {
			if sty.Width(label)+vg.Points(8) < x1-x0 {
				c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: y}, label)
				break
			}
		}
	}
}

// spans shade the node replacements over a traffic panel's full height.
type spans struct{ nodes []NodeSpan }

func (s spans) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for i, n := range s.nodes {
		rect := vg.Rectangle{Min: vg.Point{X: trX(n.Start), Y: c.Min.Y}, Max: vg.Point{X: trX(n.End), Y: c.Max.Y}}
		c.SetColor(spanColors[i%len(spanColors)])
		c.Fill(rect.Path())
	}
}

func groupLine(group string, xys plotter.XYs) *plotter.Line {
	l := &plotter.Line{XYs: xys, StepStyle: plotter.PostStep}
	l.Color = groupColors[group]
	l.Width = vg.Points(1.5)
	if group == groupOptedIn {
		l.Width = vg.Points(2.5)
	}
	return l
}

// series is one value per second as a step line: value i holds over [i, i+1).
func series(values []float64) plotter.XYs {
	xys := make(plotter.XYs, 0, len(values)+1)
	for i, v := range values {
		xys = append(xys, plotter.XY{X: float64(i), Y: v})
	}
	if len(values) > 0 {
		xys = append(xys, plotter.XY{X: float64(len(values)), Y: values[len(values)-1]})
	}
	return xys
}

func failuresPlot(r Timeline) *plot.Plot {
	p := newPlot(r)
	p.Y.Label.Text = "GETs failed per second"
	p.Add(spans{r.Nodes}, plotter.NewGrid())
	top := 0.0
	for _, g := range drawOrder(r.Groups) {
		v := make([]float64, len(g.Failed))
		for i, n := range g.Failed {
			v[i] = float64(n)
			top = max(top, v[i])
		}
		p.Add(groupLine(g.Group, series(v)))
	}
	top = max(top*1.1, 5)
	// A little below 0, so that a line at 0 (no failure) shows above the axis.
	p.Y.Min, p.Y.Max = -top*0.03, top
	p.Y.Tick.Marker = nonNegative{plot.DefaultTicks{}}
	return p
}

func endpointsPlot(r Timeline) *plot.Plot {
	p := newPlot(r)
	p.Y.Label.Text = "ready endpoints, % of pods"
	p.X.Label.Text = "seconds since traffic started"
	p.Add(spans{r.Nodes}, plotter.NewGrid())
	for _, g := range drawOrder(r.Groups) {
		v := make([]float64, len(g.Endpoints))
		for i, n := range g.Endpoints {
			v[i] = 100 * float64(n) / float64(max(g.Replicas, 1))
		}
		p.Add(groupLine(g.Group, series(v)))
	}
	p.Y.Min, p.Y.Max = -3, 108
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"},
		{Value: 75, Label: "75"}, {Value: 100, Label: "100"}}
	return p
}

// drawOrder puts the opted-in group last, on top of the others where they overlap.
func drawOrder(groups []GroupSeries) []GroupSeries {
	out := slices.Clone(groups)
	slices.SortStableFunc(out, func(a, b GroupSeries) int {
		return cmp.Compare(b2i(a.Group == groupOptedIn), b2i(b.Group == groupOptedIn))
	})
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// nonNegative drops the ticks below 0.
type nonNegative struct{ plot.Ticker }

func (n nonNegative) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range n.Ticker.Ticks(lo, hi) {
		if t.Value >= 0 {
			out = append(out, t)
		}
	}
	return out
}
