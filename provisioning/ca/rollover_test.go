package ca

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
)

// serverVerifies reports whether a client holding only root accepts the
// server certificate as served (with its chain).
func serverVerifies(t *testing.T, c *CA, root *x509.Certificate) bool {
	t.Helper()
	sc := c.ServerCertificate()
	inter := x509.NewCertPool()
	for _, der := range sc.Certificate[1:] {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(x)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	_, err := sc.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "localhost"})
	return err == nil
}

// TestRootRollover walks a rollover: devices of the old root stay
// trusted during it, the server verifies under either root, devices
// holding the old root learn the new one from the trust bundle, and
// finish retires the old root.
func TestRootRollover(t *testing.T) {
	before, dir := newTestCA(t)
	oldLeaf, _ := issueTestDevice(t, before, "old-device", 1)
	root1 := before.Root()
	bundle1, err := trustbundle.Verify(before.TrustBundle(), before.RootPool(), nil, time.Now())
	if err != nil {
		t.Fatalf("trust bundle after bootstrap: %v", err)
	}

	if _, err := FinishRootRollover(dir, time.Now(), nil); !errors.Is(err, ErrNoRollover) {
		t.Fatalf("finish without begin = %v, want ErrNoRollover", err)
	}
	r, err := BeginRootRollover(dir, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	during, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	root2 := during.Root()
	if root2.Equal(root1) || !during.PreviousRoot().Equal(root1) || !r.Root.Equal(root2) {
		t.Fatalf("after begin: root changed %v, previous = old root %v", !root2.Equal(root1), during.PreviousRoot().Equal(root1))
	}
	if err := during.DeviceCA().CheckSignatureFrom(root2); err != nil {
		t.Fatalf("issuing intermediate not under the new root: %v", err)
	}
	newLeaf, _ := issueTestDevice(t, during, "new-device", 2)
	pool := during.DevicePool()
	if !verifies(oldLeaf, pool) || !verifies(newLeaf, pool) {
		t.Fatalf("during the rollover the device pool accepts old %v new %v; want both", verifies(oldLeaf, pool), verifies(newLeaf, pool))
	}
	if !serverVerifies(t, during, root1) || !serverVerifies(t, during, root2) {
		t.Fatalf("server certificate verifies under old root %v, new root %v; want both",
			serverVerifies(t, during, root1), serverVerifies(t, during, root2))
	}
	bundle2, err := trustbundle.Verify(during.TrustBundle(), bundle1.Pool(), bundle1, time.Now())
	if err != nil {
		t.Fatalf("a device holding the old root refuses the rollover's bundle: %v", err)
	}
	if bundle2.Sequence <= bundle1.Sequence || len(bundle2.RootCerts) != 2 {
		t.Fatalf("rollover bundle: sequence %d after %d, %d roots", bundle2.Sequence, bundle1.Sequence, len(bundle2.RootCerts))
	}
	if _, err := BeginRootRollover(dir, time.Now(), nil); !errors.Is(err, ErrRolloverInProgress) {
		t.Fatalf("begin twice = %v, want ErrRolloverInProgress", err)
	}

	if _, err := FinishRootRollover(dir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	after, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.PreviousRoot() != nil || !after.Root().Equal(root2) {
		t.Fatalf("after finish: previous root %v, root = new root %v", after.PreviousRoot(), after.Root().Equal(root2))
	}
	if pool := after.DevicePool(); verifies(oldLeaf, pool) || !verifies(newLeaf, pool) {
		t.Fatalf("after finish the device pool accepts old %v new %v; want only the new", verifies(oldLeaf, pool), verifies(newLeaf, pool))
	}
	if serverVerifies(t, after, root1) || !serverVerifies(t, after, root2) {
		t.Fatalf("after finish server verifies under old root %v, new %v; want only the new",
			serverVerifies(t, after, root1), serverVerifies(t, after, root2))
	}
	bundle3, err := trustbundle.Verify(after.TrustBundle(), bundle2.Pool(), bundle2, time.Now())
	if err != nil || len(bundle3.RootCerts) != 1 || !bundle3.RootCerts[0].Equal(root2) {
		t.Fatalf("final bundle: %v", err)
	}
	for _, name := range []string{PreviousRootCertFile, PreviousRootKeyFile, RootCrossCertFile, PreviousRootCrossCertFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after finish: %v", name, err)
		}
	}
	if _, err := FinishRootRollover(dir, time.Now(), nil); !errors.Is(err, ErrNoRollover) {
		t.Fatalf("finish twice = %v, want ErrNoRollover", err)
	}
}

// TestRootRolloverResumes: a begin stopped after installing the new root
// leaves a loadable directory, and running begin again completes it.
func TestRootRolloverResumes(t *testing.T) {
	before, dir := newTestCA(t)
	if err := keepPreviousRoot(dir, before.Root()); err != nil {
		t.Fatal(err)
	}
	if err := installNewRoot(dir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	mid, err := Load(dir)
	if err != nil {
		t.Fatalf("directory after a stopped begin: %v", err)
	}
	if _, err := FinishRootRollover(dir, time.Now(), nil); !errors.Is(err, ErrRolloverIncomplete) {
		t.Fatalf("finish of a stopped begin = %v, want ErrRolloverIncomplete", err)
	}
	r, err := BeginRootRollover(dir, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Root.Equal(mid.Root()) || r.DeviceCA.CheckSignatureFrom(r.Root) != nil || len(r.Done) != 4 {
		t.Fatalf("resumed begin: same root %v, steps %q", r.Root.Equal(mid.Root()), r.Done)
	}
}
