package server

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// reloadEnv is a started server over a real registry and CA directory
// whose Reread reads configFile over the test's listeners and data
// directory, as the command layers its flags over the file.
type reloadEnv struct {
	srv        *Server
	rl         *reloader
	caDir      string
	configFile string
	logs       *logbuf.Buffer
}

func newReloadEnv(t *testing.T, configJSON string) *reloadEnv {
	t.Helper()
	dir := t.TempDir()
	e := &reloadEnv{caDir: filepath.Join(dir, "ca"), configFile: filepath.Join(dir, "config.json"), logs: &logbuf.Buffer{}}
	e.writeConfig(t, configJSON)
	base := DefaultConfig()
	base.DataDir, base.MQTTAddr, base.APIAddr, base.OpsAddr = dir, "127.0.0.1:0", "127.0.0.1:0", ""
	// Watching only when the test's file asks for it: a reload the test
	// did not trigger would upset its counts of log lines.
	base.ReloadInterval.Duration = 0
	base.LogOutput = e.logs
	load := func() (Config, error) {
		c := base
		if err := c.LoadFile(e.configFile); err != nil {
			return Config{}, err
		}
		return c, c.Validate()
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Reread = load
	if e.srv, err = Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	e.rl = e.srv.rl
	t.Cleanup(func() {
		if err := e.srv.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", e.logs.String())
		}
	})
	return e
}

