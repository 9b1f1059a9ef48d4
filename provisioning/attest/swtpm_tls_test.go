//go:build swtpm

package attest_test

import (
	"crypto"
	"testing"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/internal/testkit/swtpm"
)

// TestSWTPMTLS signs a TLS 1.3 client handshake with a key in swtpm.
func TestSWTPMTLS(t *testing.T) {
	sw := swtpm.Start(t)
	tpm := sw.Open(t)
	key, err := tpmkey.CreateKey(tpm)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	defer key.Close()
	peer := mTLSHandshake(t, key.Signer())
	if !key.Signer().Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(peer) {
		t.Fatalf("server saw another client key")
	}
}
