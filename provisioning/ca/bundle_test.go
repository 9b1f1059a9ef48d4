package ca

import (
	"bytes"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// privateKeyBlocks counts the PEM private key blocks of every file in dir.
func privateKeyBlocks(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for name, data := range readAll(t, dir) {
		if n := bytes.Count(data, []byte("PRIVATE KEY-----")); n > 0 {
			out[name] = n / 2 // BEGIN and END
		}
	}
	return out
}

func TestWriteBrokerBundle(t *testing.T) {
	authority, caDir := newTestCA(t)
	if _, err := RotateIntermediate(caDir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	rotated, err := Load(caDir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "broker-1")

	b, err := WriteBrokerBundle(caDir, out, []string{"broker-1.example", "10.0.0.7"}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	files := readAll(t, out)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	want := slices.Clone(bundleFiles) // no rollover files outside a rollover
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("bundle holds %v, want exactly %v", names, want)
	}
	if keys := privateKeyBlocks(t, out); len(keys) != 1 || keys[ServerKeyFile] != 1 {
		t.Fatalf("private keys in the bundle: %v, want the server key only", keys)
	}
	for name, mode := range map[string]os.FileMode{".": 0o700, ServerKeyFile: 0o600, ServerCertFile: 0o644} {
		st, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %o, want %o", name, st.Mode().Perm(), mode)
		}
	}

	// The server certificate is for the names given, signed by the root.
	if b.Server.DNSNames[0] != "broker-1.example" || len(b.Server.DNSNames) != 1 ||
		len(b.Server.IPAddresses) != 1 || !b.Server.IPAddresses[0].Equal(net.ParseIP("10.0.0.7")) {
		t.Fatalf("server certificate names %v %v", b.Server.DNSNames, b.Server.IPAddresses)
	}
	if _, err := b.Server.Verify(x509.VerifyOptions{DNSName: "broker-1.example", Roots: authority.RootPool()}); err != nil {
		t.Fatalf("server certificate does not verify under the root: %v", err)
	}

	// Loaded, it trusts both intermediates, serves its own certificate,
	// and signs nothing.
	loaded, err := LoadBrokerBundle(out)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.DeviceCA().Equal(rotated.DeviceCA()) || len(loaded.TrustedDeviceCAs()) != 1 ||
		!loaded.TrustedDeviceCAs()[0].Equal(authority.DeviceCA()) {
		t.Fatalf("bundle intermediates: issuing %s, trusted %d", SerialHex(loaded.DeviceCA()), len(loaded.TrustedDeviceCAs()))
	}
	if !loaded.ServerCertificate().Leaf.Equal(b.Server) || !loaded.Root().Equal(authority.Root()) {
		t.Fatal("bundle serves another server certificate or root")
	}
	oldDevice, _ := issueTestDevice(t, authority, "dev-old", 1)
	newDevice, _ := issueTestDevice(t, rotated, "dev-new", 2)
	for _, c := range []*x509.Certificate{oldDevice, newDevice} {
		if !verifies(c, loaded.DevicePool()) {
			t.Errorf("%s does not verify against the bundle's device pool", c.Subject.CommonName)
		}
	}
	if verifies(b.Server, loaded.DevicePool()) {
		t.Error("the server certificate passes as a device")
	}
	csr := mustCSR(t, csrDER(t, pki.Key(t), &x509.CertificateRequest{}))
	if _, err := loaded.IssueDevice(csr, "dev-x", big.NewInt(9), 0); !errors.Is(err, ErrNoCAKey) {
		t.Errorf("IssueDevice from a bundle: %v, want ErrNoCAKey", err)
	}
	if _, err := loaded.DeviceCRL(nil, big.NewInt(1), 0); !errors.Is(err, ErrNoCAKey) {
		t.Errorf("DeviceCRL from a bundle: %v, want ErrNoCAKey", err)
	}

	// Written again into the same directory: a new certificate for the
	// same key.
	again, err := WriteBrokerBundle(caDir, out, []string{"broker-1.example"}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.KeptKey || again.Server.Equal(b.Server) || !bytes.Equal(mustRead(t, out, ServerKeyFile), files[ServerKeyFile]) {
		t.Fatalf("refresh: kept key %v, same certificate %v", again.KeptKey, again.Server.Equal(b.Server))
	}
	if _, err := LoadBrokerBundle(out); err != nil {
		t.Fatalf("refreshed bundle: %v", err)
	}
}

func TestWriteBrokerBundleRefuses(t *testing.T) {
	_, caDir := newTestCA(t)
	cases := []struct {
		name  string
		caDir func() string
		out   func() string
		names []string
		want  error
	}{
		{"error/no names", func() string { return caDir }, func() string { return t.TempDir() }, nil, ErrBadServerName},
		{"error/bad name", func() string { return caDir }, func() string { return t.TempDir() }, []string{"bro ker"}, ErrBadServerName},
		{"error/out is the CA directory", func() string { return caDir }, func() string { return caDir }, []string{"b1"}, ErrNotBundleDir},
		{"error/out holds another file", func() string { return caDir }, func() string {
			d := t.TempDir()
			writeFile(t, d, "notes.txt", []byte("mine"))
			return d
		}, []string{"b1"}, ErrNotBundleDir},
		{"error/not a CA directory", func() string { return t.TempDir() }, func() string { return t.TempDir() }, []string{"b1"}, ErrIncomplete},
		{"error/a broker bundle is not a CA directory", func() string {
			d := filepath.Join(t.TempDir(), "b")
			if _, err := WriteBrokerBundle(caDir, d, []string{"b0"}, time.Now(), nil); err != nil {
				t.Fatal(err)
			}
			return d
		}, func() string { return t.TempDir() }, []string{"b1"}, ErrIncomplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out()
			before := readAll(t, out)
			_, err := WriteBrokerBundle(tc.caDir(), out, tc.names, time.Now(), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if after := readAll(t, out); len(after) != len(before) {
				t.Fatalf("the refused command changed %s: %d files, were %d", out, len(after), len(before))
			}
		})
	}
}

func TestLoadBrokerBundleRefuses(t *testing.T) {
	_, caDir := newTestCA(t)
	_, otherDir := newTestCA(t)
	cases := []struct {
		name  string
		spoil func(dir string)
		want  error
	}{
		{"error/server key missing", func(d string) { removeAll(t, d, ServerKeyFile) }, ErrIncomplete},
		{"error/no intermediates", func(d string) { writeFile(t, d, BundleDeviceCAsFile, nil) }, ErrCorrupt},
		{"error/truncated intermediates", func(d string) {
			writeFile(t, d, BundleDeviceCAsFile, mustRead(t, d, BundleDeviceCAsFile)[:200])
		}, ErrCorrupt},
		{"error/key of another certificate", func(d string) { writeFile(t, d, ServerKeyFile, mustRead(t, otherDir, ServerKeyFile)) }, ErrCorrupt},
		{"error/intermediate of another root", func(d string) {
			writeFile(t, d, BundleDeviceCAsFile, mustRead(t, otherDir, DeviceCACertFile))
		}, ErrCorrupt},
		{"error/a CA directory is not a bundle", func(d string) {
			for name, data := range readAll(t, caDir) {
				writeFile(t, d, name, data)
			}
			removeAll(t, d, BundleDeviceCAsFile)
		}, ErrIncomplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { refusesSpoiled(t, caDir, tc.spoil, tc.want) })
	}
	if got := CAKeysIn(caDir); !slices.Equal(got, caKeyFiles) {
		t.Errorf("CAKeysIn(CA directory) = %v, want %v", got, caKeyFiles)
	}
}

// refusesSpoiled writes a bundle from the CA directory caDir, spoils it,
// and fails t unless LoadBrokerBundle refuses it with want.
func refusesSpoiled(t *testing.T, caDir string, spoil func(dir string), want error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := WriteBrokerBundle(caDir, dir, []string{"b1"}, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	spoil(dir)
	if _, err := LoadBrokerBundle(dir); !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}
