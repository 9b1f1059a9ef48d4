package cli

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

func TestCABrokerBundle(t *testing.T) {
	data := t.TempDir()
	authority, _, err := ca.Bootstrap(filepath.Join(data, "ca"), ca.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "broker-1")

	said, err := runCA(t, "broker-bundle", "--data", data, "--out", out, "--name", "broker-1.example", "--name", "10.0.0.7")
	if err != nil {
		t.Fatalf("broker-bundle: %v\n%s", err, said)
	}
	b, err := ca.LoadBrokerBundle(out)
	if err != nil {
		t.Fatalf("the written bundle does not load: %v", err)
	}
	leaf := b.ServerCertificate().Leaf
	for _, want := range []string{ca.SerialHex(leaf), "issuing): serial " + ca.SerialHex(authority.DeviceCA()), "No CA private key", "--bundle"} {
		if !strings.Contains(said, want) {
			t.Errorf("output lacks %q:\n%s", want, said)
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(ca.BundleFiles(), e.Name()) {
			t.Errorf("the bundle holds %s", e.Name())
		}
		body, _ := os.ReadFile(filepath.Join(out, e.Name()))
		if strings.Contains(string(body), "PRIVATE KEY") && e.Name() != ca.ServerKeyFile {
			t.Errorf("%s holds a private key", e.Name())
		}
	}

	cases := []struct {
		name string
		args []string
		want error
	}{
		{"error/no --name", []string{"--out", t.TempDir()}, ca.ErrBadServerName},
		{"error/out holds other files", []string{"--out", filepath.Join(data, "ca"), "--name", "b1"}, ca.ErrNotBundleDir},
		{"error/no CA here", []string{"--out", t.TempDir(), "--name", "b1", "--data", t.TempDir()}, ca.ErrIncomplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"broker-bundle"}, tc.args...)
			if !slices.Contains(args, "--data") {
				args = append(args, "--data", data)
			}
			if said, err := runCA(t, args...); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v\n%s", err, tc.want, said)
			}
		})
	}
	if said, err := runCA(t, "broker-bundle", "--data", data, "--name", "b1"); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Fatalf("without --out: err = %v\n%s", err, said)
	}
}
