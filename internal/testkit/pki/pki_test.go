package pki

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func TestDevice(t *testing.T) {
	ca := NewCA(t, "test CA")
	verify := func(c *x509.Certificate, roots *x509.CertPool) error {
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err
	}
	good := ca.Device(t, "dev-1", nil)
	if err := verify(good.Leaf, ca.Pool()); err != nil {
		t.Errorf("ok/device: %v", err)
	}
	if good.Leaf.Subject.CommonName != "dev-1" || good.Leaf.URIs[0].String() != "urn:fleetgate:device:dev-1" {
		t.Errorf("ok/names: %s %v", good.Leaf.Subject, good.Leaf.URIs)
	}
	for name, adjust := range map[string]func(*x509.Certificate){
		"error/expired": Expired, "error/not yet valid": NotYetValid, "error/serverAuth only": ServerAuthOnly,
	} {
		if err := verify(ca.Device(t, "dev-1", adjust).Leaf, ca.Pool()); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if err := verify(Foreign(t).Device(t, "dev-1", nil).Leaf, ca.Pool()); err == nil {
		t.Error("error/foreign CA: verified")
	}
	if Foreign(t) != Foreign(t) {
		t.Error("ok/foreign once: two CAs")
	}
	if c := ca.Device(t, "dev-1", CALeaf).Leaf; !c.IsCA || !c.BasicConstraintsValid {
		t.Error("ok/CA leaf: not CA:TRUE")
	}
	if c := SelfSignedDevice(t, "dev-1", nil).Leaf; c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
		t.Error("ok/self-signed: not signed by itself")
	}
}

func TestLoadCA(t *testing.T) {
	ca := NewCA(t, "test CA")
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	got := LoadCA(t, certFile, keyFile)
	if !got.Cert.Equal(ca.Cert) || got.Device(t, "dev-2", nil).Leaf.CheckSignatureFrom(ca.Cert) != nil {
		t.Error("ok/load: not the same CA")
	}
	if csr := CSR(t, Key(t), "dev-2"); csr.Subject.CommonName != "dev-2" || csr.CheckSignature() != nil {
		t.Error("ok/csr: bad request")
	}
}
