package ca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// A device sends a CSR claiming to be someone else; the certificate names
// the device the registry says it is, and the broker's pool accepts it.
func ExampleCA_IssueDevice() {
	tmp, err := os.MkdirTemp("", "fleetgate-ca-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)

	authority, created, err := ca.Bootstrap(filepath.Join(tmp, "ca"), ca.BootstrapOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("created", len(created), "files")

	// On the device: a key and a CSR whose subject tries to claim "admin".
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})

	// On the server: parse, then issue for the registry's device ID and serial.
	csr, err := ca.ParseCSR(csrPEM)
	if err != nil {
		panic(err)
	}
	cert, err := authority.IssueDevice(csr, "sensor-42", big.NewInt(0x2a), 0)
	if err != nil {
		panic(err)
	}
	id, _ := identity.FromCertificate(cert)
	fmt.Println("identity:", cert.URIs[0], "->", id)
	fmt.Println("serial:", ca.SerialHex(cert))
	fmt.Println("is CA:", cert.IsCA)

	_, err = cert.Verify(x509.VerifyOptions{Roots: authority.DevicePool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	fmt.Println("device pool accepts:", err == nil)
	_, err = cert.Verify(x509.VerifyOptions{Roots: authority.OperatorPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	fmt.Println("operator pool accepts:", err == nil)
	// Output:
	// created 10 files
	// identity: urn:fleetgate:device:sensor-42 -> sensor-42
	// serial: 2a
	// is CA: false
	// device pool accepts: true
	// operator pool accepts: false
}
