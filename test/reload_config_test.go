package test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReloadConfigFile: a new handshake_timeout in the --config file takes
// effect without a restart (an idle socket is closed after the new 1s, not
// the old minute); a field read only at start is reported as needing a
// restart; the connected device stays connected.
func TestReloadConfigFile(t *testing.T) {
	dir := t.TempDir()
	configFile := filepath.Join(dir, "fleetgate.json")
	if err := os.WriteFile(configFile, []byte(`{"handshake_timeout": "60s", "reload_interval": "500ms"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "--config", configFile)
	subCert, subKey := s.Device("dev-sub")
	pubCert, pubKey := s.Device("dev-pub", "--publish", "devices/dev-sub/#")
	sub := s.startSub(t, "dev-sub", subCert, subKey, "-t", "devices/dev-sub/#", "-q", "1")
	sub.waitFor(t, "received SUBACK")

	replaceAtomically(t, dir, filepath.Base(configFile),
		[]byte(`{"handshake_timeout": "1s", "reload_interval": "500ms", "max_packet_size": 4096}`))
	s.awaitLog(t, 1, "msg=reloaded", "trigger=file_change", "part=config", "handshake_timeout 1m0s -> 1s")
	s.awaitLog(t, 1, "level=WARN", "need a restart", "max_packet_size")

	timeouts := s.Logs.Count("tls handshake failed", "reason=timeout")
	conn, err := net.Dial("tcp", "127.0.0.1:"+s.MQTTPort())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	// 20s lies far beyond the new timeout and far below the old one.
	if err := conn.SetReadDeadline(start.Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Read(make([]byte, 1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("idle socket still open after 20s: the reloaded 1s handshake timeout did not apply")
	}
	t.Logf("idle socket closed after %s (%v)", time.Since(start).Round(time.Millisecond), err)
	s.awaitLog(t, timeouts+1, "tls handshake failed", "reason=timeout")

	if out, code := s.pub(t, "dev-pub", pubCert, pubKey, "-t", "devices/dev-sub/x", "-m", "after-config", "-q", "1"); code != 0 {
		t.Fatalf("publish after the config reload refused (exit %d):\n%s", code, out)
	}
	sub.waitFor(t, "after-config")
	stayedConnected(t, sub)
}
