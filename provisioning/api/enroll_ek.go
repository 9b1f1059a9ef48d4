package api

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// endorsement is the EK a start request proved nothing about yet: its
// public key, where it came from, and its hash for the allow-list.
type endorsement struct {
	key      crypto.PublicKey
	hash     string
	fromCert bool
}

// resolveEK returns the EK of a start request. With an EK certificate the
// key comes from the certificate, once it verified against the
// manufacturer roots, and never from the request's public area. Without
// one, the public area is taken as is: it is then only as good as the
// allow-list entry its hash must match, which the caller checks.
func (a *API) resolveEK(req wire.TPMStartRequest) (endorsement, error) {
	var ek endorsement
	switch {
	case len(req.EKCert) > 0:
		if a.cfg.EKRoots == nil {
			return ek, withCode(wire.CodeEKUntrusted, fmt.Errorf("%w: no manufacturer roots configured; only pre-registered EK public hashes are accepted", attest.ErrEKUntrusted))
		}
		cert, err := attest.VerifyEKCertificateChain(req.EKCert, a.cfg.EKRoots, a.cfg.EKIntermediates, a.now())
		if err != nil {
			// A certificate that does not even parse is no more trusted
			// than one that does not chain.
			return ek, withCode(wire.CodeEKUntrusted, err)
		}
		ek.key, ek.fromCert = cert.PublicKey, true
	case len(req.EKPublic) > 0:
		key, err := parseEKPublic(req.EKPublic)
		if err != nil {
			return ek, err
		}
		ek.key = key
	default:
		return ek, fmt.Errorf("%w: ek_cert or ek_public is required", errBadRequest)
	}
	hash, err := attest.EKHash(ek.key)
	if err != nil {
		return ek, err
	}
	ek.hash = hash
	return ek, nil
}

// parseEKPublic parses an EK public area (TPM2B_PUBLIC) sent by a TPM
// without an EK certificate. Only canonical encodings of a restricted
// decryption key are accepted: anything else is not an EK.
func parseEKPublic(b []byte) (key crypto.PublicKey, err error) {
	defer func() {
		// go-tpm's reflection-based parser is fed attacker bytes.
		if r := recover(); r != nil {
			key, err = nil, fmt.Errorf("%w: ek_public does not parse", errBadRequest)
		}
	}()
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](b)
	if err != nil || !bytes.Equal(tpm2.Marshal(*pub), b) {
		return nil, fmt.Errorf("%w: ek_public is not a canonical TPM2B_PUBLIC", errBadRequest)
	}
	area, err := pub.Contents()
	if err != nil {
		return nil, fmt.Errorf("%w: ek_public: %v", errBadRequest, err)
	}
	attrs := area.ObjectAttributes
	if !attrs.Restricted || !attrs.Decrypt || attrs.SignEncrypt || !attrs.FixedTPM || !attrs.FixedParent {
		return nil, fmt.Errorf("%w: ek_public is not a restricted decryption key bound to the TPM", errBadRequest)
	}
	key, err = tpm2.Pub(*area)
	if err != nil {
		return nil, fmt.Errorf("%w: ek_public key: %v", errBadRequest, err)
	}
	if k, ok := key.(*ecdsa.PublicKey); ok {
		if _, err := k.ECDH(); err != nil { // also rejects points off the curve
			return nil, fmt.Errorf("%w: ek_public point: %v", errBadRequest, err)
		}
	}
	return key, nil
}
