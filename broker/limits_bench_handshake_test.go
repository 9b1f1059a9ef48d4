package broker

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	handshakeRounds  = 4
	handshakeRound   = 5 * time.Second
	handshakeSettle  = 500 * time.Millisecond
	handshakeFlooder = 4 // goroutines of the flooding address
	connectEvery     = 100 * time.Millisecond
)

// handshakeFlood runs the handshake-flood half and reports its p99s and
// ratio: devices connect from 127.0.0.1 every connectEvery (within the
// address's handshake rate), measured from TCP connect to CONNACK.
func handshakeFlood(b *testing.B, f *limitFleet) {
	names := ids("conn", 20)
	cfgs := f.devices(names, nil)
	floodCfg := f.devices([]string{"hs-flood"}, nil)[0]
	lat := &samples{phase: -1}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var failed atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(connectEvery)
		defer t.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			start := time.Now()
			c, err := f.dial(ctx, "127.0.0.1", cfgs[i%len(cfgs)], names[i%len(names)])
			if err != nil {
				failed.Add(1)
			} else {
				lat.add(time.Since(start))
				_ = c.Close()
			}
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}()

	var attempts atomic.Int64
	alternate(b, lat, handshakeRounds, handshakeRound, handshakeSettle, func() func() {
		fctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range handshakeFlooder {
			wg.Go(func() { handshakes(fctx, f.addr, floodCfg, &attempts) })
		}
		return func() { stop(); wg.Wait() }
	})
	cancel()
	<-done

	calm, nCalm := lat.p99(0)
	flooded, nFlood := lat.p99(1)
	ratio := float64(flooded) / float64(calm)
	b.Logf("handshake flood: 127.0.0.2 made %d connection attempts; the broker refused %v before TLS; %d connects from 127.0.0.1 failed",
		attempts.Load(), testutil.ToFloat64(f.metrics.limited.WithLabelValues(limitHandshakeRate, "refuse")), failed.Load())
	b.Logf("handshake flood: others' connect p99 %s without (%d samples), %s with the flood (%d samples): %.2fx (goal ≤ 2x)",
		calm, nCalm, flooded, nFlood, ratio)
	b.ReportMetric(float64(calm.Microseconds())/1000, "connect-calm-p99-ms")
	b.ReportMetric(float64(flooded.Microseconds())/1000, "connect-flood-p99-ms")
	b.ReportMetric(ratio, "connect-p99-flood/calm")
}

// handshakes opens TCP connections from 127.0.0.2 and runs a TLS
// handshake on each, as fast as it can, until ctx ends.
func handshakes(ctx context.Context, addr string, cfg *tls.Config, attempts *atomic.Int64) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: wait}
	for ctx.Err() == nil {
		attempts.Add(1)
		raw, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			continue
		}
		_ = raw.SetDeadline(time.Now().Add(wait))
		tc := tls.Client(raw, cfg)
		_ = tc.HandshakeContext(ctx)
		_ = tc.Close()
	}
}
