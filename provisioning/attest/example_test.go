package attest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"

	"github.com/fleetgate/fleetgate/provisioning/attest"
)

// The allow-list entry for an EK is the hex SHA-256 of its PKIX public key.
func ExampleEKHash() {
	ek, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x11}, 32))
	if err != nil {
		panic(err)
	}
	h, err := attest.EKHash(&ek.PublicKey)
	if err != nil {
		panic(err)
	}
	fmt.Println(h)
	// Output: 76805a63a6980c18075424a13f32772d02d7c71b4965754c1ce84f5841220327
}

// The server keeps Challenge.Secret and compares it with what the device's
// TPM recovered.
func ExampleVerifyActivation() {
	ek, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x11}, 32))
	if err != nil {
		panic(err)
	}
	akName := append([]byte{0x00, 0x0b}, bytes.Repeat([]byte{0xaa}, 32)...) // SHA-256 name
	ch, err := attest.MakeCredential(&ek.PublicKey, akName)
	if err != nil {
		panic(err)
	}
	fmt.Println(attest.VerifyActivation(ch.Secret, ch.Secret))
	fmt.Println(errors.Is(attest.VerifyActivation(ch.Secret, make([]byte, attest.SecretSize)), attest.ErrSecretMismatch))
	// Output:
	// <nil>
	// true
}
