package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Chart geometry in SVG user units; the page scales the SVG to its width.
const (
	chartW, chartH         = 720, 280
	padL, padR, padT, padB = 64, 16, 28, 44
)

// palette colours the series of a chart, in order.
var palette = []string{"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"}

// LineSeries is one line of a line chart.
type LineSeries struct {
	Name   string
	Values []int64
}

// lineChart draws per-second counts as lines, with the events as
// vertical markers.
func lineChart(title, yLabel string, series []LineSeries, events []Event) template.HTML {
	n, top := 0, int64(1)
	for _, s := range series {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			top = max(top, v)
		}
	}
	n = max(n, 2)
	ymax := niceCeil(float64(top))
	x := func(i float64) float64 { return padL + i*float64(chartW-padL-padR)/float64(n-1) }
	y := func(v float64) float64 { return chartH - padB - v*float64(chartH-padT-padB)/ymax }

	var b strings.Builder
	open(&b, title, "line-chart")
	axes(&b, ymax, y, yLabel, "seconds since start")
	for _, t := range xTicks(n) {
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%d</text>`, x(float64(t)), chartH-padB+16, t)
	}
	for i, e := range events {
		xe := x(e.Seconds)
		fmt.Fprintf(&b, `<line class="event" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888" stroke-dasharray="4 3"/>`, xe, padT, xe, chartH-padB)
		// Staggered, so events close in time keep readable labels.
		fmt.Fprintf(&b, `<text class="event-label" x="%.1f" y="%d" font-size="10" fill="#555">%s</text>`, xe+3, padT+10+(i%4)*11, html.EscapeString(e.Name))
	}
	for i, s := range series {
		if len(s.Values) == 0 {
			continue
		}
		var d strings.Builder
		for j, v := range s.Values {
			cmd := "L"
			if j == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, x(float64(j)), y(float64(v)))
		}
		c := palette[i%len(palette)]
		fmt.Fprintf(&b, `<path class="series" data-series="%s" d="%s" fill="none" stroke="%s" stroke-width="1.8"/>`, html.EscapeString(s.Name), strings.TrimSpace(d.String()), c)
	}
	legend(&b, series)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// barChart draws one bar per label.
func barChart(title, yLabel string, labels []string, values []float64) template.HTML {
	top := 1.0
	for _, v := range values {
		top = math.Max(top, v)
	}
	ymax := niceCeil(top)
	y := func(v float64) float64 { return chartH - padB - v*float64(chartH-padT-padB)/ymax }
	slot := float64(chartW-padL-padR) / float64(max(len(labels), 1))

	var b strings.Builder
	open(&b, title, "bar-chart")
	axes(&b, ymax, y, yLabel, "")
	for i, l := range labels {
		v := values[i]
		x0 := padL + float64(i)*slot + slot*0.15
		h := float64(chartH-padB) - y(v)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
			x0, y(v), slot*0.7, h, palette[i%len(palette)], html.EscapeString(l), formatNum(v))
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x0+slot*0.35, chartH-padB+16, html.EscapeString(l))
		fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`, x0+slot*0.35, y(v)-3, formatNum(v))
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// histogramChart draws latency buckets as bars labelled by upper bound.
func histogramChart(title string, buckets []Bucket) template.HTML {
	labels := make([]string, len(buckets))
	values := make([]float64, len(buckets))
	for i, bk := range buckets {
		labels[i] = "≤" + formatMillis(bk.LE)
		values[i] = float64(bk.Count)
	}
	return barChart(title, "count", labels, values)
}

func open(b *strings.Builder, title, class string) {
	fmt.Fprintf(b, `<svg class="chart %s" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		class, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(b, `<text class="title" x="%d" y="18" font-size="14" font-weight="bold">%s</text>`, padL, html.EscapeString(title))
}

func axes(b *strings.Builder, ymax float64, y func(float64) float64, yLabel, xLabel string) {
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, padL, padT, padL, chartH-padB)
	fmt.Fprintf(b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		fmt.Fprintf(b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e7eb"/>`, padL, y(v), chartW-padR, y(v))
		fmt.Fprintf(b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-6, y(v)+4, formatNum(v))
	}
	fmt.Fprintf(b, `<text class="label" x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`,
		(chartH)/2, chartH/2, html.EscapeString(yLabel))
	if xLabel != "" {
		fmt.Fprintf(b, `<text class="label" x="%d" y="%d" text-anchor="middle">%s</text>`, (chartW+padL)/2, chartH-6, html.EscapeString(xLabel))
	}
}

// legend goes on the title's line, right of centre, clear of the plot.
func legend(b *strings.Builder, series []LineSeries) {
	x := chartW / 2
	for i, s := range series {
		c := palette[i%len(palette)]
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text class="legend" x="%d" y="%d">%s</text>`,
			x, 9, c, x+14, 18, html.EscapeString(s.Name))
		x += 24 + 7*len(s.Name)
	}
}

// xTicks picks about eight round tick positions out of n seconds.
func xTicks(n int) []int {
	step := int(niceCeil(float64(n) / 8))
	step = max(step, 1)
	var out []int
	for t := 0; t < n; t += step {
		out = append(out, t)
	}
	return out
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func formatNum(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 100 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func formatMillis(ms float64) string {
	switch {
	case ms < 0:
		return "∞"
	case ms >= 1000:
		return fmt.Sprintf("%gs", ms/1000)
	default:
		return fmt.Sprintf("%gms", ms)
	}
}
