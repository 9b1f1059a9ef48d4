package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// runtimeMetrics are the series of fleetgate's ops /metrics the memory
// row breaks down: goroutine stacks, heap in use, heap kept by the
// runtime but free, everything the runtime holds, and goroutines.
var runtimeMetrics = []string{
	"go_memstats_stack_inuse_bytes",
	"go_memstats_heap_inuse_bytes",
	"go_memstats_heap_idle_bytes",
	"go_memstats_heap_released_bytes",
	"go_memstats_sys_bytes",
	"go_goroutines",
}

// runtimeProbe reads runtimeMetrics from a server's ops endpoint before
// and after the idle connections are opened. A nil probe reads nothing.
type runtimeProbe struct {
	url           string
	before, after map[string]float64
	err           error
}

// read takes the reading before the connections (after false) or with
// them open (after true), keeping the first error.
func (p *runtimeProbe) read(ctx context.Context, after bool) {
	if p == nil || p.err != nil {
		return
	}
	m, err := scrape(ctx, strings.TrimRight(p.url, "/")+"/metrics", runtimeMetrics)
	if after {
		p.after = m
	} else {
		p.before = m
	}
	p.err = err
}

// perConnection returns each metric's growth divided by n, plus
// heap_free_bytes: idle heap not yet returned to the OS.
func (p *runtimeProbe) perConnection(n int) (map[string]float64, error) {
	if p.err != nil {
		return nil, p.err
	}
	out := make(map[string]float64, len(runtimeMetrics)+1)
	for _, name := range runtimeMetrics {
		out[name] = (p.after[name] - p.before[name]) / float64(n)
	}
	free := func(m map[string]float64) float64 {
		return m["go_memstats_heap_idle_bytes"] - m["go_memstats_heap_released_bytes"]
	}
	out["heap_free_bytes"] = (free(p.after) - free(p.before)) / float64(n)
	return out, nil
}

// formatRuntime writes the per-connection figures in KiB (goroutines as
// counts), in a stable order.
func formatRuntime(per map[string]float64) string {
	names := make([]string, 0, len(per))
	for k := range per {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		short := strings.TrimPrefix(strings.TrimPrefix(k, "go_memstats_"), "go_")
		if k == "go_goroutines" {
			parts = append(parts, fmt.Sprintf("%s %.2f", short, per[k]))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.1f KiB", short, per[k]/1024))
	}
	return strings.Join(parts, ", ")
}

// scrape reads the named series (without labels) from a Prometheus text
// endpoint; each must be present.
func scrape(ctx context.Context, url string, names []string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContender, err)
	}
	// Uncompressed: a gzip writer costs the server ~1 MB per scrape, which
	// would count as the idle broker's garbage.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContender, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: %s", ErrContender, url, resp.Status)
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s %q: %w", ErrContender, url, name, value, err)
		}
		out[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrContender, url, err)
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("%w: %s has no %s", ErrContender, url, n)
		}
	}
	return out, nil
}
