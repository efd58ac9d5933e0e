package engine

import (
	"testing"

	"github.com/sleuth-sre/sleuth/internal/report"
)

// Downsampling keeps the curve's extremes: the spike to the limit that a
// chart must show survives however many points there were.
func TestDownsampleKeepsExtremes(t *testing.T) {
	var p [][2]float64
	for i := 0; i < 1000; i++ {
		v := 100.0
		switch i {
		case 613:
			v = 256 // the spike
		case 400:
			v = 3 // the dip
		}
		p = append(p, [2]float64{float64(i), v})
	}
	got := downsample(p, report.MaxSeriesPoints)
	if len(got) > report.MaxSeriesPoints {
		t.Fatalf("%d points, want at most %d", len(got), report.MaxSeriesPoints)
	}
	var spike, dip bool
	for i, q := range got {
		if i > 0 && q[0] <= got[i-1][0] {
			t.Fatalf("points out of time order at %d: %v", i, got[i-1:i+1])
		}
		spike = spike || (q[0] == 613 && q[1] == 256)
		dip = dip || (q[0] == 400 && q[1] == 3)
	}
	if !spike || !dip {
		t.Errorf("downsampled series lost the spike (%v) or the dip (%v)", spike, dip)
	}
	if short := downsample(p[:50], report.MaxSeriesPoints); len(short) != 50 {
		t.Errorf("a short series was cut to %d points", len(short))
	}
}
