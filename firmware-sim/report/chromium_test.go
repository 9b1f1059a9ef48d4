//go:build chromium

package report

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestHTMLRendersInChromium opens a report page in headless Chromium
// (Debian package chromium), as a person would in a browser: the DOM
// Chromium built must hold the charts' SVG shapes, and a screenshot must
// show them (the charts' colours, not a blank page).
//
//	go test -tags chromium ./firmware-sim/report
func TestHTMLRendersInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: apt-get install -y chromium (.ci/run installs it)")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, sampleReport()); err != nil {
		t.Fatal(err)
	}
	f.Close()

	run := func(extra ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}, extra...)
		args = append(args, "file://"+page)
		out, err := exec.CommandContext(ctx, bin, args...).Output()
		if err != nil {
			t.Fatalf("chromium %v: %v", extra, err)
		}
		return out
	}

	dom := string(run("--dump-dom"))
	for re, min := range map[string]int{`<svg[^>]*class="chart`: 5, `<path class="series"`: 4, `<rect class="bar"`: 6} {
		if n := len(regexp.MustCompile(re).FindAllString(dom, -1)); n < min {
			t.Errorf("rendered DOM has %d of %s, want at least %d", n, re, min)
		}
	}

	shot := filepath.Join(dir, "shot.png")
	run("--screenshot="+shot, "--window-size=1000,2400", "--hide-scrollbars")
	sf, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	img, err := png.Decode(sf)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// Count pixels close to the first two series colours (#2563eb blue,
	// #dc2626 red): the lines and bars must be drawn.
	var blue, red int
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			switch {
			case near(r, 0x25) && near(g, 0x63) && near(bl, 0xeb):
				blue++
			case near(r, 0xdc) && near(g, 0x26) && near(bl, 0x26):
				red++
			}
		}
	}
	if blue < 500 || red < 100 {
		t.Errorf("screenshot shows %d blue and %d red chart pixels: the charts did not render", blue, red)
	}
}

func near(v, want uint32) bool { return v+24 >= want && v <= want+24 }
