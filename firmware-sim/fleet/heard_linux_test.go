package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// A device whose reader runs late (its simulator waiting for the CPU)
// still times the broker's goodbye when it arrived: a TLS server closes
// 200 ms after the handshake (close_notify, then FIN, as a broker's drop
// does), the client reads 300 ms later, and lastReceived and goodbyeHeard
// are the close, read or not yet read, not the handshake's data nor the
// read; goodbyeHeard is zero while the server has not ended the
// connection and once the client has closed it.
func TestLastReceivedTimesTheGoodbye(t *testing.T) {
	ca := pki.NewCA(t, "sim test")
	cert := ca.Device(t, "broker", func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan time.Time, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		tc := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}})
		if tc.Handshake() == nil {
			_, _ = tc.Read(make([]byte, 1)) // the client's go-ahead
		}
		closed <- time.Now()
		_ = tc.Close()
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if !goodbyeHeard(raw).IsZero() {
		t.Error("goodbyeHeard on a connection the server has not ended: want zero")
	}
	// The server's last data before its goodbye (the handshake) is 200 ms
	// older than the goodbye: only the close_notify itself times it.
	time.Sleep(200 * time.Millisecond)
	if _, err := tc.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	at := <-closed
	time.Sleep(300 * time.Millisecond) // the starved reader, not a synchronisation
	// A paho that closes after a failed write has not read the goodbye:
	// goodbyeHeard times it from the kernel alone, unread.
	unread := goodbyeHeard(raw)
	if _, err := io.ReadAll(tc); err != nil {
		t.Fatal(err)
	}
	read := time.Now()
	for name, heard := range map[string]time.Time{"lastReceived": lastReceived(raw), "goodbyeHeard": goodbyeHeard(raw), "goodbyeHeard unread": unread} {
		if heard.IsZero() {
			t.Fatalf("%s: no TCP_INFO on a loopback TCP connection the server ended", name)
		}
		// The kernel counts in jiffies: allow 50 ms around the close.
		if heard.Before(at.Add(-50*time.Millisecond)) || heard.After(at.Add(50*time.Millisecond)) {
			t.Errorf("%s: heard %v after the close, read %v after it: want the close", name, heard.Sub(at), read.Sub(at))
		}
	}
	raw.Close()
	if !goodbyeHeard(raw).IsZero() {
		t.Error("goodbyeHeard on a closed connection: want zero")
	}
	if lastReceived(&net.UnixConn{}) != (time.Time{}) {
		t.Error("a connection that is not TCP: want zero")
	}
}
