package test

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// TestReloadServerCertificate: after `fleetgate ca renew-server` the server
// notices the new certificate on its own; new TLS connections on the MQTT
// and the API ports see the new serial, and a connected device stays
// connected.
func TestReloadServerCertificate(t *testing.T) {
	s := startServer(t, t.TempDir(), "--reload-interval", "500ms")
	subCert, subKey := s.Device("dev-sub")
	pubCert, pubKey := s.Device("dev-pub", "--publish", "devices/dev-sub/#")
	pair, err := tls.LoadX509KeyPair(pubCert, pubKey)
	if err != nil {
		t.Fatal(err)
	}
	mqttAddr := s.MQTT
	apiAddr := strings.TrimPrefix(s.API, "https://")

	sub := s.startSub(t, "dev-sub", subCert, subKey, "-t", "devices/dev-sub/#", "-q", "1")
	sub.waitFor(t, "received SUBACK")
	before := s.serverSerial(t, mqttAddr, &pair)
	if got := s.serverSerial(t, apiAddr, nil); got != before {
		t.Fatalf("API serves server certificate %s, MQTT %s: want one certificate", got, before)
	}

	renewed := serialIn(t, s.caCmd(t, "renew-server"), "renewed the server certificate")
	if renewed == before {
		t.Fatalf("renew-server kept serial %s", before)
	}
	onDisk := certChain(t, s.CAFile(ca.ServerCertFile))[0]
	if ca.SerialHex(onDisk) != renewed {
		t.Fatalf("%s holds serial %s, the command printed %s", ca.ServerCertFile, ca.SerialHex(onDisk), renewed)
	}
	s.reloadVia(t, false, "server certificate "+before+" -> "+renewed)

	if got := s.serverSerial(t, mqttAddr, &pair); got != renewed {
		t.Fatalf("MQTT serves server certificate %s after the reload, want %s", got, renewed)
	}
	if got := s.serverSerial(t, apiAddr, nil); got != renewed {
		t.Fatalf("API serves server certificate %s after the reload, want %s", got, renewed)
	}
	if out, code := s.pub(t, "dev-pub", pubCert, pubKey, "-t", "devices/dev-sub/x", "-m", "after-renewal", "-q", "1"); code != 0 {
		t.Fatalf("publish after the renewal refused (exit %d):\n%s", code, out)
	}
	sub.waitFor(t, "after-renewal")
	stayedConnected(t, sub)
}
