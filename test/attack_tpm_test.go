package test

import (
	"context"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/internal/testkit/softtpm"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// The TPM rows need no TPM: the server refuses them at the EK step of
// start, before any credential is activated. The AK is a well-formed
// public area (a restricted P-256 signing key), so that the refusal is the
// EK's and not the AK's.

// tpmSelfSignedEK: an EK certificate shaped like a manufacturer's (TPM
// SAN, EK certificate EKU) but signed by its own key chains to no
// manufacturer root.
func tpmSelfSignedEK(t *testing.T, e *attackEnv) {
	tpm := softtpm.New(t)
	_, err := e.startTPM(t, wire.TPMStartRequest{DeviceID: victimID, EKCert: softtpm.SelfSignedEKCert(t, tpm.EK), AKPublic: tpm.AKPublic})
	expectCode(t, err, wire.CodeEKUntrusted)
}

// tpmEKNotAllowed: an EK public area whose hash no device was registered
// with, both for a named device (registered without an EK) and for a
// lookup by EK alone.
func tpmEKNotAllowed(t *testing.T, e *attackEnv) {
	ek := softtpm.EKPublic(&pki.Key(t).PublicKey)
	for _, id := range []string{victimID, ""} {
		_, err := e.startTPM(t, wire.TPMStartRequest{DeviceID: id, EKPublic: ek, AKPublic: softtpm.New(t).AKPublic})
		expectCode(t, err, wire.CodeEKNotAllowed)
	}
}

func (e *attackEnv) startTPM(t *testing.T, r wire.TPMStartRequest) (wire.TPMStartResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), attackWait)
	defer cancel()
	return e.enrollClient().StartTPM(ctx, r)
}
