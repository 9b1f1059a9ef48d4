package agent

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// keySource is where the device's keys live and how it proves that to the
// provisioning service: a TPM (attestation) or software (one-time token).
// Each call is one attempt; the runner retries.
type keySource interface {
	// enroll gets a first certificate. prev is the state so far (nil on
	// first start): its AK and used token are reused or avoided.
	enroll(ctx context.Context, api *enroll.Client, prev *State) (*State, wire.Issued, error)
	// newKey makes a rotation key and returns it encoded for the state.
	newKey() ([]byte, error)
	// rotate proves the new key and asks for its certificate over mTLS.
	rotate(ctx context.Context, mtls *enroll.Client, st *State, key []byte) (wire.Issued, error)
	// signer returns the signer of an encoded key whose certificate holds
	// pub.
	signer(key []byte, pub crypto.PublicKey) (crypto.Signer, error)
	// close releases what the source opened (the TPM).
	close() error
}

// csrPEM makes a CSR signed by key. The server takes the certificate's
// identity from its registry, never from the CSR; the CN is for people
// reading the request.
func csrPEM(deviceID string, key crypto.Signer) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: deviceID}}, key)
	if err != nil {
		return "", fmt.Errorf("agent: CSR: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}
