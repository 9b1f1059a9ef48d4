package broker

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/store"
)

// BenchmarkConnect measures mTLS CONNECT->CONNACK round trips against the
// broker (TLS verification, registry lookup, every CONNECT check, mochi)
// and against a bare crypto/tls listener that answers any CONNECT with
// CONNACK. Both run in this process with the same TLS policy, the same
// certificates and the same client code, and each iteration connects once
// to each, alternating, so that both see the same machine load. It reports
// broker-connects/s, bare-connects/s and their ratio, and logs the key
// exchange each side negotiated.
//
//	go test -run '^$' -bench BenchmarkConnect -benchtime 2000x ./broker
func BenchmarkConnect(b *testing.B) {
	env := newConnectBench(b)
	brokerAddr, bareAddr := env.broker.Addr().String(), env.bare.Addr().String()

	// Warm up both and record the key exchange.
	for name, addr := range map[string]string{"broker": brokerAddr, "bare": bareAddr} {
		curve, err := env.connect(addr)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		b.Logf("%s: key exchange %s", name, curve)
	}

	var brokerTime, bareTime time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		if _, err := env.connect(brokerAddr); err != nil {
			b.Fatalf("broker: %v", err)
		}
		mid := time.Now()
		if _, err := env.connect(bareAddr); err != nil {
			b.Fatalf("bare: %v", err)
		}
		brokerTime += mid.Sub(start)
		bareTime += time.Since(mid)
		n++
	}
	brokerRate := float64(n) / brokerTime.Seconds()
	bareRate := float64(n) / bareTime.Seconds()
	b.ReportMetric(brokerRate, "broker-connects/s")
	b.ReportMetric(bareRate, "bare-connects/s")
	b.ReportMetric(brokerRate/bareRate, "broker/bare")
}

// connectBench holds a started broker, a bare listener and one device.
type connectBench struct {
	broker *Broker
	bare   net.Listener
	client *tls.Config
}

func newConnectBench(b *testing.B) *connectBench {
	b.Helper()
	br, db, authority := startBenchBroker(b, nil)
	bare, err := tls.Listen("tcp", "127.0.0.1:0", br.cfg.withDefaults().tlsConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bare.Close() })
	go serveBare(bare)

	key := pki.Key(b)
	cert := benchDevice(b, db, authority, key, store.Device{ID: "bench-device"})
	return &connectBench{
		broker: br,
		bare:   bare,
		client: &tls.Config{
			RootCAs:      authority.RootPool(),
			ServerName:   "127.0.0.1",
			Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
		},
	}
}

// connect runs one full handshake (no session resumption), CONNECT,
// CONNACK, DISCONNECT, and returns the negotiated key exchange.
func (e *connectBench) connect(addr string) (tls.CurveID, error) {
	conn, err := tls.Dial("tcp", addr, e.client)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
		return 0, err
	}
	if _, err := conn.Write(mqttwire.Connect("bench-device", 60, true)); err != nil {
		return 0, err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		return 0, err
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		return 0, fmt.Errorf("CONNACK % x", ack)
	}
	if _, err := conn.Write(mqttwire.Disconnect); err != nil {
		return 0, err
	}
	return conn.ConnectionState().CurveID, nil
}

// serveBare answers every CONNECT with CONNACK "accepted" and waits for
// the client to hang up: the least an MQTT-over-mTLS server can do.
func serveBare(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
			r := bufio.NewReader(conn)
			if _, err := readPacket(r); err != nil {
				return
			}
			if _, err := conn.Write([]byte{0x20, 2, 0, 0}); err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, r)
		}()
	}
}

// readPacket reads one MQTT packet (fixed header, remaining length, body).
func readPacket(r *bufio.Reader) ([]byte, error) {
	if _, err := r.ReadByte(); err != nil {
		return nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		n += int(c&0x7f) * mult
		if c&0x80 == 0 {
			break
		}
		if mult *= 128; i == 3 {
			return nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return body, err
}
