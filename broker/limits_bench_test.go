package broker

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
)

// BenchmarkLimitsFlood checks the goals for the limits (benchLimits
// on), each as a ratio against the same broker in the same run, in
// alternating rounds so both conditions see the same machine load. Run it
// with make bench-limits.
//
// Publish flood: 1,000 devices publish once a second (QoS 0) to a
// subscriber that measures end-to-end latency, while one device floods
// PUBLISHes as fast as it can (reconnecting whenever the broker
// disconnects it; throttled, its writes block instead); goal: the others' p99 within 1.5x of the rounds without
// the flood.
//
// Handshake flood: devices connect one after another from 127.0.0.1 (full
// mTLS handshake, CONNECT, CONNACK) while 127.0.0.2 opens TCP connections
// and TLS handshakes as fast as it can; goal: their connect p99 within 2x
// of the rounds without the flood.
func BenchmarkLimitsFlood(b *testing.B) {
	for b.Loop() {
		f := newLimitFleet(b)
		publishFlood(b, f)
		handshakeFlood(b, f)
	}
}

const (
	fleetSize   = 1000
	floodRounds = 3
	floodRound  = 8 * time.Second
	floodSettle = time.Second
)

// publishFlood runs the publish-flood half and reports its p99s and ratio.
func publishFlood(b *testing.B, f *limitFleet) {
	start := time.Now()
	cfgs := f.devices(ids("dev", fleetSize), nil)
	sinkCfg := f.devices([]string{"sink"}, []string{"devices/+/lat"})[0]
	floodCfg := f.devices([]string{"flood"}, nil)[0]
	b.Logf("%d devices registered in %s", fleetSize+2, time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	lat := &samples{phase: -1}
	sink, err := f.dial(ctx, "127.0.0.1", sinkCfg, "sink")
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	if _, err := sink.Write(mqttwire.Subscribe(1, "devices/+/lat", 0)); err != nil {
		b.Fatal(err)
	}
	go readLatencies(sink, lat)

	// Connect the fleet a few at a time (pending connections are bounded).
	conns := make([]*mqttwire.Conn, fleetSize)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range conns {
		g.Go(func() (err error) {
			conns[i], err = f.dial(gctx, fleetIP(i), cfgs[i], ids("dev", fleetSize)[i])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d devices connected in %s", fleetSize, time.Since(start).Round(time.Millisecond))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() { publishEverySecond(ctx, c, "devices/"+ids("dev", fleetSize)[i]+"/lat", i) })
	}

	var sent, sessions atomic.Int64
	alternate(b, lat, floodRounds, floodRound, floodSettle, func() func() {
		fctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); flood(fctx, f, floodCfg, &sent, &sessions) }()
		return func() { stop(); <-done }
	})
	cancel()
	wg.Wait()
	for _, c := range conns {
		_ = c.Close()
	}

	calm, nCalm := lat.p99(0)
	flooded, nFlood := lat.p99(1)
	ratio := float64(flooded) / float64(calm)
	b.Logf("publish flood: flooder wrote %d messages into its sockets in %d sessions; broker throttled %v of them, disconnected it %v times, refused %v connects and %v handshakes",
		sent.Load(), sessions.Load(), testutil.ToFloat64(f.metrics.limited.WithLabelValues(limitPublishRate, "throttle")),
		testutil.ToFloat64(f.metrics.limited.WithLabelValues(limitPublishRate, "disconnect")),
		testutil.ToFloat64(f.metrics.limited.WithLabelValues(limitConnectRate, "refuse")),
		testutil.ToFloat64(f.metrics.limited.WithLabelValues(limitHandshakeRate, "refuse")))
	b.Logf("publish flood: others' end-to-end p99 %s without (%d samples), %s with the flood (%d samples): %.2fx (goal ≤ 1.5x)",
		calm, nCalm, flooded, nFlood, ratio)
	b.ReportMetric(float64(calm.Microseconds())/1000, "calm-p99-ms")
	b.ReportMetric(float64(flooded.Microseconds())/1000, "flood-p99-ms")
	b.ReportMetric(ratio, "publish-p99-flood/calm")
}

// readLatencies records the age of every message the sink receives: its
// payload is the send time in Unix nanoseconds.
func readLatencies(c *mqttwire.Conn, s *samples) {
	for {
		p, err := mqttwire.ReadPacket(c.R, mqttwire.MaxPacket)
		if err != nil {
			return
		}
		if p.Type != mqttwire.PUBLISH {
			continue
		}
		if _, _, payload, err := mqttwire.ParsePublish(p); err == nil && len(payload) == 8 {
			s.add(time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(payload))))
		}
	}
}

// publishEverySecond publishes the send time to topic once a second,
// device i starting i/fleetSize of a second in so the fleet is spread.
func publishEverySecond(ctx context.Context, c *mqttwire.Conn, topic string, i int) {
	go func() { // drain what the broker sends (nothing but PINGRESP is expected)
		for {
			if _, err := mqttwire.ReadPacket(c.R, mqttwire.MaxPacket); err != nil {
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(i) * time.Second / fleetSize):
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		pk := mqttwire.Publish(topic, 0, 0, binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano())))
		if _, err := c.Write(pk); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// flood is the misbehaving device: from 127.0.0.3 it connects, writes
// PUBLISHes (to the subscriber's filter) as fast as the socket takes
// them, and when the broker ends the session it connects again at once,
// until ctx ends. A refused connect is retried after 10 ms: the client's
// own CPU is on this machine too, and a spinning retry loop would measure
// the client more than the broker.
func flood(ctx context.Context, f *limitFleet, cfg *tls.Config, sent, sessions *atomic.Int64) {
	batch := make([]byte, 0, 64*1024)
	for len(batch) < 60*1024 {
		batch = append(batch, mqttwire.Publish("devices/flood/lat", 0, 0, []byte("flood"))...)
	}
	perBatch := int64(60 * 1024 / len(mqttwire.Publish("devices/flood/lat", 0, 0, []byte("flood"))))
	for ctx.Err() == nil {
		c, err := f.dial(ctx, "127.0.0.3", cfg, "flood")
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		sessions.Add(1)
		stop := context.AfterFunc(ctx, func() { _ = c.Conn.Close() })
		for {
			if _, err := c.Write(batch); err != nil {
				break
			}
			sent.Add(perBatch)
		}
		stop()
		_ = c.Conn.Close()
	}
}
