package ca

import (
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

func TestChains(t *testing.T) {
	c, dir := newTestCA(t)
	device, _ := issueTestDevice(t, c, "dev-1", 1)
	admin := parseCertPEM(t, mustRead(t, dir, AdminCertFile))
	server := c.ServerCertificate().Leaf

	// A client certificate signed directly by the root: a root-key holder
	// (or a bug) must not be able to mint devices past the device CA.
	rootKey, err := readKey(dir, RootKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := identity.URI("dev-2")
	now := time.Now()
	byRoot, err := sign(clientTemplate("dev-2", uri, now.Add(-time.Minute), now.Add(time.Hour)), c.Root(), pki.Key(t).Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}

	// A sub-CA under the device CA and a leaf below it: path length 0 must
	// stop the chain.
	subKey := pki.Key(t)
	subCA, err := sign(caTemplate("rogue sub CA", now, time.Hour, 0, nil), c.DeviceCA(), subKey.Public(), c.deviceKey)
	if err != nil {
		t.Fatal(err)
	}
	uri3, _ := identity.URI("dev-3")
	underSub, err := sign(clientTemplate("dev-3", uri3, now.Add(-time.Minute), now.Add(time.Hour)), subCA, pki.Key(t).Public(), subKey)
	if err != nil {
		t.Fatal(err)
	}
	subPool := x509.NewCertPool()
	subPool.AddCert(subCA)

	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	serverEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	cases := []struct {
		name   string
		cert   *x509.Certificate
		opts   x509.VerifyOptions
		wantOK bool
	}{
		{"ok/device against device pool", device, x509.VerifyOptions{Roots: c.DevicePool(), KeyUsages: client}, true},
		{"ok/admin against operator pool", admin, x509.VerifyOptions{Roots: c.OperatorPool(), KeyUsages: client}, true},
		{"ok/server for localhost", server, x509.VerifyOptions{Roots: c.RootPool(), DNSName: "localhost", KeyUsages: serverEKU}, true},
		{"ok/server for 127.0.0.1", server, x509.VerifyOptions{Roots: c.RootPool(), DNSName: "127.0.0.1", KeyUsages: serverEKU}, true},
		{"ok/server for ::1", server, x509.VerifyOptions{Roots: c.RootPool(), DNSName: "::1", KeyUsages: serverEKU}, true},
		{"error/device against operator pool", device, x509.VerifyOptions{Roots: c.OperatorPool(), KeyUsages: client}, false},
		{"error/device as server", device, x509.VerifyOptions{Roots: c.DevicePool(), KeyUsages: serverEKU}, false},
		{"error/admin against device pool", admin, x509.VerifyOptions{Roots: c.DevicePool(), KeyUsages: client}, false},
		{"error/server as client against device pool", server, x509.VerifyOptions{Roots: c.DevicePool(), KeyUsages: client}, false},
		{"error/server as client against root pool", server, x509.VerifyOptions{Roots: c.RootPool(), KeyUsages: client}, false},
		{"error/server for another name", server, x509.VerifyOptions{Roots: c.RootPool(), DNSName: "evil.example", KeyUsages: serverEKU}, false},
		{"error/client signed by root", byRoot, x509.VerifyOptions{Roots: c.DevicePool(), KeyUsages: client}, false},
		{"error/leaf under a sub-CA of the device CA", underSub, x509.VerifyOptions{Roots: c.DevicePool(), Intermediates: subPool, KeyUsages: client}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cert.Verify(tc.opts)
			switch {
			case tc.wantOK && err != nil:
				t.Fatalf("does not verify: %v", err)
			case !tc.wantOK && err == nil:
				t.Fatal("verifies, want refusal")
			case err != nil:
				t.Logf("refused as expected: %v", err)
			}
		})
	}
}

func TestPoolsAreIndependent(t *testing.T) {
	c, _ := newTestCA(t)
	// A caller adding to one pool must not widen the broker's pool.
	c.DevicePool().AddCert(c.Root())
	server := c.ServerCertificate().Leaf
	_, err := server.Verify(x509.VerifyOptions{Roots: c.DevicePool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err == nil {
		t.Fatal("server certificate verifies against DevicePool after another caller changed its copy")
	}
}

func TestChainPEM(t *testing.T) {
	c, _ := newTestCA(t)
	if got := parseCertPEM(t, c.DeviceChainPEM()); !got.Equal(c.DeviceCA()) {
		t.Error("DeviceChainPEM is not the device CA")
	}
	if got := parseCertPEM(t, c.RootPEM()); !got.Equal(c.Root()) {
		t.Error("RootPEM is not the root")
	}
	// A verifier holding only the root builds the device chain from the PEM
	// a device appends after its leaf.
	device, _ := issueTestDevice(t, c, "dev-1", big.NewInt(7).Int64())
	inter := x509.NewCertPool()
	inter.AppendCertsFromPEM(c.DeviceChainPEM())
	if _, err := device.Verify(x509.VerifyOptions{Roots: c.RootPool(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("device chain via root: %v", err)
	}
}
