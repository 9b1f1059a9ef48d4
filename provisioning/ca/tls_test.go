package ca

import (
	"context"
	"crypto/tls"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
)

// TestMutualTLS runs real handshakes on 127.0.0.1 with the material as the
// broker uses it: ServerCertificate, ClientCAs = DevicePool.
func TestMutualTLS(t *testing.T) {
	c, dir := newTestCA(t)
	deviceCert, deviceKey := issueTestDevice(t, c, "dev-1", 42)
	device := tls.Certificate{Certificate: [][]byte{deviceCert.Raw}, PrivateKey: deviceKey}
	admin, err := tls.LoadX509KeyPair(filepath.Join(dir, AdminCertFile), filepath.Join(dir, AdminKeyFile))
	if err != nil {
		t.Fatal(err)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{*c.ServerCertificate()},
		ClientCAs:    c.DevicePool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The server reports the identity it saw, or the handshake error.
	seen := make(chan string, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tc := conn.(*tls.Conn)
			tc.SetDeadline(time.Now().Add(30 * time.Second))
			if err := tc.Handshake(); err != nil {
				seen <- "error: " + err.Error()
				conn.Close()
				continue
			}
			id, err := identity.FromCertificate(tc.ConnectionState().PeerCertificates[0])
			if err != nil {
				id = "error: " + err.Error()
			}
			seen <- id
			io.WriteString(tc, "ok")
			conn.Close()
		}
	}()

	cases := []struct {
		name   string
		client tls.Certificate
		wantID string
	}{
		{"ok/device", device, "dev-1"},
		{"error/operator certificate as device", admin, ""},
		{"error/server certificate as device", *c.ServerCertificate(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d := tls.Dialer{Config: &tls.Config{
				RootCAs:    c.RootPool(),
				ServerName: "localhost",
				// GetClientCertificate sends the certificate whatever CAs
				// the server names, as an attacker's client would.
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc.client, nil },
				MinVersion:           tls.VersionTLS13,
			}}
			conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			if err == nil {
				// In TLS 1.3 the client learns of a refused certificate
				// only when it reads.
				conn.SetDeadline(time.Now().Add(30 * time.Second))
				_, err = io.ReadAll(conn)
				conn.Close()
			}
			got := <-seen
			if tc.wantID != "" {
				if err != nil || got != tc.wantID {
					t.Fatalf("client err %v, server saw %q; want %q", err, got, tc.wantID)
				}
				return
			}
			if err == nil || !strings.Contains(got, "failed to verify certificate") {
				t.Fatalf("handshake accepted or failed for another reason: client err %v, server saw %q", err, got)
			}
		})
	}
}
