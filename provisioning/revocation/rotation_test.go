package revocation

import (
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// TestRevocationAcrossRotation: after a rotation the old intermediate,
// whose key the rotation kept, has a CRL of its own and OCSP answers for
// its certificates, each signed under it; after its retirement (and the
// reload) it has neither.
func TestRevocationAcrossRotation(t *testing.T) {
	e := newEnv(t)
	oldLeaf := e.device(t, "dev-old")
	rot, err := ca.RotateIntermediate(e.ca.Dir(), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.reload(t)
	newLeaf := e.device(t, "dev-new")
	if err := newLeaf.CheckSignatureFrom(rot.New); err != nil {
		t.Fatalf("the device issued after the rotation is not the new intermediate's: %v", err)
	}
	e.revoke(t, newLeaf.SerialNumber.Text(16))

	// Each CRL verifies under its own intermediate only and lists only its
	// own revoked certificates.
	oldCRL := e.crl(t, rot.Old, rot.New)
	if len(oldCRL.RevokedCertificateEntries) != 0 {
		t.Fatalf("the old intermediate's CRL lists %d certificates, want none of its own revoked yet", len(oldCRL.RevokedCertificateEntries))
	}
	newCRL := e.crl(t, rot.New, rot.Old)
	if n := newCRL.RevokedCertificateEntries; len(n) != 1 || n[0].SerialNumber.Cmp(newLeaf.SerialNumber) != 0 {
		t.Fatalf("the new intermediate's CRL lists %d entries, want the revoked new device", len(n))
	}

	// OCSP for the old intermediate's device: good, then revoked, signed
	// by a delegate of the old intermediate (ParseResponseForCert checks).
	if r := parse(t, e.post(t, ocspRequest(t, oldLeaf, rot.Old, nil)), oldLeaf, rot.Old); r.Status != ocsp.Good {
		t.Fatalf("old device: status %d, want good", r.Status)
	} else if r.Certificate == nil || r.Certificate.CheckSignatureFrom(rot.Old) != nil {
		t.Fatal("the response about the old device is not signed by a delegate of the old intermediate")
	}
	e.revoke(t, oldLeaf.SerialNumber.Text(16))
	if r := parse(t, e.post(t, ocspRequest(t, oldLeaf, rot.Old, nil)), oldLeaf, rot.Old); r.Status != ocsp.Revoked {
		t.Fatalf("old device after revocation: status %d, want revoked", r.Status)
	}
	if o := e.crl(t, rot.Old, rot.New).RevokedCertificateEntries; len(o) != 1 || o[0].SerialNumber.Cmp(oldLeaf.SerialNumber) != 0 {
		t.Fatalf("the old intermediate's CRL lists %d entries after the revocation, want the old device", len(o))
	}

	// Retired and reloaded: no CRL, no OCSP answers for the old one.
	if _, err := ca.RetireIntermediate(e.ca.Dir(), ca.SerialHex(rot.Old)); err != nil {
		t.Fatal(err)
	}
	e.reload(t)
	resp, err := http.Get(e.url + ca.CRLPathPrefix + ca.IssuerID(rot.Old) + ".crl")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the retired intermediate's CRL: %s, want 404", resp.Status)
	}
	_, err = ocsp.ParseResponse(e.post(t, ocspRequest(t, oldLeaf, rot.Old, nil)), nil)
	var re ocsp.ResponseError
	if !errors.As(err, &re) || re.Status != ocsp.Unauthorized {
		t.Fatalf("OCSP about the retired intermediate's device: %v, want unauthorized", err)
	}
	e.crl(t, rot.New, rot.Old)
}

// revoke revokes a certificate and waits until the responder saw it.
func (e *env) revoke(t *testing.T, serial string) {
	t.Helper()
	if _, err := e.db.RevokeCertificate(t.Context(), serial, "key compromise", store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	e.await(t, serial)
}

// crl fetches the CRL of issuer and checks that issuer signed it and
// other (when not nil) did not.
func (e *env) crl(t *testing.T, issuer, other *x509.Certificate) *x509.RevocationList {
	t.Helper()
	resp, err := http.Get(e.url + ca.CRLPathPrefix + ca.IssuerID(issuer) + ".crl")
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(body(t, resp))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL of %s: %v", ca.SerialHex(issuer), err)
	}
	if other != nil && crl.CheckSignatureFrom(other) == nil {
		t.Fatalf("CRL of %s verifies under %s too", ca.SerialHex(issuer), ca.SerialHex(other))
	}
	return crl
}
