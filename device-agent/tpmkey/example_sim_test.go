//go:build tpmsimulator

package tpmkey_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"

	"github.com/google/go-tpm/tpm2/transport/simulator"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
)

// A TPM-held key signs the enrollment CSR through crypto.Signer. In the
// agent the transport comes from tpmkey.Open(tpmkey.DefaultPath).
func ExampleKey_Signer() {
	tpm, err := simulator.OpenSimulator()
	if err != nil {
		panic(err)
	}
	defer tpm.Close()
	key, err := tpmkey.CreateKey(tpm)
	if err != nil {
		panic(err)
	}
	defer key.Close()
	der, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}, key.Signer())
	if err != nil {
		panic(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		panic(err)
	}
	fmt.Println(csr.SignatureAlgorithm, csr.CheckSignature() == nil)
	// Output: ECDSA-SHA256 true
}
