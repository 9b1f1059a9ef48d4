package test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// TestReloadBrokenCAFile: a CA file that is garbage, half-written or does
// not match its key makes the reload fail with an error in the log; the
// server keeps the material it had (devices connect, certificates are
// issued from the same intermediate, the connected device stays), and a
// later fix is reloaded.
func TestReloadBrokenCAFile(t *testing.T) {
	s := startServer(t, t.TempDir(), "--reload-interval", "500ms")
	caDir := filepath.Dir(s.CAFile(ca.RootCertFile))
	subCert, subKey := s.Device("dev-sub")
	pubCert, pubKey := s.Device("dev-pub", "--publish", "devices/dev-sub/#")
	issuing := issuerSerial(t, subCert)
	sub := s.startSub(t, "dev-sub", subCert, subKey, "-t", "devices/dev-sub/#", "-q", "1")
	sub.waitFor(t, "received SUBACK")

	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(caDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	cases := []struct {
		name   string
		file   string
		broken []byte
	}{
		{"error/garbage issuing intermediate", ca.DeviceCACertFile, []byte("this is not a certificate\n")},
		{"error/half-written trusted bundle", ca.TrustedDeviceCAsFile, read(ca.DeviceCACertFile)[:300]},
		{"error/key does not match", ca.DeviceCAKeyFile, read(ca.ServerKeyFile)},
		{"error/bad PEM server certificate", ca.ServerCertFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			saved, err := os.ReadFile(filepath.Join(caDir, tc.file))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			failed := s.Logs.Count("level=ERROR", "reload failed", "part=ca")
			reloaded := s.Logs.Count("msg=reloaded", "part=ca")
			replaceAtomically(t, caDir, tc.file, tc.broken)
			s.awaitLog(t, failed+1, "level=ERROR", "reload failed", "part=ca", "trigger=file_change")

			// The old material serves on: a device connects anew and a new
			// certificate comes from the same intermediate.
			if out, code := s.pub(t, "dev-pub", pubCert, pubKey, "-t", "devices/dev-sub/x", "-m", "kept-"+tc.file, "-q", "1"); code != 0 {
				t.Fatalf("device refused while the CA file is broken (exit %d):\n%s", code, out)
			}
			sub.waitFor(t, "kept-"+tc.file)
			fresh, _ := s.Device("dev-during-" + string(rune('a'+i)))
			if got := issuerSerial(t, fresh); got != issuing {
				t.Fatalf("certificate issued by %s while the CA file is broken, want the kept %s", got, issuing)
			}

			if saved == nil {
				if err := os.Remove(filepath.Join(caDir, tc.file)); err != nil {
					t.Fatal(err)
				}
			} else {
				replaceAtomically(t, caDir, tc.file, saved)
			}
			s.awaitLog(t, reloaded+1, "msg=reloaded", "part=ca", "trigger=file_change")
		})
	}
	stayedConnected(t, sub)
	if got := s.Logs.Count("level=ERROR", "reload failed", "part=ca"); got != len(cases) {
		t.Fatalf("%d reload failures logged for %d broken files", got, len(cases))
	}
}
