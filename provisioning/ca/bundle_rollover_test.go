package ca

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// bundleFileNames lists the files of dir, sorted.
func bundleFileNames(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for name := range readAll(t, dir) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// TestBrokerBundleRootRollover: a bundle refreshed during a root rollover
// carries both roots and the intermediates under either, its server
// certificate verifies under either root, and every state its refresh
// passes through loads; after finish a refreshed bundle drops the
// previous root.
func TestBrokerBundleRootRollover(t *testing.T) {
	before, caDir := newTestCA(t)
	root1 := before.Root()
	oldDevice, _ := issueTestDevice(t, before, "dev-root1", 1)
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := WriteBrokerBundle(caDir, out, []string{"localhost"}, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	preRollover := readAll(t, out)

	if _, err := BeginRootRollover(caDir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	during, err := Load(caDir)
	if err != nil {
		t.Fatal(err)
	}
	root2 := during.Root()
	newDevice, _ := issueTestDevice(t, during, "dev-root2", 2)

	stale, err := LoadBrokerBundle(out)
	if err != nil {
		t.Fatal(err)
	}
	if verifies(newDevice, stale.DevicePool()) {
		t.Fatal("a bundle written before the rollover admits a device under the new root")
	}

	b, err := WriteBrokerBundle(caDir, out, []string{"localhost"}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := BundleFiles(); !slices.Equal(bundleFileNames(t, out), slices.Sorted(slices.Values(want))) {
		t.Fatalf("bundle during the rollover holds %v, want %v", bundleFileNames(t, out), want)
	}
	if b.Previous == nil || !b.Previous.Equal(root1) || !b.Root.Equal(root2) {
		t.Fatal("the bundle written during the rollover does not name both roots")
	}
	loaded, err := LoadBrokerBundle(out)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Root().Equal(root2) || loaded.PreviousRoot() == nil || !loaded.PreviousRoot().Equal(root1) {
		t.Fatal("the loaded bundle does not hold root 2 with root 1 as the previous root")
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{{"device under root 1", verifies(oldDevice, loaded.DevicePool())}, {"device under root 2", verifies(newDevice, loaded.DevicePool())},
		{"server under root 1 alone", serverVerifies(t, loaded, root1)}, {"server under root 2 alone", serverVerifies(t, loaded, root2)}} {
		if !c.ok {
			t.Errorf("during the rollover: %s does not verify", c.name)
		}
	}

	// A refresh stopped after the rollover files and the new root: the
	// old intermediates and the old server certificate still load.
	partial := t.TempDir()
	for name, data := range preRollover {
		writeFile(t, partial, name, data)
	}
	for _, name := range []string{PreviousRootCertFile, RootCrossCertFile, RootCertFile} {
		writeFile(t, partial, name, mustRead(t, out, name))
	}
	if _, err := LoadBrokerBundle(partial); err != nil {
		t.Fatalf("bundle half refreshed into the rollover: %v", err)
	}

	if _, err := FinishRootRollover(caDir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteBrokerBundle(caDir, out, []string{"localhost"}, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if names := bundleFileNames(t, out); !slices.Equal(names, slices.Sorted(slices.Values(bundleFiles))) {
		t.Fatalf("bundle after finish holds %v, want %v", names, bundleFiles)
	}
	after, err := LoadBrokerBundle(out)
	if err != nil {
		t.Fatal(err)
	}
	if after.PreviousRoot() != nil || !verifies(newDevice, after.DevicePool()) || verifies(oldDevice, after.DevicePool()) ||
		!serverVerifies(t, after, root2) || serverVerifies(t, after, root1) {
		t.Fatal("after finish the bundle still trusts root 1, or no longer admits root 2's devices")
	}
}

func TestLoadBrokerBundleRefusesRollover(t *testing.T) {
	_, caDir := newTestCA(t)
	_, otherDir := newTestCA(t)
	if _, err := BeginRootRollover(caDir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		spoil func(dir string)
	}{
		{"error/intermediate of the previous root without it", func(d string) { removeAll(t, d, PreviousRootCertFile, RootCrossCertFile) }},
		{"error/cross-certificate of another root", func(d string) { writeFile(t, d, RootCrossCertFile, mustRead(t, otherDir, RootCertFile)) }},
		{"error/previous root not self-signed", func(d string) { writeFile(t, d, PreviousRootCertFile, mustRead(t, caDir, DeviceCACertFile)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { refusesSpoiled(t, caDir, tc.spoil, ErrCorrupt) })
	}
}
