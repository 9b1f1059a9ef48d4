package ca

import (
	"errors"
	"testing"
)

// FuzzParseCSR feeds arbitrary bytes to ParseCSR, the first thing that
// touches a CSR from the network. It must never panic, every refusal must
// wrap ErrBadCSR, and whatever it accepts must satisfy the checks it claims
// to make. The committed corpus in testdata/fuzz/FuzzParseCSR holds valid,
// truncated, tampered and wrong-type inputs.
func FuzzParseCSR(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			if !errors.Is(err, ErrBadCSR) {
				t.Fatalf("error does not wrap ErrBadCSR: %v", err)
			}
			return
		}
		if err := checkKey(csr.PublicKey); err != nil {
			t.Fatalf("accepted a CSR with a refused key: %v", err)
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR whose signature does not verify: %v", err)
		}
	})
}
