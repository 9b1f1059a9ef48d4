package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"

	"golang.org/x/crypto/ocsp"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// The unsigned error responses (RFC 6960 section 2.3).
var (
	malformedResponse    = ocsp.MalformedRequestErrorResponse
	internalResponse     = ocsp.InternalErrorErrorResponse
	unauthorizedResponse = ocsp.UnauthorizedErrorResponse
)

// decodeGET reads the base64 request of a GET: standard alphabet as RFC
// 6960 appendix A says, URL-escaped by the client (already unescaped by
// net/http), tolerating the URL alphabet and missing padding. What does
// not decode yields nil, answered as malformed.
func decodeGET(s string) []byte {
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if der, err := enc.DecodeString(s); err == nil {
			return der
		}
	}
	return nil
}

// respond answers one DER OCSP request.
func (r *Responder) respond(ctx context.Context, der []byte) []byte {
	req, err := parseRequest(der)
	if err != nil {
		r.log.Debug("OCSP request refused", "error", err.Error())
		return malformedResponse
	}
	iss, ok := r.issuer(r.cfg.Authority(), func(i ca.Issuer) bool { return namesIssuer(req, i.Certificate()) })
	if !ok {
		// Not ours to answer: another CA, a retired intermediate, or an
		// older one whose key is gone.
		return unauthorizedResponse
	}
	issuer := iss.Certificate()
	key := cacheKey{serial: req.SerialNumber.Text(16), of: issuerHash{issuer: ca.IssuerID(issuer), hash: req.HashAlgorithm}}
	now := r.clock()
	e, hit, gen := r.ocsp.get(key, now)
	if hit && e.der != nil && req.nonce == nil {
		return e.der
	}
	if !hit {
		st, err := r.status(ctx, issuer, req.SerialNumber)
		if err != nil {
			r.log.Error("OCSP: reading the registry failed", "serial", key.serial, "error", err.Error())
			return internalResponse
		}
		e = cached{st: st, refreshAt: now.Add(r.cfg.OCSPValidity / 2)}
	}
	responder, signer, err := r.deleg.signer(iss, now)
	if err != nil {
		r.log.Error("OCSP: no delegated signer", "error", err.Error())
		return internalResponse
	}
	// A nonce makes the response single-use: signed afresh, not kept.
	resp, err := signResponse(req, e.st, responder, signer, now, r.cfg.OCSPValidity, req.nonce)
	if err != nil {
		r.log.Error("OCSP: signing failed", "serial", key.serial, "error", err.Error())
		return internalResponse
	}
	if req.nonce == nil {
		e.der = resp
	}
	if !hit || req.nonce == nil {
		r.ocsp.put(key, e, gen)
	}
	return resp
}

// namesIssuer reports whether the request's CertID names issuer: the hash
// of its subject and of its public key under the request's algorithm.
func namesIssuer(req request, issuer *x509.Certificate) bool {
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	h := req.HashAlgorithm.New()
	h.Write(issuer.RawSubject)
	name := h.Sum(nil)
	h.Reset()
	h.Write(spki.PublicKey.RightAlign())
	return bytes.Equal(name, req.IssuerNameHash) && bytes.Equal(h.Sum(nil), req.IssuerKeyHash)
}

// status reads a serial's status from the registry: unknown when it was
// never issued, or issued by another intermediate; revoked with time and
// reason; good otherwise (superseded certificates too: rotation does not
// revoke).
func (r *Responder) status(ctx context.Context, issuer *x509.Certificate, serial *big.Int) (status, error) {
	c, err := r.cfg.Registry.Certificate(ctx, serial.Text(16))
	if errors.Is(err, store.ErrNotFound) {
		return status{kind: ocsp.Unknown}, nil
	}
	if err != nil {
		return status{}, err
	}
	if !issuedBy(c, issuer) {
		return status{kind: ocsp.Unknown}, nil
	}
	if c.Status == store.CertRevoked {
		return status{kind: ocsp.Revoked, revokedAt: c.RevokedAt, reason: reasonCode(c.Reason)}, nil
	}
	return status{kind: ocsp.Good}, nil
}
