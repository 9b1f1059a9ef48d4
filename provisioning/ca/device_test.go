package ca

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// TestIssueDeviceIgnoresCSRContent hands in a CSR that asks for everything
// an attacker would want and checks that none of it reaches the certificate.
func TestIssueDeviceIgnoresCSRContent(t *testing.T) {
	c, _ := newTestCA(t)
	victim, _ := url.Parse("urn:fleetgate:device:victim")
	caTrue, _ := asn1.Marshal(struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}{true, 5})
	ekus, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 1}, {1, 3, 6, 1, 5, 5, 7, 3, 3}})
	key := pki.Key(t)
	der := csrDER(t, key, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "admin", Organization: []string{"fleetgate"}},
		URIs:           []*url.URL{victim},
		DNSNames:       []string{"evil.example"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1")},
		EmailAddresses: []string{"root@evil.example"},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: caTrue},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: ekus},
		},
	})
	csr := mustCSR(t, der)
	if len(csr.Extensions) < 2 {
		t.Fatalf("test CSR lost its requested extensions: %v", csr.Extensions)
	}

	cert, err := c.IssueDevice(csr, "dev-7", big.NewInt(99), 0)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "dev-7" || len(cert.Subject.Organization) != 0 {
		t.Errorf("subject = %v, want CN=dev-7 only", cert.Subject)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "urn:fleetgate:device:dev-7" {
		t.Errorf("URIs = %v", cert.URIs)
	}
	if id, err := identity.FromCertificate(cert); err != nil || id != "dev-7" {
		t.Errorf("identity = %q, %v", id, err)
	}
	if len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.EmailAddresses) != 0 {
		t.Errorf("SANs copied: DNS %v IP %v email %v", cert.DNSNames, cert.IPAddresses, cert.EmailAddresses)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || len(cert.UnknownExtKeyUsage) != 0 {
		t.Errorf("EKU = %v unknown %v, want clientAuth only", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
	}
	if cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("IsCA %v BasicConstraintsValid %v KeyUsage %v", cert.IsCA, cert.BasicConstraintsValid, cert.KeyUsage)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Error("certificate is not for the CSR's key")
	}
	if len(cert.SubjectKeyId) != 20 || !slices.Equal(cert.AuthorityKeyId, c.DeviceCA().SubjectKeyId) {
		t.Errorf("SKID %x AKID %x", cert.SubjectKeyId, cert.AuthorityKeyId)
	}
	// Exactly the extensions we write, nothing more.
	var got []string
	for _, e := range cert.Extensions {
		got = append(got, e.Id.String())
	}
	slices.Sort(got)
	want := []string{"2.5.29.14", "2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.35", "2.5.29.37"}
	if !slices.Equal(got, want) {
		t.Errorf("extensions %v, want %v", got, want)
	}
}

func TestIssueDeviceRefusesBadIDs(t *testing.T) {
	c, _ := newTestCA(t)
	csr := mustCSR(t, csrDER(t, pki.Key(t), nil))
	for _, id := range []string{"a+b", "a/b", "a#", "a b", "\x01", "", "$SYS", strings.Repeat("a", identity.MaxIDLength+1)} {
		t.Run("error/"+id, func(t *testing.T) {
			_, err := c.IssueDevice(csr, id, big.NewInt(1), 0)
			if !errors.Is(err, ErrBadIdentity) || !errors.Is(err, identity.ErrInvalidID) {
				t.Fatalf("err = %v, want ErrBadIdentity and identity.ErrInvalidID", err)
			}
		})
	}
}

func TestIssueDeviceLifetime(t *testing.T) {
	c, _ := newTestCA(t)
	csr := mustCSR(t, csrDER(t, pki.Key(t), nil))
	day := 24 * time.Hour
	now := time.Now().Truncate(time.Second)
	caEnd := c.DeviceCA().NotAfter
	cases := []struct {
		name     string
		now      time.Time
		lifetime time.Duration
		wantEnd  time.Time
		wantErr  error
	}{
		{"ok/default", now, 0, now.Add(DefaultDeviceLifetime), nil},
		{"ok/negative means default", now, -time.Hour, now.Add(DefaultDeviceLifetime), nil},
		{"ok/explicit", now, 90 * day, now.Add(90 * day), nil},
		{"ok/maximum", now, MaxDeviceLifetime, now.Add(MaxDeviceLifetime), nil},
		{"ok/capped to device CA", caEnd.Add(-10 * day), 30 * day, caEnd, nil},
		{"error/too long", now, MaxDeviceLifetime + time.Second, time.Time{}, ErrBadLifetime},
		{"error/device CA expired", caEnd.Add(time.Second), 0, time.Time{}, ErrExpired},
		{"error/device CA not yet valid", c.DeviceCA().NotBefore.Add(-time.Second), 0, time.Time{}, ErrExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.now = fixedClock(tc.now)
			cert, err := c.IssueDevice(csr, "dev-1", big.NewInt(5), tc.lifetime)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.now.Truncate(time.Second).Add(-time.Minute); !cert.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %v, want %v (backdated one minute)", cert.NotBefore, want)
			}
			if !cert.NotAfter.Equal(tc.wantEnd.Truncate(time.Second)) {
				t.Errorf("NotAfter = %v, want %v", cert.NotAfter, tc.wantEnd)
			}
		})
	}
}

func TestIssueDeviceSerial(t *testing.T) {
	c, _ := newTestCA(t)
	csr := mustCSR(t, csrDER(t, pki.Key(t), nil))
	one := big.NewInt(1)
	max := new(big.Int).Sub(new(big.Int).Lsh(one, 159), one)
	cases := []struct {
		name   string
		serial *big.Int
		ok     bool
	}{
		{"ok/one", one, true},
		{"ok/largest of 20 octets", max, true},
		{"error/nil", nil, false},
		{"error/zero", big.NewInt(0), false},
		{"error/negative", big.NewInt(-5), false},
		{"error/21 octets once encoded", new(big.Int).Lsh(one, 159), false},
		{"error/oversized", new(big.Int).Lsh(one, 200), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := c.IssueDevice(csr, "dev-1", tc.serial, 0)
			if !tc.ok {
				if !errors.Is(err, ErrBadSerial) {
					t.Fatalf("err = %v, want ErrBadSerial", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cert.SerialNumber.Cmp(tc.serial) != 0 || SerialHex(cert) != tc.serial.Text(16) {
				t.Errorf("serial %s, want %s", cert.SerialNumber, tc.serial)
			}
		})
	}
}

func TestIssueDeviceRechecksCSR(t *testing.T) {
	c, _ := newTestCA(t)
	csr := mustCSR(t, csrDER(t, pki.Key(t), nil))
	// Swap the key after parsing: the signature no longer matches, as with
	// a CSR put together by hand.
	forged := *csr
	forged.PublicKey = pki.Key(t).Public()
	if _, err := c.IssueDevice(&forged, "dev-1", big.NewInt(1), 0); !errors.Is(err, ErrBadCSR) {
		t.Errorf("forged CSR: err = %v, want ErrBadCSR", err)
	}
	if _, err := c.IssueDevice(nil, "dev-1", big.NewInt(1), 0); !errors.Is(err, ErrBadCSR) {
		t.Errorf("nil CSR: err = %v, want ErrBadCSR", err)
	}
}

func TestIssueDeviceRSA(t *testing.T) {
	c, _ := newTestCA(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.IssueDevice(mustCSR(t, csrDER(t, key, nil)), "rsa-dev", big.NewInt(3), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: c.DevicePool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("RSA device certificate does not verify: %v", err)
	}
}
