package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/cli"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// issued registers devices of group and issues each a certificate from
// the test CA through the CLI.
func issued(t *testing.T, e *apitest.Env, group string, ids ...string) {
	t.Helper()
	dir := t.TempDir()
	for _, id := range ids {
		run(t, e, "device", "register", id, "--group", group).mustSucceed(t)
		run(t, e, "cert", "issue", id, "--new-key", filepath.Join(dir, id+".key"), "--out", filepath.Join(dir, id+".crt")).mustSucceed(t)
	}
}

// deviceStatus returns a device's status in the registry.
func deviceStatus(t *testing.T, e *apitest.Env, id string) store.DeviceStatus {
	t.Helper()
	d, err := e.DB.Device(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.Status
}

func TestDeviceRevokeBulk(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	issued(t, e, "line-a", "a-1", "a-2", "a-3")
	issued(t, e, "line-b", "b-1", "b-2", "b-3")
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("ok/group", func(t *testing.T) {
		var res wire.BulkRevokeResult
		decodeJSON(t, run(t, e, "device", "revoke", "--group", "line-a", "--reason", "batch compromised", "--json").mustSucceed(t).stdout, &res)
		if e := res.Enforcement; e == nil || e.Brokers != 0 || len(e.Missing) != 0 {
			t.Errorf("enforcement = %+v, want no broker to wait for", e) // the API here serves no broker
		}
		res.Enforcement = nil
		if res != (wire.BulkRevokeResult{Selector: "group:line-a", Selected: 3, Revoked: 3, Certificates: 3}) {
			t.Fatalf("result = %+v", res)
		}
		for _, id := range []string{"a-1", "a-2", "a-3"} {
			if s := deviceStatus(t, e, id); s != store.DeviceRevoked {
				t.Errorf("%s is %s", id, s)
			}
		}
	})
	t.Run("ok/group-again", func(t *testing.T) {
		r := run(t, e, "device", "revoke", "--group", "line-a", "--reason", "batch compromised").mustSucceed(t)
		if !strings.Contains(r.stdout, "3 devices selected, 0 revoked now, 3 already revoked") {
			t.Fatalf("output: %s", r.stdout)
		}
	})
	t.Run("error/unknown-group", func(t *testing.T) {
		r := run(t, e, "device", "revoke", "--group", "line-z", "--reason", "r")
		if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, `group "line-z"`) {
			t.Fatalf("exit %d, stderr %q; want %d naming the group", r.code, r.stderr, cli.ExitNotFound)
		}
	})
	t.Run("error/wait-out-of-range", func(t *testing.T) {
		for _, wait := range []string{"-1s", "11m"} {
			r := run(t, e, "device", "revoke", "--group", "line-b", "--reason", "r", "--wait", wait)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "--wait") {
				t.Errorf("--wait %s: exit %d, stderr %q; want %d", wait, r.code, r.stderr, cli.ExitUsage)
			}
		}
		if s := deviceStatus(t, e, "b-1"); s != store.DeviceActive {
			t.Errorf("b-1 is %s after refused commands", s)
		}
	})
	t.Run("ok/no-wait", func(t *testing.T) {
		var res wire.BulkRevokeResult
		decodeJSON(t, run(t, e, "device", "revoke", "--group", "line-a", "--reason", "again", "--wait", "0", "--json").mustSucceed(t).stdout, &res)
		if res.Enforcement != nil {
			t.Errorf("--wait 0: enforcement %+v, want none", res.Enforcement)
		}
	})
	t.Run("error/malformed-line", func(t *testing.T) {
		path := write("bad.txt", "# returned units\nb-1\n\nb-2 # second\nnot/an/id\n")
		r := run(t, e, "device", "revoke", "--file", path, "--reason", "r")
		if r.code != cli.ExitBadInput || !strings.Contains(r.stderr, "line 5") || !strings.Contains(r.stderr, "nothing was revoked") {
			t.Fatalf("exit %d, stderr %q; want %d naming line 5", r.code, r.stderr, cli.ExitBadInput)
		}
		if s := deviceStatus(t, e, "b-1"); s != store.DeviceActive {
			t.Fatalf("b-1 is %s after a refused file", s)
		}
	})
	t.Run("error/unknown-device", func(t *testing.T) {
		path := write("ghost.txt", "b-1\nghost-7\n")
		r := run(t, e, "device", "revoke", "--file", path, "--reason", "r")
		if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "ghost-7") {
			t.Fatalf("exit %d, stderr %q; want %d naming ghost-7", r.code, r.stderr, cli.ExitNotFound)
		}
		if s := deviceStatus(t, e, "b-1"); s != store.DeviceActive {
			t.Fatalf("b-1 is %s after a refused file", s)
		}
	})
	t.Run("ok/file", func(t *testing.T) {
		path := write("ok.txt", "# returned units\nb-1\n\n  b-2 # second\n")
		r := run(t, e, "device", "revoke", "--file", path, "--reason", "returned").mustSucceed(t)
		if !strings.Contains(r.stdout, "devices:2: 2 devices selected, 2 revoked now") || deviceStatus(t, e, "b-3") != store.DeviceActive {
			t.Fatalf("output: %s", r.stdout)
		}
	})
	t.Run("error/usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"device", "revoke", "--reason", "r"},
			{"device", "revoke", "b-3", "--group", "line-b", "--reason", "r"},
			{"device", "revoke", "--group", "line-b"},
			{"cert", "revoke", "--reason", "r"},
		} {
			if r := run(t, e, args...); r.code != cli.ExitUsage {
				t.Errorf("%q: exit %d, want %d; stderr %q", args, r.code, cli.ExitUsage, r.stderr)
			}
		}
	})
	t.Run("ok/single-device", func(t *testing.T) {
		r := run(t, e, "device", "revoke", "b-3", "--reason", "lost").mustSucceed(t)
		if !strings.Contains(r.stdout, "device b-3 is now revoked") {
			t.Fatalf("output: %s", r.stdout)
		}
	})
}

func TestCertRevokeIssuer(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	issued(t, e, "line-c", "c-1", "c-2")
	caFile := filepath.Join(e.CADir, ca.DeviceCACertFile)

	r := run(t, e, "cert", "revoke", "--issuer", caFile, "--reason", "intermediate key leaked", "--json").mustSucceed(t)
	var res wire.BulkRevokeResult
	decodeJSON(t, r.stdout, &res)
	if res.Selected != 2 || res.Revoked != 2 || !strings.HasPrefix(res.Selector, "issuer:") {
		t.Fatalf("result = %+v", res)
	}
	for _, id := range []string{"c-1", "c-2"} {
		certs, err := e.DB.Certificates(t.Context(), id)
		if err != nil || len(certs) != 1 || certs[0].Status != store.CertRevoked {
			t.Fatalf("certificates of %s: %+v, %v", id, certs, err)
		}
		if s := deviceStatus(t, e, id); s != store.DeviceActive {
			t.Fatalf("%s is %s; an issuer revocation keeps devices", id, s)
		}
	}
	if r := run(t, e, "cert", "revoke", "--issuer", e.AdminCert, "--reason", "r"); r.code != cli.ExitBadInput {
		t.Fatalf("a leaf as --issuer: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, e, "cert", "revoke", "--issuer-key-id", "0123abcd", "--reason", "r"); r.code != cli.ExitNotFound {
		t.Fatalf("unknown issuer key: exit %d, stderr %q", r.code, r.stderr)
	}
}
