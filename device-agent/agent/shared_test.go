package agent

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
)

// TestSharedTrust runs the trust refresh of three agents against one API
// serving one bundle: the two given one Shared hold the same bundle,
// pool and enrollment client after accepting it, the one without holds
// its own, and an agent of the same Shared that does not trust the
// bundle's signer still refuses it although the others accepted it.
func TestSharedTrust(t *testing.T) {
	api, serving := bundleAPI(t)
	held := pki.NewCA(t, "held root")
	*serving = signedBundle(t, 3, held, api.Certificate())
	trusting := held.Pool()
	trusting.AddCert(api.Certificate())
	stranger := x509.NewCertPool()
	stranger.AddCert(api.Certificate())

	shared := NewShared()
	runnerFor := func(id string, roots *x509.CertPool, sh *Shared) *runner {
		cfg := DefaultConfig()
		cfg.DeviceID, cfg.ProvisioningURL, cfg.Broker = id, api.URL, "127.0.0.1:1"
		cfg.RootCAs, cfg.KeySource, cfg.Token, cfg.Shared = roots, KeySoftware, "unused", sh
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return &runner{a: a, cfg: a.cfg, log: a.cfg.Logger, store: &MemoryState{NoCopy: true}, st: &State{DeviceID: id}}
	}
	one, two := runnerFor("shared-1", trusting, shared), runnerFor("shared-2", trusting, shared)
	own := runnerFor("own-1", trusting, nil)
	doubter := runnerFor("shared-3", stranger, shared)
	for _, r := range []*runner{one, two, own} {
		if err := r.refreshTrust(t.Context()); err != nil {
			t.Fatalf("%s: refreshTrust = %v", r.cfg.DeviceID, err)
		}
	}
	if err := doubter.refreshTrust(t.Context()); !errors.Is(err, trustbundle.ErrUnknownSigner) {
		t.Fatalf("an agent not trusting the signer: refreshTrust = %v, want ErrUnknownSigner although its Shared holds the bundle", err)
	}
	if doubter.trust != nil || doubter.a.roots() != stranger {
		t.Error("the refused bundle changed the doubting agent's roots")
	}

	st1, _ := one.store.Load()
	st2, _ := two.store.Load()
	switch {
	case one.trust != two.trust || one.a.roots() != two.a.roots():
		t.Error("two agents of one Shared hold two copies of the same bundle or pool")
	case &st1.TrustBundle[0] != &st2.TrustBundle[0]:
		t.Error("their states hold two copies of the bundle's JSON")
	case one.a.api() != two.a.api():
		t.Error("their server-authenticated enrollment clients differ")
	case one.a.mtls() == two.a.mtls():
		t.Error("they share the client that presents a device's certificate")
	case own.trust == one.trust || own.a.roots() == one.a.roots() || own.a.api() == one.a.api():
		t.Error("an agent without Shared holds what the others share")
	}
	if one.trust.Sequence != 3 || st1 != one.st {
		t.Errorf("held sequence %d, stored state %p, runner's %p: want 3 and one state", one.trust.Sequence, st1, one.st)
	}
}

// TestMemoryStateNoCopy: with NoCopy the store holds the state it was
// given, not a second copy.
func TestMemoryStateNoCopy(t *testing.T) {
	m := &MemoryState{NoCopy: true}
	s := sampleState(1)
	if err := m.Save(s); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Load(); got != s {
		t.Errorf("Load = %p, want the saved state %p itself", got, s)
	}
}

var _ StateStore = (*MemoryState)(nil)
