package revocation

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// TestOCSPDelegatedSigner: a response is signed by a delegated OCSP
// signing certificate that it carries, which the issuing intermediate
// signed, which says id-kp-OCSPSigning and id-pkix-ocsp-nocheck, and which
// outlives the response; x/crypto/ocsp verifies it against the issuer.
func TestOCSPDelegatedSigner(t *testing.T) {
	e := newEnv(t)
	issuer := e.ca.DeviceCA()
	leaf := e.device(t, "dev-1")

	r := parse(t, e.post(t, ocspRequest(t, leaf, issuer, nil)), leaf, issuer)
	d := r.Certificate
	if d == nil {
		t.Fatal("the response carries no responder certificate: it was signed by the intermediate itself")
	}
	if d.Equal(issuer) || d.CheckSignatureFrom(issuer) != nil {
		t.Fatalf("responder certificate %q is not one the intermediate signed", d.Subject)
	}
	if err := r.CheckSignatureFrom(issuer); err == nil {
		t.Fatal("the response verifies with the intermediate's key: it was not signed by the delegate")
	}
	if !slices.Equal(d.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) || d.IsCA {
		t.Fatalf("delegate EKU %v, CA %v: want id-kp-OCSPSigning only, not a CA", d.ExtKeyUsage, d.IsCA)
	}
	if !slices.ContainsFunc(d.Extensions, func(x pkix.Extension) bool { return x.Id.String() == "1.3.6.1.5.5.7.48.1.5" }) {
		t.Fatal("delegate lacks id-pkix-ocsp-nocheck")
	}
	if d.NotAfter.Before(r.NextUpdate) {
		t.Fatalf("delegate expires %v, before the response's nextUpdate %v", d.NotAfter, r.NextUpdate)
	}

	// A second response, for another certificate, reuses the delegate.
	other := e.device(t, "dev-2")
	if r2 := parse(t, e.post(t, ocspRequest(t, other, issuer, nil)), other, issuer); !r2.Certificate.Equal(d) {
		t.Fatal("the delegate was reissued for the second response")
	}
}

// TestDelegateRenewal: the delegate is kept until halfway through its
// life, renewed after, and renewed at once for a new intermediate.
func TestDelegateRenewal(t *testing.T) {
	e := newEnv(t)
	d := &delegate{lifetime: 4 * time.Hour, validity: time.Hour}
	now := time.Now()
	first, _, err := d.signer(e.ca.Issuers()[0], now)
	if err != nil {
		t.Fatal(err)
	}
	if same, _, _ := d.signer(e.ca.Issuers()[0], now.Add(119*time.Minute)); !same.Equal(first) {
		t.Fatal("renewed before halfway")
	}
	later, _, err := d.signer(e.ca.Issuers()[0], now.Add(121*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if later.Equal(first) {
		t.Fatal("not renewed after halfway")
	}

	if _, err := ca.RotateIntermediate(e.ca.Dir(), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	rotated, err := ca.Load(e.ca.Dir())
	if err != nil {
		t.Fatal(err)
	}
	fresh, _, err := d.signer(rotated.Issuers()[0], now.Add(122*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Equal(later) || fresh.CheckSignatureFrom(rotated.DeviceCA()) != nil {
		t.Fatal("the delegate was not reissued by the new intermediate")
	}
}

// TestDelegateLifetimeChecked: a delegate shorter than twice the OCSP
// validity would expire before responses it signed; New refuses it.
func TestDelegateLifetimeChecked(t *testing.T) {
	_, err := New(Config{Authority: func() *ca.CA { return nil }, Registry: revokedRegistry{}, OCSPValidity: time.Hour, DelegateLifetime: 90 * time.Minute})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("New: %v, want ErrConfig: it accepted a delegate lifetime under twice the OCSP validity", err)
	}
}
