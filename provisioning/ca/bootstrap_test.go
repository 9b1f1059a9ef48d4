package ca

import (
	"bytes"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBootstrapCreatesEverything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "ca")
	c, created, err := Bootstrap(dir, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{RootKeyFile, RootCertFile, DeviceCAKeyFile, DeviceCACertFile,
		OperatorCAKeyFile, OperatorCACertFile, AdminKeyFile, AdminCertFile, ServerKeyFile, ServerCertFile}
	if !slices.Equal(created, want) {
		t.Fatalf("created = %v, want %v", created, want)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, want 0700", st.Mode().Perm())
	}
	for _, name := range want {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		wantMode := fs.FileMode(0o644)
		if strings.HasSuffix(name, ".key") {
			wantMode = 0o600
			data, _ := os.ReadFile(filepath.Join(dir, name))
			if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Errorf("%s is not a PKCS#8 PEM key", name)
			}
		}
		if st.Mode().Perm() != wantMode {
			t.Errorf("%s mode = %v, want %v", name, st.Mode().Perm(), wantMode)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want)+1 { // + the trust bundle
		t.Errorf("directory holds %d entries, want %d (temporary files left?)", len(entries), len(want)+1)
	}
	if len(c.TrustBundle()) == 0 {
		t.Errorf("no trust bundle after the first start")
	}

	root, dca := c.Root(), c.DeviceCA()
	if !root.IsCA || root.MaxPathLen != 1 {
		t.Errorf("root: IsCA %v MaxPathLen %d, want CA with path length 1", root.IsCA, root.MaxPathLen)
	}
	if years := root.NotAfter.Sub(time.Now()).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("root lifetime %.1f years, want 10", years)
	}
	if !dca.IsCA || dca.MaxPathLen != 0 || !dca.MaxPathLenZero {
		t.Errorf("device CA: IsCA %v MaxPathLen %d zero %v, want CA with path length 0", dca.IsCA, dca.MaxPathLen, dca.MaxPathLenZero)
	}
	if years := dca.NotAfter.Sub(time.Now()).Hours() / 24 / 365; years < 4.9 || years > 5.1 {
		t.Errorf("device CA lifetime %.1f years, want 5", years)
	}
	if bytes.Equal(c.OperatorCA().RawSubjectPublicKeyInfo, root.RawSubjectPublicKeyInfo) {
		t.Error("operator CA shares the root key")
	}
	admin := parseCertPEM(t, mustRead(t, dir, AdminCertFile))
	if name, err := OperatorName(admin); err != nil || name != "admin" || admin.Subject.CommonName != "admin" {
		t.Errorf("admin cert: name %q CN %q err %v", name, admin.Subject.CommonName, err)
	}
	leaf := c.ServerCertificate().Leaf
	if leaf == nil || leaf.IsCA || !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("server leaf: %+v", leaf)
	}
	if days := leaf.NotAfter.Sub(time.Now()).Hours() / 24; days < 364 || days > 366 {
		t.Errorf("server lifetime %.0f days, want 365", days)
	}
}

func TestBootstrapSecondRunLoadsSameMaterial(t *testing.T) {
	first, dir := newTestCA(t)
	before := readAll(t, dir)
	second, created, err := Bootstrap(dir, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 0 {
		t.Errorf("second Bootstrap created %v", created)
	}
	if !first.Root().Equal(second.Root()) || !first.DeviceCA().Equal(second.DeviceCA()) ||
		!first.ServerCertificate().Leaf.Equal(second.ServerCertificate().Leaf) {
		t.Error("second Bootstrap loaded different certificates")
	}
	after := readAll(t, dir)
	for name, data := range before {
		if !bytes.Equal(after[name], data) {
			t.Errorf("%s changed", name)
		}
	}
}

func TestBootstrapRefusesPartialDirectory(t *testing.T) {
	_, full := newTestCA(t)
	cases := []struct {
		name     string
		keep     []string // files copied from a complete directory
		wantName []string // files the error must name as missing
	}{
		{"error/device-ca.key without root", []string{DeviceCAKeyFile}, []string{RootCertFile, RootKeyFile}},
		{"error/root.key lost", allBut(RootKeyFile), []string{RootKeyFile}},
		{"error/root.crt lost", allBut(RootCertFile), []string{RootCertFile}},
		{"error/device CA lost", allBut(DeviceCACertFile, DeviceCAKeyFile), []string{DeviceCACertFile, DeviceCAKeyFile}},
		{"error/operator-ca.crt lost", allBut(OperatorCACertFile), []string{OperatorCACertFile}},
		{"error/only admin pair", []string{AdminCertFile, AdminKeyFile}, []string{RootKeyFile, OperatorCAKeyFile}},
		{"error/only server.key", []string{ServerKeyFile}, []string{RootKeyFile}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range tc.keep {
				if err := os.WriteFile(filepath.Join(dir, name), mustRead(t, full, name), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := readAll(t, dir)
			_, created, err := Bootstrap(dir, BootstrapOptions{})
			if !errors.Is(err, ErrIncomplete) {
				t.Fatalf("err = %v, want ErrIncomplete", err)
			}
			for _, name := range tc.wantName {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
			if created != nil {
				t.Errorf("created = %v", created)
			}
			after := readAll(t, dir)
			if len(after) != len(before) {
				t.Errorf("directory went from %d to %d files", len(before), len(after))
			}
			for name, data := range before {
				if !bytes.Equal(after[name], data) {
					t.Errorf("%s was overwritten", name)
				}
			}
		})
	}
}

// allBut lists every file Bootstrap writes except the given ones.
func allBut(skip ...string) []string {
	var out []string
	for _, name := range allFiles {
		if !slices.Contains(skip, name) {
			out = append(out, name)
		}
	}
	return out
}

func mustRead(t *testing.T, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestBootstrapLeavesAdminAlone(t *testing.T) {
	_, dir := newTestCA(t)
	for _, name := range []string{AdminCertFile, AdminKeyFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, created, err := Bootstrap(dir, BootstrapOptions{}); err != nil || len(created) != 0 {
		t.Fatalf("created %v, err %v; want nothing and no error", created, err)
	}
	for _, name := range []string{AdminCertFile, AdminKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was recreated", name)
		}
	}
	if _, err := Load(dir); err != nil {
		t.Errorf("Load without admin pair: %v", err)
	}
}

func TestBootstrapTightensDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Bootstrap(dir, BootstrapOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, want 0700", st.Mode().Perm())
	}
}
