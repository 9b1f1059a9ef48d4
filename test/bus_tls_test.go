package test

import (
	"crypto/tls"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/fleetgate/fleetgate/internal/testkit/natstest"
)

// TestBusTLS: a broker reaches a TLS-only nats-server that requires
// client certificates with bus_ca, bus_cert and bus_key, and its messages
// travel on it; a broker without a client certificate is refused by
// NATS, says so, and still serves its own devices.
func TestBusTLS(t *testing.T) {
	ns, files := natstest.StartTLS(t)
	s := startServer(t, t.TempDir(), "--bus", ns.URL,
		"--bus-ca", files.CA, "--bus-cert", files.ClientCert, "--bus-key", files.ClientKey)
	awaitMetric(t, s, "fleetgate_bus_connected", func(v float64) bool { return v == 1 })

	// Another client of the same NATS sees what the broker forwards.
	conf, err := files.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(ns.URL, nats.Secure(conf))
	if err != nil {
		t.Fatalf("test client to NATS over TLS: %v", err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("fg.m.devices.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	dev := deviceOn(t, s, "dev-tls")
	dev.publish(t, "devices/dev-tls/temp", "21.5", false)
	m, err := sub.NextMsg(busWait)
	if err != nil {
		t.Fatalf("the broker's message did not reach NATS: %v", err)
	}
	if m.Subject != "fg.m.devices.dev-tls.temp" || string(m.Data) != "21.5" {
		t.Fatalf("NATS got %s %q", m.Subject, m.Data)
	}

	t.Run("no client certificate, no bus", func(t *testing.T) {
		s2 := startServer(t, t.TempDir(), "--bus", ns.URL, "--bus-ca", files.CA)
		s2.Logs.Await(t, busWait, "bus unreachable; routing paused, local delivery goes on")
		if v := metric(t, s2, "fleetgate_bus_connected"); v != 0 {
			t.Fatalf("fleetgate_bus_connected = %v without a client certificate", v)
		}
		local := deviceOn(t, s2, "dev-local")
		if code := local.subscribe(t, "devices/dev-local/#"); code != 1 {
			t.Fatalf("SUBACK %#x", code)
		}
		local.publishQoS0(t, "devices/dev-local/x", "still here", false) // QoS 1 needs the bus
		drainUntil(t, local, "devices/dev-local/x", "still here")
	})
}

// deviceOn registers id on a single server s and connects it with paho.
func deviceOn(t *testing.T, s *server, id string) *pahoDevice {
	t.Helper()
	certFile, keyFile := s.forTest(t).Device(id)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return connectPaho(t, s.MQTT, deviceTLS(s.Roots(), cert), id)
}
