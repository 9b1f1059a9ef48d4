//go:build swtpm

package swtpm

import (
	"crypto/x509"
	"testing"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
)

// TestStart manufactures a TPM and reads its EK and certificate.
func TestStart(t *testing.T) {
	p := Start(t)
	if len(p.EKHash(t)) != 64 {
		t.Error("ok/ek hash: not SHA-256 hex")
	}
	ek, err := tpmkey.ReadEK(p.Open(t))
	if err != nil {
		t.Fatal(err)
	}
	if ek.Cert == nil {
		t.Fatal("ok/ek cert: none")
	}
	// Go's verifier refuses the EK certificate's critical TPM extensions,
	// so only parse it here; provisioning/attest checks the chain.
	if _, err := x509.ParseCertificate(ek.Cert); err != nil {
		t.Errorf("ok/ek cert: %v", err)
	}
	if p.Roots == nil || p.Intermediates == nil {
		t.Error("ok/localca pools: missing")
	}
}
