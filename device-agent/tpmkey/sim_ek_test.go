//go:build tpmsimulator

package tpmkey_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/internal/testkit/tpmsim"
)

func TestSimulatorReadEKWithoutCertificate(t *testing.T) {
	tpm := tpmsim.Open(t)
	ek, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatalf("ReadEK: %v", err)
	}
	if ek.Kind != tpmkey.EKECCP256 || ek.Cert != nil {
		t.Fatalf("ReadEK = kind %v, cert %d bytes; want ecc-p256 without cert", ek.Kind, len(ek.Cert))
	}
	for _, tt := range []struct {
		kind  tpmkey.EKKind
		check func(any) bool
	}{
		{tpmkey.EKECCP256, func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == elliptic.P256() }},
		{tpmkey.EKECCP384, func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == elliptic.P384() }},
		{tpmkey.EKRSA2048, func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 2048 }},
	} {
		t.Run("ok/"+tt.kind.String(), func(t *testing.T) {
			ek, err := tpmkey.ReadEKKind(tpm, tt.kind)
			if err != nil {
				t.Fatalf("ReadEKKind: %v", err)
			}
			pub, err := ek.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(pub) {
				t.Fatalf("EK key %T is not %v", pub, tt.kind)
			}
			// The EK is a primary key: the same template gives the same key.
			again, err := tpmkey.ReadEKKind(tpm, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Public, ek.Public) {
				t.Fatalf("EK changed between reads")
			}
		})
	}
}

func TestSimulatorReadEKCertificate(t *testing.T) {
	tpm := tpmsim.Open(t)
	ek, err := tpmkey.ReadEKKind(tpm, tpmkey.EKECCP384)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ek.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	cert := ekCertFor(t, pub)
	// Padding after the certificate, as in fixed-size NV indices.
	writeNV(t, tpm, tpmkey.EKECCP384.CertIndex(), append(bytes.Clone(cert), 0xff, 0xff, 0xff))

	got, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatalf("ReadEK: %v", err)
	}
	if got.Kind != tpmkey.EKECCP384 {
		t.Fatalf("ReadEK chose %v, want the kind with a certificate", got.Kind)
	}
	if !bytes.Equal(got.Cert, cert) {
		t.Fatalf("certificate read back differs (%d bytes, want %d)", len(got.Cert), len(cert))
	}

	// A certificate for some other key at the P-256 index: ReadEK prefers
	// P-256 and must notice the certificate does not name the TPM's EK.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeNV(t, tpm, tpmkey.EKECCP256.CertIndex(), ekCertFor(t, &other.PublicKey))
	if _, err := tpmkey.ReadEK(tpm); !errors.Is(err, tpmkey.ErrEKMismatch) {
		t.Fatalf("foreign certificate: err = %v, want ErrEKMismatch", err)
	}
}

func TestSimulatorActivate(t *testing.T) {
	tpm := tpmsim.Open(t)
	ak, err := tpmkey.CreateAK(tpm)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := tpmkey.ReadEK(tpm)
	if err != nil {
		t.Fatal(err)
	}
	// The credential is made with go-tpm directly, as the TPM spec defines
	// it, so this test does not depend on the server package.
	ekPub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](ek.Public)
	if err != nil {
		t.Fatal(err)
	}
	ekArea, err := ekPub.Contents()
	if err != nil {
		t.Fatal(err)
	}
	kem, err := tpm2.ImportEncapsulationKey(ekArea)
	if err != nil {
		t.Fatal(err)
	}
	akArea, err := tpm2.Unmarshal[tpm2.TPMTPublic](ak.Public()[2:])
	if err != nil {
		t.Fatal(err)
	}
	akName, err := tpm2.ObjectName(akArea)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")

	tests := []struct {
		name    string
		forName []byte
		wantErr bool
	}{
		{name: "ok/own-ak", forName: akName.Buffer},
		{name: "error/other-name", forName: append([]byte{0x00, 0x0b}, bytes.Repeat([]byte{1}, 32)...), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob, enc, err := tpm2.CreateCredential(rand.Reader, kem, tt.forName, secret)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tpmkey.Activate(tpm, ak, blob, enc)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("activation for another name succeeded with %x", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Activate: %v", err)
			}
			if !bytes.Equal(got, secret) {
				t.Fatalf("secret = %x, want %x", got, secret)
			}
		})
	}
}
