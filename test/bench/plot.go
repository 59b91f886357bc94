package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlot draws latency by percentile (HDR style: the x axis stretches the tail) for the webhook cases at the
// fixed rate and for Pod CREATE through the API server, side by side, as a PNG.
func writePlot(path string, samples map[string]sample, r *report) error {
	labels := map[string]string{"null_10k": "null (10k phase)"}
	for _, c := range r.cases() {
		if c.c != nil && c.c.OfferedRPS != r.Null.OfferedRPS {
			labels[c.name] = fmt.Sprintf("%s (at %.0f req/s)", c.name, c.c.OfferedRPS)
		}
	}
	left := percentilePlot(fmt.Sprintf("Webhook over HTTPS, open loop at %v req/s", r.Config["rate_rps"]), samples,
		[]string{"null", "mutate", "mutate_64k", "validate", "validate_deny", "null_10k", "validate_10k", "validate_pdb_10k"}, labels)
	right := percentilePlot("Pod CREATE through kube-apiserver", samples,
		[]string{"apiserver_" + modeWithout, "apiserver_" + modeNull, "apiserver_" + modeNullPatch, "apiserver_" + modeWith},
		map[string]string{"apiserver_" + modeWithout: "no webhook", "apiserver_" + modeNull: "null webhook",
			"apiserver_" + modeNullPatch: "null webhook, patching", "apiserver_" + modeWith: "ha-webhook"})

	img := vgimg.NewWith(vgimg.UseWH(vg.Points(1100), vg.Points(430)), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(24), PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	plots := [][]*plot.Plot{{left, right}}
	canvases := plot.Align(plots, tiles, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// colors keep a case's color the same in both panels and across runs; nulls are grey.
var colors = map[string]color.Color{
	"null":                       color.RGBA{R: 0x44, G: 0x44, B: 0x44, A: 0xff},
	"null_10k":                   color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff},
	"mutate":                     color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"mutate_64k":                 color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"validate":                   color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	"validate_deny":              color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	"validate_10k":               color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	"validate_pdb_10k":           color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	"apiserver_" + modeWithout:   color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	"apiserver_" + modeNull:      color.RGBA{R: 0x44, G: 0x44, B: 0x44, A: 0xff},
	"apiserver_" + modeNullPatch: color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff},
	"apiserver_" + modeWith:      color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
}

func percentilePlot(title string, samples map[string]sample, keys []string, labels map[string]string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	maxX, minY, maxY := 2.0, math.Inf(1), 0.0
	for _, k := range keys {
		s, ok := samples[k]
		if !ok || len(s.latencies) == 0 {
			continue
		}
		xys := percentileCurve(s.latencies)
		for _, xy := range xys {
			maxX, minY, maxY = max(maxX, xy.X), min(minY, xy.Y), max(maxY, xy.Y)
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		line.Color = colors[k]
		line.Width = vg.Points(1.5)
		if k == "null_10k" || k == "apiserver_"+modeNull {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line)
		label := k
		if l, ok := labels[k]; ok {
			label = l
		}
		p.Legend.Add(label, line)
	}
	p.X.Min, p.X.Max = 1, maxX
	p.X.Tick.Marker = percentileTicks(maxX)
	if maxY > 0 {
		p.Y.Min, p.Y.Max = minY*0.8, maxY*1.2
		p.Y.Tick.Marker = latencyTicks(p.Y.Min, p.Y.Max)
	}
	return p
}

// percentileCurve maps latency quantiles q to points (1/(1-q), ms), up to the largest quantile the sample resolves.
func percentileCurve(lat []time.Duration) plotter.XYs {
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	n := float64(len(sorted))
	var xys plotter.XYs
	for k := 0.0; ; k += 0.02 {
		q := 1 - math.Pow(10, -k)
		if 1/(1-q) > n {
			break
		}
		xys = append(xys, plotter.XY{X: 1 / (1 - q), Y: float64(quantile(sorted, q)) / 1e6})
	}
	xys = append(xys, plotter.XY{X: n, Y: float64(sorted[len(sorted)-1]) / 1e6}) // the maximum
	return xys
}

func percentileTicks(maxX float64) plot.ConstantTicks {
	ticks := plot.ConstantTicks{{Value: 1, Label: "0%"}, {Value: 2, Label: "50%"}}
	for _, t := range []struct {
		x float64
		l string
	}{{10, "90%"}, {100, "99%"}, {1000, "99.9%"}, {10000, "99.99%"}, {100000, "99.999%"}} {
		if t.x <= maxX {
			ticks = append(ticks, plot.Tick{Value: t.x, Label: t.l})
		}
	}
	return ticks
}

func latencyTicks(lo, hi float64) plot.ConstantTicks {
	var ticks plot.ConstantTicks
	for e := -3; e <= 4; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow10(e)
			if v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ticks
}
