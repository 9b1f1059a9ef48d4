package ca

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// verifies reports whether pool accepts the device certificate c.
func verifies(c *x509.Certificate, pool *x509.CertPool) bool {
	_, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// TestRotateIntermediate: after a rotation the new intermediate issues,
// the old one is trusted only, and certificates from both pass the pool.
func TestRotateIntermediate(t *testing.T) {
	before, dir := newTestCA(t)
	oldLeaf, _ := issueTestDevice(t, before, "old-device", 1)
	oldKeyPEM := mustRead(t, dir, DeviceCAKeyFile)

	r, err := RotateIntermediate(dir, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Old.Equal(before.DeviceCA()) || r.New.Equal(r.Old) {
		t.Fatalf("rotation reports old %s new %s, want old = the issuing one before", SerialHex(r.Old), SerialHex(r.New))
	}
	after, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !after.DeviceCA().Equal(r.New) {
		t.Fatalf("issuing intermediate %s, want the new %s", SerialHex(after.DeviceCA()), SerialHex(r.New))
	}
	if tr := after.TrustedDeviceCAs(); len(tr) != 1 || !tr[0].Equal(r.Old) {
		t.Fatalf("trusted intermediates %d, want exactly the old one", len(tr))
	}
	if string(mustRead(t, dir, DeviceCAKeyFile)) == string(oldKeyPEM) {
		t.Fatal("device CA key unchanged by the rotation")
	}
	if err := r.New.CheckSignatureFrom(after.Root()); err != nil || !r.New.IsCA || r.New.MaxPathLen != 0 {
		t.Fatalf("new intermediate: signed by root %v, IsCA %v, MaxPathLen %d", err, r.New.IsCA, r.New.MaxPathLen)
	}
	newLeaf, _ := issueTestDevice(t, after, "new-device", 2)
	if err := newLeaf.CheckSignatureFrom(r.New); err != nil {
		t.Fatalf("a certificate issued after the rotation is not signed by the new intermediate: %v", err)
	}
	pool := after.DevicePool()
	if !verifies(oldLeaf, pool) || !verifies(newLeaf, pool) {
		t.Fatalf("pool accepts old-intermediate leaf %v, new-intermediate leaf %v; want both", verifies(oldLeaf, pool), verifies(newLeaf, pool))
	}
	if string(mustRead(t, dir, KeptKeyFile(r.Old))) != string(oldKeyPEM) {
		t.Fatalf("%s does not hold the old intermediate's key", KeptKeyFile(r.Old))
	}
	if fi, err := os.Stat(filepath.Join(dir, KeptKeyFile(r.Old))); err != nil || fi.Mode().Perm() != keyMode {
		t.Fatalf("kept key: %v, mode %v, want %v", err, fi.Mode().Perm(), keyMode)
	}
	if is := after.Issuers(); len(is) != 2 || !is[0].Certificate().Equal(r.New) || !is[1].Certificate().Equal(r.Old) {
		t.Fatalf("%d issuers after a rotation, want the new and the old intermediate", len(is))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(allFiles)+3 { // + trusted bundle, trust bundle, kept key
		t.Errorf("directory holds %d entries, want %d (staged or temporary files left?)", len(entries), len(allFiles)+3)
	}

	// A second rotation keeps both older intermediates.
	r2, err := RotateIntermediate(dir, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	third, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tr := third.TrustedDeviceCAs(); len(tr) != 2 || !tr[0].Equal(r.Old) || !tr[1].Equal(r2.Old) {
		t.Fatalf("after two rotations %d trusted intermediates, want the two older ones in order", len(tr))
	}
	if !verifies(oldLeaf, third.DevicePool()) || !verifies(newLeaf, third.DevicePool()) {
		t.Fatal("after two rotations the pool lost an older intermediate")
	}
}

// TestRotateIntermediateCrash stops a rotation after each of its steps, as
// a crash would: the directory must load every time, with the issuing
// intermediate being the old one until its key is installed and the new
// one from then on; RecoverRotation then brings it to a final state, and a
// later rotation succeeds.
func TestRotateIntermediateCrash(t *testing.T) {
	_, full := newTestCA(t)
	_, _, probe, err := planRotation(full, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for done := 0; done <= len(probe); done++ {
		t.Run("ok/stopped after "+stepName(probe, done), func(t *testing.T) {
			dir := copyCA(t, full)
			before, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			r, _, steps, err := planRotation(dir, time.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range steps[:done] {
				if err := s.do(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
			mid, err := Load(dir)
			if err != nil {
				t.Fatalf("directory not loadable after %d steps: %v", done, err)
			}
			keyInstalled := done >= 5
			wantIssuing := before.DeviceCA()
			if keyInstalled {
				wantIssuing = r.New
			}
			if !mid.DeviceCA().Equal(wantIssuing) {
				t.Fatalf("issuing intermediate %s after %d steps, want %s", SerialHex(mid.DeviceCA()), done, SerialHex(wantIssuing))
			}
			// Whatever was stopped, the old intermediate stays trusted.
			oldLeaf, _ := issueTestDevice(t, before, "old", 1)
			if !verifies(oldLeaf, mid.DevicePool()) {
				t.Fatal("a certificate from the old intermediate is not trusted mid-rotation")
			}
			midLeaf, _ := issueTestDevice(t, mid, "mid", 2)
			if err := midLeaf.CheckSignatureFrom(wantIssuing); err != nil {
				t.Fatalf("mid-rotation CA issues from the wrong key: %v", err)
			}

			finished, err := RecoverRotation(dir)
			if err != nil {
				t.Fatal(err)
			}
			if finished != (done == 5) {
				t.Fatalf("RecoverRotation finished = %v after %d steps", finished, done)
			}
			after, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !after.DeviceCA().Equal(wantIssuing) {
				t.Fatalf("recovery changed the issuing intermediate to %s", SerialHex(after.DeviceCA()))
			}
			for _, name := range []string{DeviceCANextCertFile, DeviceCANextKeyFile, KeptKeyFile(after.DeviceCA())} {
				if ok, _ := exists(dir, name); ok {
					t.Errorf("%s left after recovery", name)
				}
			}
			// The old intermediate signs its CRL whenever it is trusted.
			if keyInstalled && len(after.Issuers()) != 2 {
				t.Errorf("%d issuers after a finished rotation, want 2", len(after.Issuers()))
			}
			if _, err := RotateIntermediate(dir, time.Now(), nil); err != nil {
				t.Fatalf("rotation after recovery: %v", err)
			}
			final, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !verifies(oldLeaf, final.DevicePool()) || !verifies(midLeaf, final.DevicePool()) {
				t.Fatal("a later rotation lost an intermediate that had issued certificates")
			}
		})
	}
}

func stepName(steps []rotationStep, done int) string {
	if done == 0 {
		return "nothing"
	}
	return steps[done-1].name
}

func TestRotateIntermediateErrors(t *testing.T) {
	_, full := newTestCA(t)
	cases := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   error
	}{
		{"error/root key missing", func(t *testing.T, dir string) { removeAll(t, dir, RootKeyFile) }, ErrIncomplete},
		{"error/corrupt trusted bundle", func(t *testing.T, dir string) {
			writeFile(t, dir, TrustedDeviceCAsFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA"))
		}, ErrCorrupt},
		{"error/key mismatch without a staged rotation", func(t *testing.T, dir string) {
			copyFile(t, dir, ServerKeyFile, DeviceCAKeyFile)
		}, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyCA(t, full)
			tc.change(t, dir)
			before := readAll(t, dir)
			if _, err := RotateIntermediate(dir, time.Now(), nil); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			after := readAll(t, dir)
			if len(after) != len(before) {
				t.Fatalf("a refused rotation left files: %d before, %d after", len(before), len(after))
			}
			for name, data := range before {
				if string(after[name]) != string(data) {
					t.Errorf("a refused rotation changed %s", name)
				}
			}
		})
	}
}

// TestBootstrapFinishesRotation: a server starting on a directory whose
// rotation stopped after the key was installed finishes it.
func TestBootstrapFinishesRotation(t *testing.T) {
	_, dir := newTestCA(t)
	r, _, steps, err := planRotation(dir, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps[:5] {
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
	}
	c, _, err := Bootstrap(dir, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onDisk := parseCertPEM(t, mustRead(t, dir, DeviceCACertFile))
	if !onDisk.Equal(r.New) || !c.DeviceCA().Equal(r.New) {
		t.Fatal("Bootstrap did not install the staged intermediate")
	}
	if _, err := os.Stat(filepath.Join(dir, DeviceCANextCertFile)); err == nil {
		t.Fatal("staged certificate left after Bootstrap")
	}
}

func TestIssuerChainPEM(t *testing.T) {
	before, dir := newTestCA(t)
	oldLeaf, _ := issueTestDevice(t, before, "old", 1)
	if _, err := RotateIntermediate(dir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	after, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	newLeaf, _ := issueTestDevice(t, after, "new", 2)
	foreign, _ := newTestCA(t)
	foreignLeaf, _ := issueTestDevice(t, foreign, "foreign", 3)
	cases := []struct {
		name string
		leaf *x509.Certificate
		want []byte
	}{
		{"ok/issued by the issuing intermediate", newLeaf, EncodeCertPEM(after.DeviceCA())},
		{"ok/issued by a trusted older one", oldLeaf, EncodeCertPEM(before.DeviceCA())},
		{"error/issued elsewhere", foreignLeaf, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := after.IssuerChainPEM(tc.leaf); string(got) != string(tc.want) {
				t.Fatalf("IssuerChainPEM = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLoadDuringRotation: a server reloading while an operator rotates,
// retires and renews never reads a directory it refuses, whatever the
// interleaving of its reads with the command's file operations.
func TestLoadDuringRotation(t *testing.T) {
	_, dir := newTestCA(t)
	stop := make(chan struct{})
	failed := make(chan error, 1)
	loads := 0
	go func() {
		defer close(failed)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := Load(dir); err != nil {
				failed <- err
				return
			}
			loads++
		}
	}()
	for i := 0; i < 10; i++ {
		r, err := RotateIntermediate(dir, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := RetireIntermediate(dir, SerialHex(r.Old)); err != nil {
			t.Fatal(err)
		}
		if _, err := RenewServer(dir, nil, time.Now(), nil); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-failed; err != nil {
		t.Fatalf("Load failed during a rotation: %v", err)
	}
	t.Logf("%d loads during 10 rotations", loads)
}
