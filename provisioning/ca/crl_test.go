package ca

import (
	"crypto/x509"
	"math/big"
	"testing"
	"time"
)

func TestDeviceCRL(t *testing.T) {
	authority, _, err := Bootstrap(t.TempDir(), BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	der, err := authority.DeviceCRL([]RevokedCert{{Serial: big.NewInt(0x1234), RevokedAt: at}}, big.NewInt(7), 0)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(authority.DeviceCA()); err != nil {
		t.Fatalf("CRL not signed by the device CA: %v", err)
	}
	if err := crl.CheckSignatureFrom(authority.Root()); err == nil {
		t.Fatal("CRL signature verified against the root: wrong issuer key")
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Int64() != 0x1234 ||
		!crl.RevokedCertificateEntries[0].RevocationTime.Equal(at) {
		t.Fatalf("entries %+v", crl.RevokedCertificateEntries)
	}
	if crl.Number.Int64() != 7 || !crl.NextUpdate.After(time.Now().Add(23*time.Hour)) {
		t.Fatalf("number %v next update %v", crl.Number, crl.NextUpdate)
	}
}
