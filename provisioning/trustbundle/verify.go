package trustbundle

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// Bundle is a verified trust bundle.
type Bundle struct {
	wire.TrustBundleContent
	// RootCerts are the parsed Roots, the current one first.
	RootCerts []*x509.Certificate
	// Raw is the bundle's JSON as received, to be stored and verified
	// again later.
	Raw []byte
}

// Pool returns a new pool holding the bundle's roots.
func (b *Bundle) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range b.RootCerts {
		p.AddCert(c)
	}
	return p
}

// Parse decodes a bundle without judging its signature: for a bundle the
// caller verified before and stored.
func Parse(raw []byte) (*Bundle, *wire.TrustBundle, error) {
	var tb wire.TrustBundle
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tb); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if tb.Algorithm != wire.TrustBundleAlgorithm {
		return nil, nil, fmt.Errorf("%w: algorithm %q, want %q", ErrMalformed, tb.Algorithm, wire.TrustBundleAlgorithm)
	}
	var content wire.TrustBundleContent
	if err := json.Unmarshal(tb.Payload, &content); err != nil {
		return nil, nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	roots, err := parseCerts(content.Roots)
	if err == nil && len(roots) == 0 {
		err = fmt.Errorf("no root")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: roots: %v", ErrMalformed, err)
	}
	for _, r := range roots {
		if !r.BasicConstraintsValid || !r.IsCA {
			return nil, nil, fmt.Errorf("%w: root %q is not a CA certificate", ErrMalformed, r.Subject)
		}
	}
	return &Bundle{TrustBundleContent: content, RootCerts: roots, Raw: bytes.Clone(raw)}, &tb, nil
}

// Verify checks raw as wire.TrustBundle describes, against the roots the
// verifier trusts and the bundle it holds (nil: none yet), at time now.
// A bundle equal to the held one is returned as it is; the caller sees
// nothing new by its Sequence.
func Verify(raw []byte, trusted *x509.CertPool, held *Bundle, now time.Time) (*Bundle, error) {
	b, tb, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	signers, err := parseCerts(tb.Signer)
	if err != nil {
		return nil, fmt.Errorf("%w: signer: %v", ErrMalformed, err)
	}
	key, err := trustedSigner(tb, signers, trusted, now)
	if err != nil {
		return nil, err
	}
	if !holdsKey(b.RootCerts, key) {
		return nil, fmt.Errorf("%w: the signing key is none of the bundle's roots", ErrMalformed)
	}
	if held != nil {
		switch {
		case b.Sequence < held.Sequence:
			return nil, fmt.Errorf("%w: sequence %d, holding %d", ErrStale, b.Sequence, held.Sequence)
		case b.Sequence == held.Sequence && !bytes.Equal(payloadOf(held), tb.Payload):
			return nil, fmt.Errorf("%w: sequence %d with other contents than the bundle held", ErrStale, b.Sequence)
		}
	}
	return b, nil
}

// trustedSigner returns the key of the signer certificate under which the
// signature verifies and which chains to trusted.
func trustedSigner(tb *wire.TrustBundle, signers []*x509.Certificate, trusted *x509.CertPool, now time.Time) (crypto.PublicKey, error) {
	signed := false
	for _, c := range signers {
		if c.CheckSignature(x509.ECDSAWithSHA256, tb.Payload, tb.Signature) != nil {
			continue
		}
		signed = true
		if _, err := c.Verify(x509.VerifyOptions{Roots: trusted, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
			return c.PublicKey, nil
		}
	}
	if !signed {
		return nil, fmt.Errorf("%w: the signature verifies under none of the signer certificates", ErrUnknownSigner)
	}
	return nil, fmt.Errorf("%w: the signing key chains to none of the roots held", ErrUnknownSigner)
}

func holdsKey(certs []*x509.Certificate, key crypto.PublicKey) bool {
	for _, c := range certs {
		if k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(key) {
			return true
		}
	}
	return false
}

// payloadOf returns the signed payload of a held bundle.
func payloadOf(b *Bundle) []byte {
	var tb wire.TrustBundle
	if json.Unmarshal(b.Raw, &tb) != nil {
		return nil
	}
	return tb.Payload
}

// parseCerts decodes PEM certificates; anything else in the text is an
// error.
func parseCerts(text string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(text)
	for len(bytes.TrimSpace(rest)) > 0 {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("not a sequence of PEM certificates")
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
