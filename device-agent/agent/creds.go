package agent

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// creds is one certificate with its key, ready for TLS. The agent swaps
// the whole value atomically at rotation, so a handshake sees either the
// old pair or the new one. The parsed certificate is not kept (a TLS
// client presents the DER and signs with the key): what the agent needs
// of it is in info, and a process running thousands of agents would hold
// a few KiB more for each.
type creds struct {
	info     Credentials
	tls      *tls.Certificate
	rotateAt time.Time // with this certificate's jitter drawn once
}

// loadCreds builds creds from a state's chain and key.
func (r *runner) loadCreds(st *State) (*creds, error) {
	ders, leaf, err := parseChain(st.Chain)
	if err != nil {
		return nil, err
	}
	signer, err := r.keys.signer(st.Key, leaf.PublicKey)
	if err != nil {
		return nil, err
	}
	c := &creds{
		info: Credentials{
			Serial:      leaf.SerialNumber.Text(16),
			NotBefore:   leaf.NotBefore,
			NotAfter:    leaf.NotAfter,
			Attestation: st.KeySource,
		},
		tls: &tls.Certificate{Certificate: ders, PrivateKey: signer},
	}
	c.rotateAt = rotationTime(leaf.NotBefore, leaf.NotAfter, r.cfg.RotateAt, r.cfg.RotateJitter, r.cfg.Rand())
	return c, nil
}

// parseChain returns the DER certificates of a PEM chain and its leaf.
func parseChain(chain []byte) ([][]byte, *x509.Certificate, error) {
	var ders [][]byte
	for rest := chain; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			ders = append(ders, blk.Bytes)
		}
	}
	if len(ders) == 0 {
		return nil, nil, fmt.Errorf("%w: no certificate in the chain", ErrState)
	}
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: certificate: %w", ErrState, err)
	}
	return ders, leaf, nil
}

// rotationTime is when a certificate valid from nb to na is rotated:
// after the fraction at of its lifetime, earlier by up to jitter of it
// (u in [0,1) picks how much).
func rotationTime(nb, na time.Time, at, jitter, u float64) time.Time {
	life := na.Sub(nb)
	return nb.Add(time.Duration(float64(life) * (at - jitter*u)))
}
