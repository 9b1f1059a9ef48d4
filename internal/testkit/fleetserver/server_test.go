package fleetserver

import (
	"crypto/tls"
	"testing"
)

// TestStart starts a real server, registers a device through the CLI and
// completes a TLS handshake with its certificate.
func TestStart(t *testing.T) {
	s := Start(t, t.TempDir())
	if s.MQTT == "" || s.API == "" || s.Ops == "" || s.MQTTPort() == "" {
		t.Fatalf("banner not read: %+v", s.Server)
	}
	certFile, keyFile := s.Device("kit-1")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", s.MQTT, &tls.Config{RootCAs: s.Roots(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatalf("ok/handshake: %v", err)
	}
	c.Close()
	if _, _, code := s.Ctl("device", "show", "nobody"); code == 0 {
		t.Error("error/unknown device: exit 0")
	}
	if s.Token("kit") == "" {
		t.Error("ok/token: empty")
	}
	if s.Logs.Count("level=DEBUG") == 0 {
		t.Error("ok/debug log: no debug line")
	}
}
