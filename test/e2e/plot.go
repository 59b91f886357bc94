package e2e

import (
	"fmt"
	"image/color"
	"io"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The picture's size in pixels.
const (
	PlotWidth, PlotHeight = 1800, 1100
	plotDPI               = 96
)

var (
	groupColors = map[string]color.Color{
		groupOptedIn: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		groupControl: color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	}
	// Node replacements alternate two greys, so that back-to-back ones stay apart: light in the traffic panels,
	// darker in the nodes' strip.
	spanColors = []color.Color{color.Gray{Y: 0xe6}, color.Gray{Y: 0xd2}}
	barColors  = []color.Color{color.Gray{Y: 0xbd}, color.Gray{Y: 0xa3}}
)

func init() {
	// Sans-serif reads better on a dashboard-like picture than gonum's default serif.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
}

// WritePlot draws the runs' timelines side by side (one column per run) as a PNG at path: the node replacements,
// the GETs failed per second and the ready endpoints of each group.
func WritePlot(path string, o Options, runs ...Timeline) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := DrawPlot(f, o, runs...); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// DrawPlot writes the picture of WritePlot to w.
func DrawPlot(w io.Writer, o Options, runs ...Timeline) error {
	if len(runs) == 0 {
		return fmt.Errorf("no run to draw")
	}
	px := func(n float64) vg.Length { return vg.Points(n * 72 / plotDPI) }
	img := vgimg.NewWith(vgimg.UseWH(px(PlotWidth), px(PlotHeight)), vgimg.UseDPI(plotDPI))
	c := draw.New(img)
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	c = draw.Crop(c, px(16), -px(24), px(10), -px(12))

	// Title, subtitle and the legend every panel shares.
	title := textStyle(20, color.Black, draw.XCenter, draw.YTop)
	top := c.Max.Y
	c.FillText(title, vg.Point{X: c.Center().X, Y: top}, "Upgrade drill: every node of the pool replaced while clients send GETs through a Kong-like proxy")
	top -= title.Height("X") + px(8)
	sub := textStyle(14, color.Gray{Y: 0x40}, draw.XCenter, draw.YTop)
	for _, line := range []string{
		fmt.Sprintf("%d nodes replaced one at a time: add a node, cordon the old one, evict its pods through the Eviction API (retrying on 429), delete it.",
			len(runs[0].Nodes)),
		fmt.Sprintf("A GET every %s per Service; the proxy applies endpoint changes %s late; opted-in preStop sleep %d s; application start-up %s. "+
			"Ready endpoints: those the proxy routes to, the lowest count in each second.", o.RequestInterval, o.ProxyLag, o.PreStopSleepSeconds, o.AppStartDelay),
	} {
		sty := fit(sub, line, c.Max.X-c.Min.X)
		c.FillText(sty, vg.Point{X: c.Center().X, Y: top}, line)
		top -= sty.Height("X") + px(6)
	}
	top -= px(8)
	top = drawLegend(c, top, runs[0]) - px(14)
	c.Max.Y = top

	// One column per run: the nodes' strip, then failures, then endpoints; their data areas aligned.
	colGap := px(60)
	colWidth := (c.Max.X - c.Min.X - colGap*vg.Length(len(runs)-1)) / vg.Length(len(runs))
	height := c.Max.Y - c.Min.Y
	gap := px(18)
	heights := []vg.Length{(height - 2*gap) * 0.2, (height - 2*gap) * 0.4, (height - 2*gap) * 0.4}
	for i, r := range runs {
		x0 := c.Min.X + vg.Length(i)*(colWidth+colGap)
		plots := []*plot.Plot{nodesPlot(r), failuresPlot(r), endpointsPlot(r)}
		canvases := make([]draw.Canvas, len(plots))
		y := c.Max.Y
		for j, h := range heights {
			canvases[j] = draw.Canvas{Canvas: img, Rectangle: vg.Rectangle{Min: vg.Point{X: x0, Y: y - h}, Max: vg.Point{X: x0 + colWidth, Y: y}}}
			y -= h + gap
		}
		alignLeft(plots, canvases)
		for j, p := range plots {
			p.Draw(canvases[j])
		}
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// fit shrinks the style's font until the line fits the width.
func fit(sty text.Style, line string, width vg.Length) text.Style {
	for sty.Width(line) > width && sty.Font.Size > 8 {
		sty.Font.Size--
	}
	return sty
}

func textStyle(size vg.Length, col color.Color, x text.XAlignment, y text.YAlignment) text.Style {
	return text.Style{Color: col, Font: font.From(plot.DefaultFont, size), XAlign: x, YAlign: y, Handler: plot.DefaultTextHandler}
}

// drawLegend draws the legend in one centred row whose top is at y, and returns its bottom.
func drawLegend(c draw.Canvas, y vg.Length, r Timeline) vg.Length {
	type entry struct {
		label string
		thumb plot.Thumbnailer
	}
	var entries []entry
	for _, g := range r.Groups {
		l := groupLine(g.Group, nil)
		label := fmt.Sprintf("%s: %s, %s", g.Group, plural(g.Services, "Service"), plural(g.Replicas, "pod"))
		if g.Group == groupControl {
			label += " (namespace not opted in, no PDB)"
		}
		entries = append(entries, entry{label, l})
	}
	entries = append(entries, entry{"node replacement: new node added → old node cordoned, drained, deleted", swatch{spanColors[0]}})
	sty := textStyle(14, color.Black, draw.XLeft, draw.YCenter)
	thumbW, gap, pad := vg.Points(22), vg.Points(30), vg.Points(6)
	var total vg.Length
	for _, e := range entries {
		total += thumbW + pad + sty.Width(e.label)
	}
	total += gap * vg.Length(len(entries)-1)
	h := sty.Height("X")
	x := c.Center().X - total/2
	for _, e := range entries {
		icon := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: y - h}, Max: vg.Point{X: x + thumbW, Y: y}}}
		e.thumb.Thumbnail(&icon)
		c.FillText(sty, vg.Point{X: x + thumbW + pad, Y: y - h/2}, e.label)
		x += thumbW + pad + sty.Width(e.label) + gap
	}
	return y - h
}

// swatch is a filled rectangle in a legend.
type swatch struct{ color color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) { c.SetColor(s.color); c.Fill(c.Rectangle.Path()) }

// alignLeft narrows the canvases so the plots' data areas start and end at the same x.
func alignLeft(plots []*plot.Plot, cs []draw.Canvas) {
	var left, right vg.Length
	for i, p := range plots {
		d := p.DataCanvas(cs[i])
		left, right = max(left, d.Min.X-cs[i].Min.X), max(right, cs[i].Max.X-d.Max.X)
	}
	for i, p := range plots {
		d := p.DataCanvas(cs[i])
		cs[i] = draw.Crop(cs[i], left-(d.Min.X-cs[i].Min.X), -(right - (cs[i].Max.X - d.Max.X)), 0, 0)
	}
}
