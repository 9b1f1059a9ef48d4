package test

import (
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// registerMany registers n devices named prefix-NN and issues their
// certificates.
func (e *attackEnv) registerMany(t *testing.T, prefix string, n int) ([]string, []tls.Certificate) {
	t.Helper()
	ids := make([]string, n)
	certs := make([]tls.Certificate, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%02d", prefix, i)
		certs[i] = e.device(t, ids[i])
	}
	return ids, certs
}

// connectEach connects every device once, one after the other, and
// returns the connect latencies; any refusal fails the row.
func (e *attackEnv) connectEach(t *testing.T, ids []string, certs []tls.Certificate) []time.Duration {
	t.Helper()
	var ds []time.Duration
	for i := range ids {
		d, err := e.timedConnect(certs[i], ids[i])
		if err != nil {
			t.Fatalf("device could not connect: %v", err)
		}
		ds = append(ds, d)
	}
	return ds
}

// connectFlood: 32 connections in a loop CONNECT with one valid identity,
// each taking the session over from the previous one, for at least 3 s,
// while 10 other devices each connect 10 times. Every one of those 100
// connects must succeed.
func connectFlood(t *testing.T, e *attackEnv) {
	const floodWorkers, minFlood = 32, 3 * time.Second
	const rounds = 10
	const floodID = "atk-flood"
	flood := e.device(t, floodID)
	ids, certs := e.registerMany(t, "atk-calm", 10)

	stop := make(chan struct{})
	started := make(chan struct{})
	var startOnce sync.Once
	var admitted, refused atomic.Int64
	var fwg sync.WaitGroup
	for range floodWorkers {
		fwg.Go(func() {
			var prev *mqttConn
			defer func() {
				if prev != nil {
					prev.Close()
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := dialMQTT(e.addr, e.tlsConfig(&flood))
				if err == nil {
					err = c.send(session(floodID).Packet())
				}
				var code byte
				if err == nil {
					code, _, err = c.connack()
				}
				if err != nil || code != 0 {
					refused.Add(1)
					if c != nil {
						c.Close()
					}
					continue
				}
				admitted.Add(1)
				startOnce.Do(func() { close(started) })
				if prev != nil {
					prev.Close()
				}
				prev = c
			}
		})
	}
	start := time.Now()
	select {
	case <-started:
	case <-time.After(attackWait):
		close(stop)
		fwg.Wait()
		t.Fatalf("no flood connection was admitted within %s", attackWait)
	}

	var owg sync.WaitGroup
	errs := make(chan error, len(ids)*rounds)
	lat := make(chan time.Duration, len(ids)*rounds)
	for i := range ids {
		owg.Go(func() {
			for range rounds {
				d, err := e.timedConnect(certs[i], ids[i])
				if err != nil {
					errs <- err
					continue
				}
				lat <- d
			}
		})
	}
	owg.Wait()
	// The flood lasts at least minFlood, however fast the others were.
	if rest := minFlood - time.Since(start); rest > 0 {
		<-time.After(rest)
	}
	close(stop)
	fwg.Wait()
	floodTime := time.Since(start)
	close(errs)
	close(lat)
	for err := range errs {
		t.Errorf("a device was starved by the flood: %v", err)
	}
	var ds []time.Duration
	for d := range lat {
		ds = append(ds, d)
	}
	t.Logf("flood of %s: %d CONNECTs admitted, %d cut short or refused; other devices: %d/%d connected, p50 %s",
		floodTime.Round(time.Millisecond), admitted.Load(), refused.Load(), len(ds), len(ids)*rounds, median(ds))
}
