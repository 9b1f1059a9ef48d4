package api

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"

	"github.com/smallstep/pkcs7"
)

// Media types of RFC 7030. Every body is base64 over DER (RFC 8951 made
// Content-Transfer-Encoding informative: base64 always).
const (
	estTypeCerts    = "application/pkcs7-mime; smime-type=certs-only"
	estTypeCSRAttrs = "application/csrattrs"
	estTypeText     = "text/plain; charset=utf-8"
)

// OIDs named in the CSR attributes answer.
var (
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256            = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
)

// readESTCSR reads a simpleenroll/simplereenroll body: a base64 DER
// PKCS#10 request (line breaks allowed). The signature is not judged here:
// the shared decisions do that, so its refusal has one code on every route.
func (a *API) readESTCSR(w http.ResponseWriter, r *http.Request) (*x509.CertificateRequest, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: request body: %v", errBadRequest, err)
	}
	der, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(body), nil)))
	if err != nil {
		return nil, fmt.Errorf("%w: the body must be a base64 DER PKCS#10 request: %v", errBadRequest, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the body is not a PKCS#10 request: %v", errBadRequest, err)
	}
	return csr, nil
}

// writeESTCerts answers with a certs-only PKCS#7 (a degenerate SignedData)
// holding certs, base64 in lines of 76 characters.
func writeESTCerts(w http.ResponseWriter, certs ...*x509.Certificate) error {
	var der []byte
	for _, c := range certs {
		der = append(der, c.Raw...)
	}
	p7, err := pkcs7.DegenerateCertificate(der)
	if err != nil {
		return fmt.Errorf("encode certs-only PKCS#7: %w", err)
	}
	writeESTBody(w, estTypeCerts, p7)
	return nil
}

// writeESTBody writes der base64-encoded with the EST headers, in lines
// ending in LF alone: coreutils' base64 -d, which RFC 7030-style shell
// clients pipe the body into, refuses CR.
func writeESTBody(w http.ResponseWriter, contentType string, der []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Transfer-Encoding", "base64")
	w.WriteHeader(http.StatusOK)
	enc := base64.StdEncoding.EncodeToString(der)
	for len(enc) > 76 {
		_, _ = io.WriteString(w, enc[:76]+"\n")
		enc = enc[76:]
	}
	_, _ = io.WriteString(w, enc+"\n")
}

// estCSRAttrs is the CsrAttrs (RFC 7030 section 4.5.2) of every group: an
// ECDSA P-256 key signing with SHA-256, what softwareCSR accepts first.
// The identity comes from the registry, so no subject is asked for.
func estCSRAttrs() ([]byte, error) {
	sig, err := asn1.Marshal(oidECDSAWithSHA256)
	if err != nil {
		return nil, err
	}
	key, err := asn1.Marshal(struct {
		Type   asn1.ObjectIdentifier
		Values []asn1.ObjectIdentifier `asn1:"set"`
	}{oidECPublicKey, []asn1.ObjectIdentifier{oidP256}})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal([]asn1.RawValue{{FullBytes: sig}, {FullBytes: key}})
}
