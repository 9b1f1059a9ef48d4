package revocation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"
)

// The response is encoded here rather than by ocsp.CreateResponse, which
// has no place for response extensions: the nonce must be echoed there
// (RFC 6960 section 4.4.1), and OpenSSL looks for it there.

type certID struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	IssuerKeyHash []byte
	SerialNumber  *big.Int
}

type revokedInfo struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

type singleResponse struct {
	CertID     certID
	Good       asn1.Flag   `asn1:"tag:0,optional"`
	Revoked    revokedInfo `asn1:"tag:1,optional"`
	Unknown    asn1.Flag   `asn1:"tag:2,optional"`
	ThisUpdate time.Time   `asn1:"generalized"`
	NextUpdate time.Time   `asn1:"generalized,explicit,tag:0,optional"`
}

type responseData struct {
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []singleResponse
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type basicResponse struct {
	TBSResponseData    responseData
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type ocspResponse struct {
	Status   asn1.Enumerated
	Response responseBytes `asn1:"explicit,tag:0"`
}

// oidBasicResponse is id-pkix-ocsp-basic.
var oidBasicResponse = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// status is one certificate's answer before it is signed.
type status struct {
	kind      int // ocsp.Good, ocsp.Revoked or ocsp.Unknown
	revokedAt time.Time
	reason    int
}

// signResponse builds and signs a successful response about the
// certificate req names, with key, valid from now for validity. responder
// is key's certificate, the delegated OCSP signer: the response names it
// by its subject and carries it, so that a relying party holding the
// issuer verifies it. nonce, when set, is echoed.
func signResponse(req request, st status, responder *x509.Certificate, key crypto.Signer, now time.Time, validity time.Duration, nonce *pkix.Extension) ([]byte, error) {
	single := singleResponse{
		CertID: certID{
			HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: hashOID(req.HashAlgorithm), Parameters: asn1.NullRawValue},
			NameHash:      req.IssuerNameHash,
			IssuerKeyHash: req.IssuerKeyHash,
			SerialNumber:  req.SerialNumber,
		},
		ThisUpdate: now.UTC().Truncate(time.Second),
		NextUpdate: now.Add(validity).UTC().Truncate(time.Second),
	}
	switch st.kind {
	case ocsp.Good:
		single.Good = true
	case ocsp.Revoked:
		single.Revoked = revokedInfo{RevocationTime: st.revokedAt.UTC().Truncate(time.Second), Reason: asn1.Enumerated(st.reason)}
	default:
		single.Unknown = true
	}
	tbs := responseData{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: responder.RawSubject},
		ProducedAt:  now.UTC().Truncate(time.Second),
		Responses:   []singleResponse{single},
	}
	if nonce != nil {
		tbs.Extensions = []pkix.Extension{*nonce}
	}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		return nil, fmt.Errorf("encode OCSP response: %w", err)
	}
	hash, alg, err := signatureAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	h := hash.New()
	h.Write(tbsDER)
	sig, err := key.Sign(rand.Reader, h.Sum(nil), hash)
	if err != nil {
		return nil, fmt.Errorf("sign OCSP response: %w", err)
	}
	basic, err := asn1.Marshal(basicResponse{
		TBSResponseData:    tbs,
		SignatureAlgorithm: alg,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certificates:       []asn1.RawValue{{FullBytes: responder.Raw}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode OCSP response: %w", err)
	}
	return asn1.Marshal(ocspResponse{Status: asn1.Enumerated(ocsp.Success), Response: responseBytes{ResponseType: oidBasicResponse, Response: basic}})
}

// signatureAlgorithm picks the hash and algorithm identifier for a CA key:
// ECDSA with the hash matching its curve, or RSA PKCS #1 v1.5 with SHA-256.
func signatureAlgorithm(pub crypto.PublicKey) (crypto.Hash, pkix.AlgorithmIdentifier, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, nil
		case elliptic.P384():
			return crypto.SHA384, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}}, nil
		}
	case *rsa.PublicKey:
		return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue}, nil
	}
	return 0, pkix.AlgorithmIdentifier{}, fmt.Errorf("OCSP signing: unsupported CA key %T", pub)
}
