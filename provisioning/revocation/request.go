package revocation

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/ocsp"
)

// maxNonce bounds the nonce extension's value echoed back (RFC 8954 asks
// for 1 to 32 octets; the DER wrapping adds two).
const maxNonce = 128

// oidNonce is id-pkix-ocsp-nonce (RFC 6960 section 4.4.1).
var oidNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// errMalformed marks a request the responder cannot read; it is answered
// with the OCSP status "malformedRequest".
var errMalformed = errors.New("malformed OCSP request")

// request is what the responder needs from an OCSP request: the first
// certificate identifier and the nonce extension, if any.
type request struct {
	*ocsp.Request
	nonce *pkix.Extension
}

// ocspRequestExtensions reads only what x/crypto/ocsp leaves out of a
// request: its extensions, where the nonce lives.
type ocspRequestExtensions struct {
	TBSRequest struct {
		Version       int           `asn1:"explicit,tag:0,default:0,optional"`
		RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
		RequestList   []asn1.RawValue
		Extensions    []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	OptionalSignature asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

// parseRequest reads a DER OCSP request. Errors wrap errMalformed.
func parseRequest(der []byte) (request, error) {
	r, err := ocsp.ParseRequest(der)
	if err != nil {
		return request{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if hashOID(r.HashAlgorithm) == nil {
		return request{}, fmt.Errorf("%w: hash %v", errMalformed, r.HashAlgorithm)
	}
	if r.SerialNumber == nil || r.SerialNumber.Sign() <= 0 {
		return request{}, fmt.Errorf("%w: serial number not positive", errMalformed)
	}
	var ext ocspRequestExtensions
	if _, err := asn1.Unmarshal(der, &ext); err != nil {
		return request{}, fmt.Errorf("%w: extensions: %w", errMalformed, err)
	}
	out := request{Request: r}
	for _, e := range ext.TBSRequest.Extensions {
		if !e.Id.Equal(oidNonce) {
			continue
		}
		if len(e.Value) == 0 || len(e.Value) > maxNonce {
			return request{}, fmt.Errorf("%w: nonce of %d bytes", errMalformed, len(e.Value))
		}
		out.nonce = &pkix.Extension{Id: oidNonce, Value: e.Value}
	}
	return out, nil
}

// hashOID is the algorithm identifier of the hashes a CertID may use.
func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA1:
		return asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	case crypto.SHA256:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	case crypto.SHA384:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	case crypto.SHA512:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	}
	return nil
}
