//go:build tpmsimulator

package agent

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/internal/testkit/tpmsim"
)

// preRegister imports id with the TPM's EK hash, as the factory line does
// for a TPM without an EK certificate.
func preRegister(t *testing.T, srv *server, tpm transport.TPM, id string) {
	t.Helper()
	ek, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ek.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	preRegisterHash(t, srv, id, hex.EncodeToString(sum[:]))
}

// TestTPMDevice enrolls a TPM device on the simulator by attestation,
// connects with the TPM-held key, rotates to a new TPM key certified by
// the AK kept from enrollment, and, when its certificate expired while it
// was off, attests again.
func TestTPMDevice(t *testing.T) {
	srv := newServer(t)
	tpm := tpmsim.Open(t)
	preRegister(t, srv, tpm, "tpm-1")

	ev := newEvents()
	cfg := softwareConfig(t, srv, "tpm-1", "", ev)
	cfg.KeySource, cfg.TPM = KeyTPM, tpm
	cfg.StateStore = &MemoryState{}
	a := start(t, cfg)
	first := await(t, ev.enrolled, "TPM enrollment")
	if first.Attestation != KeyTPM {
		t.Errorf("enrolled %+v", first)
	}
	if got := await(t, ev.connected, "connection"); got != first.Serial {
		t.Errorf("connected with %s, enrolled %s", got, first.Serial)
	}
	if err := a.Publish("data/x", 1, []byte("1")); err != nil {
		t.Fatal(err)
	}
	await(t, ev.published, "publish ack")

	ctx := t.Context()
	if err := a.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	rot := await(t, ev.rotated, "rotation")
	if got := await(t, ev.connected, "reconnection"); got != rot[1].Serial || got == first.Serial {
		t.Errorf("reconnected with %s; rotated %s -> %s", got, rot[0].Serial, rot[1].Serial)
	}
	st, _ := cfg.StateStore.Load()
	if st.AK == nil || st.Pending != nil {
		t.Errorf("state after rotation: AK %d bytes, pending %v", len(st.AK), st.Pending)
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	// Expired while off: a TPM device attests again, with the same AK.
	// The agent's first look at the clock is 31 days later; after that
	// the clock agrees with the server's, which issues for its own now.
	ev2 := newEvents()
	var looked atomic.Bool
	cfg.Hooks = ev2.hooks()
	cfg.Now = func() time.Time {
		if looked.CompareAndSwap(false, true) {
			return time.Now().Add(31 * 24 * time.Hour)
		}
		return time.Now()
	}
	start(t, cfg)
	again := await(t, ev2.enrolled, "re-enrollment")
	if again.Serial == rot[1].Serial {
		t.Error("re-enrollment kept the expired certificate")
	}
	await(t, ev2.connected, "connection after re-enrollment")
	st2, _ := cfg.StateStore.Load()
	if string(st2.AK) != string(st.AK) {
		t.Error("re-enrollment made a new AK instead of reusing the one the server knows")
	}
}
