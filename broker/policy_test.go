package broker

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// TestGroupRequiresTPM: in a group whose policy requires TPM-attested keys,
// a certificate issued another way is refused at CONNECT and a TPM-attested
// one is admitted.
func TestGroupRequiresTPM(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.db.PutGroup(t.Context(), store.Group{Name: "secure", RequireTPM: true}, actor); err != nil {
		t.Fatal(err)
	}
	cert := f.device("dev-p", func(d *store.Device) { d.Group = "secure" }) // operator-issued

	_, tok := f.connect(&cert, "dev-p", nil)
	if tok.Error() == nil {
		t.Fatal("operator-issued certificate admitted into a group that requires TPM")
	}
	f.logs.await(t, "connect refused", "reason="+reasonAttestationPolicy)

	tpmCert := f.issueAttested("dev-p", store.AttestTPM, "")
	f.mustConnect(&tpmCert, "dev-p")
}

// TestRotatedCertificateSupersedes: the first CONNECT with a rotated
// certificate retires its predecessor in the registry, whose change drops a
// session still on the old certificate.
func TestRotatedCertificateSupersedes(t *testing.T) {
	f := newFixture(t, nil)
	old := f.device("dev-r", nil)
	oldSerial := ca.SerialHex(old.Leaf)
	oldSession := f.mustConnect(&old, "dev-r")

	changes := f.db.Watch(t.Context())
	rotated := f.issueAttested("dev-r", store.AttestOperator, oldSerial)
	f.mustConnect(&rotated, "dev-r") // takes over the old session too

	deadline := time.After(wait)
	for {
		select {
		case ch := <-changes:
			if ch.Kind == store.ChangeCert && ch.Serial == oldSerial && ch.CertStatus == store.CertSuperseded {
				if c, err := f.db.Certificate(t.Context(), oldSerial); err != nil || c.Status != store.CertSuperseded {
					t.Fatalf("old certificate %v, %v", c.Status, err)
				}
				f.awaitLost(oldSession)
				// The old certificate no longer admits anyone.
				if _, tok := f.connect(&old, "dev-r", nil); tok.Error() == nil {
					t.Fatal("superseded certificate admitted")
				}
				return
			}
		case <-deadline:
			t.Fatal("old certificate was not marked superseded")
		}
	}
}

// issueAttested issues and records a certificate with the given attestation
// and predecessor.
func (f *fixture) issueAttested(id string, how store.Attestation, supersedes string) tls.Certificate {
	f.t.Helper()
	key := pki.Key(f.t)
	csr := pki.CSR(f.t, key, "")
	serial, err := f.db.AllocateSerial(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	cert, err := f.ca.IssueDevice(csr, id, serial, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	keyHash := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	err = f.db.AddCertificate(f.t.Context(), store.Certificate{
		Serial: ca.SerialHex(cert), Fingerprint: ca.Fingerprint(cert), DeviceID: id,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Attestation: how, DER: cert.Raw,
		Supersedes: supersedes, KeyHash: hex.EncodeToString(keyHash[:]),
	}, actor)
	if err != nil {
		f.t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}
