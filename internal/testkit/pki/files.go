package pki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// LoadCA reads a CA from the PEM files a fleetgate data directory holds:
// the certificate and its PKCS#8 key.
func LoadCA(t testing.TB, certFile, keyFile string) *CA {
	t.Helper()
	return &CA{Cert: ReadCert(t, certFile), Key: ReadKey(t, keyFile)}
}

// ReadCert loads the first certificate of a PEM file.
func ReadCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(readPEM(t, path).Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// ReadKey loads a PKCS#8 PEM private key, the form the CA writes.
func ReadKey(t testing.TB, path string) crypto.Signer {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(readPEM(t, path).Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		t.Fatalf("%s: %T is not a signer", path, k)
	}
	return s
}

// ReadPool loads the first certificate of a PEM file into a new pool.
func ReadPool(t testing.TB, path string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	p.AddCert(ReadCert(t, path))
	return p
}

func readPEM(t testing.TB, path string) *pem.Block {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	return blk
}

// ParseCerts parses every PEM block of data as a certificate, in order, as
// a chain is sent: leaf first. It fails t on a block that is not one.
func ParseCerts(t testing.TB, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		out = append(out, c)
	}
}

// DirState is the names and modification times of the entries of dir: two
// equal states mean nothing was added, removed or rewritten there.
func DirState(t testing.TB, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(e.Name() + " " + info.ModTime().String() + "; ")
	}
	return b.String()
}

// WriteFiles writes a TLS certificate (its chain) and its key as PEM files
// name.crt and name.key in dir, for clients that read files
// (mosquitto_pub, the CLI), and returns their paths.
func WriteFiles(t testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
