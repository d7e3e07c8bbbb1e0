package site

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/clearcutt/clearcutt/internal/catalog"
)

// Chart geometry, in SVG user units.
const (
	chartWidth   = 720
	chartHeight  = 300
	chartLeft    = 56
	chartRight   = 16
	chartTop     = 16
	chartBottom  = 76
	plotWidth    = chartWidth - chartLeft - chartRight
	plotHeight   = chartHeight - chartTop - chartBottom
	maxBarWidth  = 40.0
	labelSpacing = 96.0
)

// severities in stacking order, bottom first.
var severities = []string{"critical", "high", "medium", "low", "negligible", "unknown"}

func severityCount(s catalog.Severities, name string) int {
	switch name {
	case "critical":
		return s.Critical
	case "high":
		return s.High
	case "medium":
		return s.Medium
	case "low":
		return s.Low
	case "negligible":
		return s.Negligible
	}
	return s.Unknown
}

func severityTotal(s catalog.Severities) int {
	return s.Critical + s.High + s.Medium + s.Low + s.Negligible + s.Unknown
}

// chart is the trend chart of one image: active findings per scan,
// stacked by severity. Coordinates are computed here; the template only
// prints them.
type chart struct {
	ID                       string
	Title, Desc              string
	Width, Height            int
	Left, Top, Right, Bottom float64
	XTitle, YTitle           point
	YTicks                   []tick
	XLabels                  []tick
	Segments                 []segment
	Legend                   []legendItem
}

type point struct{ X, Y float64 }

// tick is a grid line (or tick mark) and its label.
type tick struct {
	X1, Y1, X2, Y2 float64
	Text           point
	Label          string
}

type segment struct {
	X, Y, W, H float64
	Fill       string
	Tooltip    string
}

type legendItem struct {
	Box, Text point
	Fill      string
	Label     string
}

// severityFill is each severity's colour; the tooltips, the legend and
// the history table carry the same information as text.
var severityFill = map[string]string{
	"critical": "#7f1d1d", "high": "#dc2626", "medium": "#f97316",
	"low": "#eab308", "negligible": "#94a3b8", "unknown": "#64748b",
}

// newChart lays out the history; nil when there is none.
func newChart(id, image string, hist []catalog.ScanPoint) *chart {
	if len(hist) == 0 {
		return nil
	}
	c := &chart{
		ID: id, Width: chartWidth, Height: chartHeight,
		Left: chartLeft, Top: chartTop, Right: chartWidth - chartRight, Bottom: chartHeight - chartBottom,
	}
	maxTotal := 0
	for _, p := range hist {
		maxTotal = max(maxTotal, severityTotal(p.Active))
	}
	step := niceStep(maxTotal)
	top := step * ((maxTotal + step - 1) / step)
	if top == 0 {
		top = step
	}
	scale := plotHeight / float64(top)
	for v := 0; v <= top; v += step {
		y := c.Bottom - float64(v)*scale
		c.YTicks = append(c.YTicks, tick{X1: c.Left, Y1: y, X2: c.Right, Y2: y, Text: point{c.Left - 8, y + 4}, Label: fmt.Sprint(v)})
	}

	labels := dateLabels(hist)
	slot := float64(plotWidth) / float64(len(hist))
	width := min(slot*0.7, maxBarWidth)
	every := max(1, int(math.Ceil(labelSpacing/slot)))
	for i, p := range hist {
		center := c.Left + slot*(float64(i)+0.5)
		y := c.Bottom
		for _, sev := range severities {
			n := severityCount(p.Active, sev)
			if n == 0 {
				continue
			}
			h := float64(n) * scale
			y -= h
			c.Segments = append(c.Segments, segment{
				X: center - width/2, Y: y, W: width, H: h, Fill: severityFill[sev],
				Tooltip: fmt.Sprintf("%s: %d %s", labels[i], n, sev),
			})
		}
		// Label the newest scan, and every few before it.
		if (len(hist)-1-i)%every == 0 {
			c.XLabels = append(c.XLabels, tick{X1: center, Y1: c.Bottom, X2: center, Y2: c.Bottom + 5, Text: point{center, c.Bottom + 20}, Label: labels[i]})
		}
	}
	c.XTitle = point{c.Left + plotWidth/2, c.Bottom + 40}
	c.YTitle = point{18, c.Top + plotHeight/2}
	x := c.Left
	for _, sev := range severities {
		c.Legend = append(c.Legend, legendItem{Box: point{x, chartHeight - 20}, Text: point{x + 14, chartHeight - 11}, Fill: severityFill[sev], Label: sev})
		x += 14 + 7*float64(len(sev)) + 18
	}
	c.Title = "Vulnerability trend of " + image
	c.Desc = chartDesc(hist, labels)
	return c
}

// niceStep is a tick step of 1, 2 or 5 × 10^k giving at most about five ticks.
func niceStep(maxV int) int {
	step := 1
	for {
		for _, m := range []int{1, 2, 5} {
			if maxV <= m*step*5 {
				return m * step
			}
		}
		step *= 10
	}
}

// dateLabels names each scan by its UTC date, or date and time where two
// scans fall on one day.
func dateLabels(hist []catalog.ScanPoint) []string {
	days := map[string]int{}
	for _, p := range hist {
		days[p.ScanTime.UTC().Format(time.DateOnly)]++
	}
	out := make([]string, len(hist))
	for i, p := range hist {
		d := p.ScanTime.UTC().Format(time.DateOnly)
		if days[d] > 1 {
			d = p.ScanTime.UTC().Format("2006-01-02 15:04")
		}
		out[i] = d
	}
	return out
}

// chartDesc is the chart's text alternative.
func chartDesc(hist []catalog.ScanPoint, labels []string) string {
	last := hist[len(hist)-1]
	var parts []string
	for _, sev := range severities {
		if n := severityCount(last.Active, sev); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	latest := "no active findings"
	if len(parts) > 0 {
		latest = fmt.Sprintf("%d active findings (%s)", severityTotal(last.Active), strings.Join(parts, ", "))
	}
	scans := "1 scan"
	if len(hist) > 1 {
		scans = fmt.Sprintf("%d scans", len(hist))
	}
	return fmt.Sprintf("Active findings by severity, stacked, at %s from %s to %s (UTC). Latest scan: %s; %d suppressed by VEX, %d excepted.",
		scans, labels[0], labels[len(labels)-1], latest, last.Suppressed, last.Excepted)
}
