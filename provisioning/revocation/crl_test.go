package revocation

import (
	"crypto/x509"
	"net/http"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// TestCRL: the issuing intermediate's CRL is signed by it and re-issued
// as soon as the change feed reports a revocation; other names are 404.
func TestCRL(t *testing.T) {
	e := newEnv(t)
	issuer := e.ca.DeviceCA()
	keep := e.device(t, "dev-1")
	gone := e.device(t, "dev-2")

	fetch := func(t *testing.T) *x509.RevocationList { return e.crl(t, issuer, nil) }
	first := fetch(t)
	if len(first.RevokedCertificateEntries) != 0 {
		t.Fatalf("fresh registry: %d entries", len(first.RevokedCertificateEntries))
	}
	if _, err := e.db.RevokeCertificate(t.Context(), ca.SerialHex(gone), "key compromise", store.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	e.await(t, ca.SerialHex(gone))
	second := fetch(t)
	if len(second.RevokedCertificateEntries) != 1 {
		t.Fatalf("after one revocation: %d entries", len(second.RevokedCertificateEntries))
	}
	entry := second.RevokedCertificateEntries[0]
	if entry.SerialNumber.Cmp(gone.SerialNumber) != 0 || entry.ReasonCode != 1 || entry.SerialNumber.Cmp(keep.SerialNumber) == 0 {
		t.Errorf("entry serial %v reason %d, want %v keyCompromise(1)", entry.SerialNumber, entry.ReasonCode, gone.SerialNumber)
	}
	if second.Number.Cmp(first.Number) <= 0 {
		t.Errorf("CRL number %v after %v: must grow", second.Number, first.Number)
	}

	for _, path := range []string{ca.CRLPathPrefix + "00.crl", ca.CRLPathPrefix + ca.IssuerID(issuer), "/crl", "/other"} {
		resp, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
}
