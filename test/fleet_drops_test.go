package test

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// dropSeries is the brokers' histogram of the delay from a registry
// change (its commit at the API) to the broker dropping the session.
const dropSeries = "fleetgate_broker_revocation_disconnect_seconds"

var dropBucket = regexp.MustCompile(`(?m)^` + dropSeries + `_bucket\{le="([^"]+)"\} (\S+)$`)

// dropHist is that histogram summed over brokers: cumulative counts by
// upper bound, +Inf last.
type dropHist map[float64]float64

// brokerDrops reads and sums every broker's drop histogram. It may run
// off the benchmark's goroutine, so it returns its error.
func brokerDrops(brokers []*server) (dropHist, error) {
	h := dropHist{}
	for _, brk := range brokers {
		resp, err := http.Get(brk.Ops + "/metrics")
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/metrics: %w", brk.Ops, err)
		}
		for _, m := range dropBucket.FindAllStringSubmatch(string(body), -1) {
			le, err1 := strconv.ParseFloat(m[1], 64) // "+Inf" parses
			n, err2 := strconv.ParseFloat(m[2], 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%s/metrics: bucket %q", brk.Ops, m[0])
			}
			h[le] += n
		}
	}
	return h, nil
}

// since is h less an earlier reading.
func (h dropHist) since(before dropHist) dropHist {
	d := dropHist{}
	for le, n := range h {
		d[le] = n - before[le]
	}
	return d
}

// String gives the count and the bucket bounds p50, p99 and the maximum
// fall under: "10008 drops, p50 <= 51 ms, p99 <= 410 ms, max <= 819 ms".
func (h dropHist) String() string {
	les := make([]float64, 0, len(h))
	for le := range h {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) == 0 || h[math.Inf(1)] == 0 {
		return "no drops"
	}
	total := h[math.Inf(1)]
	bound := func(q float64) string {
		for _, le := range les {
			if h[le] >= q*total {
				if math.IsInf(le, 1) {
					return fmt.Sprintf("> %.0f ms", les[len(les)-2]*1000)
				}
				return fmt.Sprintf("<= %.1f ms", le*1000)
			}
		}
		return "?"
	}
	return fmt.Sprintf("%.0f drops, p50 %s, p99 %s, max %s", total, bound(0.5), bound(0.99), bound(1))
}

// dropLine is a broker's log line for a session it dropped because its
// device or certificate was revoked; the first group is its time.
var dropLine = regexp.MustCompile(`^time=(\S+) .*msg="device disconnected" .*reason=(?:device_revoked|cert_revoked)\b`)

// brokerDropTimes returns when the brokers, by their logs, dropped
// sessions of revoked devices, from from on.
func brokerDropTimes(brokers []*server, from time.Time) []time.Time {
	var out []time.Time
	for _, brk := range brokers {
		sc := bufio.NewScanner(strings.NewReader(brk.Logs.String()))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			m := dropLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && !t.Before(from) {
				out = append(out, t)
			}
		}
	}
	return out
}

// afterReturn describes drop times against the command's return: how
// many came after it, and the delay after it at p50, p99 and the maximum
// (a drop before the return counts as 0).
func afterReturn(times []time.Time, ret time.Time) string {
	if len(times) == 0 {
		return "no drops logged"
	}
	ms := make([]float64, len(times))
	late, over := 0, 0
	for i, t := range times {
		if d := t.Sub(ret); d > 0 {
			late++
			ms[i] = float64(d.Microseconds()) / 1000
			if d > 2*time.Second {
				over++
			}
		}
	}
	sort.Float64s(ms)
	at := func(q float64) float64 { return ms[min(len(ms)-1, int(q*float64(len(ms))))] }
	return fmt.Sprintf("%d drops, %d after the return, %d of them more than 2 s after; after the return p50 %.0f ms, p99 %.0f ms, max %.0f ms",
		len(times), late, over, at(0.5), at(0.99), ms[len(ms)-1])
}
