package trustbundle

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// Sign returns the JSON of a wire.TrustBundle with the given sequence
// number, issue time and roots (the current one first), signed by key.
// signer holds the certificates of key that verifiers may chain to: the
// current root and, during a rollover, its cross-certificate signed by the
// previous root.
func Sign(seq uint64, issued time.Time, roots []*x509.Certificate, key crypto.Signer, signer []*x509.Certificate) ([]byte, error) {
	if len(roots) == 0 || len(signer) == 0 {
		return nil, errors.New("trust bundle: no root or no signer certificate to sign with")
	}
	payload, err := json.Marshal(wire.TrustBundleContent{Sequence: seq, IssuedAt: issued.UTC(), Roots: string(encodePEM(roots))})
	if err != nil {
		return nil, fmt.Errorf("trust bundle: %w", err)
	}
	digest := sha256.Sum256(payload)
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("trust bundle: sign: %w", err)
	}
	return json.MarshalIndent(wire.TrustBundle{
		Payload:   payload,
		Algorithm: wire.TrustBundleAlgorithm,
		Signature: sig,
		Signer:    string(encodePEM(signer)),
	}, "", "  ")
}

func encodePEM(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}