func (e *reloadEnv) writeConfig(t *testing.T, configJSON string) {
	t.Helper()
	if err := os.WriteFile(e.configFile, []byte(configJSON), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadConfig: reloadable fields apply at once, others are reported as
// needing a restart and keep their value, and a bad file changes nothing.
func TestReloadConfig(t *testing.T) {
	e := newReloadEnv(t, `{"log_level": "info", "handshake_timeout": "1h"}`)

	t.Run("ok/log level", func(t *testing.T) {
		e.rl.log.Debug("probe before")
		e.writeConfig(t, `{"log_level": "debug", "handshake_timeout": "1h"}`)
		if err := e.rl.reloadConfig("test"); err != nil {
			t.Fatal(err)
		}
		e.rl.log.Debug("probe after")
		if e.logs.Count("probe before") != 0 || e.logs.Count("probe after") != 1 {
			t.Fatalf("debug lines before/after the reload: %d/%d, want 0/1", e.logs.Count("probe before"), e.logs.Count("probe after"))
		}
		if e.logs.Count("msg=reloaded", "part=config", "log_level info -> debug") != 1 {
			t.Fatal("no reloaded line naming the level change")
		}
	})

	t.Run("ok/handshake timeout, cert lifetime and max pending", func(t *testing.T) {
		e.writeConfig(t, `{"log_level": "debug", "handshake_timeout": "200ms", "cert_lifetime": "48h", "max_pending": 10}`)
		if err := e.rl.reloadConfig("test"); err != nil {
			t.Fatal(err)
		}
		// The old one-hour deadline would keep this idle socket open.
		conn, err := net.Dial("tcp", e.srv.Endpoints().MQTT)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
			t.Fatalf("idle socket read %v, want it closed by the new handshake timeout", err)
		}
		if e.logs.Count("handshake_timeout 1h0m0s -> 200ms", "cert_lifetime 720h0m0s -> 48h0m0s", "max_pending 1024 -> 10") != 1 {
			t.Fatal("reloaded line does not name every applied field")
		}
	})

	t.Run("ok/restart needed", func(t *testing.T) {
		e.writeConfig(t, `{"log_level": "debug", "handshake_timeout": "200ms", "cert_lifetime": "48h", "max_pending": 10, "mqtt_addr": ":1", "max_packet_size": 4096}`)
		if err := e.rl.reloadConfig("test"); err != nil {
			t.Fatal(err)
		}
		if e.logs.Count("level=WARN", "need a restart", "mqtt_addr", "max_packet_size") != 1 {
			t.Fatal("no restart notice naming mqtt_addr and max_packet_size")
		}
		if e.rl.cfg.MQTTAddr == ":1" || e.rl.cfg.MaxPacketSize == 4096 {
			t.Fatal("a field read only at start was recorded as in effect")
		}
	})

	for _, tc := range []struct{ name, json string }{
		{"error/not JSON", `{"log_level": "warn",`},
		{"error/invalid value", `{"log_level": "warn", "handshake_timeout": "-1s"}`},
		{"error/unknown field", `{"log_level": "warn", "log_levle": "warn"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed := e.logs.Count("reload failed", "part=config")
			e.writeConfig(t, tc.json)
			if err := e.rl.reloadConfig("test"); err == nil {
				t.Fatal("reload accepted a bad config file")
			}
			if e.logs.Count("level=ERROR", "reload failed", "part=config") != failed+1 {
				t.Fatal("no error line for the failed reload")
			}
			if e.rl.level.Level() != slog.LevelDebug || e.rl.cfg.LogLevel != "debug" {
				t.Fatal("a failed reload changed the log level")
			}
		})
	}
}

// TestReloadCA: a sound directory is swapped in, a broken one or one with
// a new root is refused and the previous CA stays in effect.
func TestReloadCA(t *testing.T) {
	e := newReloadEnv(t, `{}`)
	first := e.rl.current()
	other := t.TempDir()
	if _, _, err := ca.Bootstrap(other, ca.BootstrapOptions{}); err != nil {
		t.Fatal(err)
	}

	broken := []struct {
		name    string
		corrupt func(t *testing.T)
	}{
		{"error/garbage intermediate", func(t *testing.T) { write(t, e.caDir, ca.DeviceCACertFile, []byte("garbage")) }},
		{"error/half-written trusted bundle", func(t *testing.T) {
			write(t, e.caDir, ca.TrustedDeviceCAsFile, ca.EncodeCertPEM(first.DeviceCA())[:300])
		}},
		{"error/key does not match", func(t *testing.T) { write(t, e.caDir, ca.DeviceCAKeyFile, read(t, e.caDir, ca.ServerKeyFile)) }},
		{"error/another root", func(t *testing.T) {
			for _, name := range []string{ca.RootCertFile, ca.RootKeyFile, ca.DeviceCACertFile, ca.DeviceCAKeyFile, ca.ServerCertFile, ca.ServerKeyFile} {
				write(t, e.caDir, name, read(t, other, name))
			}
		}},
	}
	for _, tc := range broken {
		t.Run(tc.name, func(t *testing.T) {
			saved := snapshotDir(t, e.caDir)
			defer restoreDir(t, e.caDir, saved)
			tc.corrupt(t)
			if err := e.rl.reloadCA("test"); err == nil {
				t.Fatal("reload accepted a broken CA directory")
			}
			if e.rl.current() != first {
				t.Fatal("a failed reload replaced the CA")
			}
		})
	}
	if n := e.logs.Count("level=ERROR", "reload failed", "part=ca"); n != len(broken) {
		t.Fatalf("%d error lines for %d failed reloads", n, len(broken))
	}

	r, err := ca.RotateIntermediate(e.caDir, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rl.reloadCA("test"); err != nil {
		t.Fatal(err)
	}
	if !e.rl.current().DeviceCA().Equal(r.New) {
		t.Fatal("the rotated intermediate is not in effect after the reload")
	}
	if e.logs.Count("msg=reloaded", "part=ca", "issuing intermediate "+ca.SerialHex(r.Old)+" -> "+ca.SerialHex(r.New), "trusted intermediate added "+ca.SerialHex(r.Old)) != 1 {
		t.Fatal("reloaded line does not describe the rotation")
	}
}

// TestWatch: a changed config file and a changed CA file are reloaded
// without a signal; a broken file is reported once and retried when it
// changes again; Reload (on SIGHUP) reloads everything.
func TestWatch(t *testing.T) {
	e := newReloadEnv(t, `{"reload_interval": "100ms"}`)
	e.writeConfig(t, `{"reload_interval": "100ms", "log_level": "debug"}`)
	e.logs.Await(t, wait, "msg=reloaded", "trigger=file_change", "part=config", "log_level info -> debug")

	saved := read(t, e.caDir, ca.DeviceCACertFile)
	write(t, e.caDir, ca.DeviceCACertFile, saved[:100])
	e.logs.Await(t, wait, "reload failed", "trigger=file_change", "part=ca")
	// Another change to the config file: once it is reloaded, the watcher
	// has looked at the broken CA file again, and must not have retried.
	e.writeConfig(t, `{"reload_interval": "100ms", "log_level": "debug", "cert_lifetime": "48h"}`)
	e.logs.Await(t, wait, "msg=reloaded", "trigger=file_change", "part=config", "cert_lifetime")
	if n := e.logs.Count("reload failed", "part=ca"); n != 1 {
		t.Fatalf("the unchanged broken file was reloaded %d times, want once", n)
	}
	write(t, e.caDir, ca.DeviceCACertFile, saved)
	e.logs.Await(t, wait, "msg=reloaded", "trigger=file_change", "part=ca")

	if err := e.srv.Reload("sighup"); err != nil {
		t.Fatal(err)
	}
	e.logs.Await(t, wait, "msg=reloaded", "trigger=sighup", "part=ca")
	e.logs.Await(t, wait, "msg=reloaded", "trigger=sighup", "part=config")
}
