package tpmkey

import (
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"
)

// AK is the attestation key: a restricted ECC P-256 signing key under the
// SRK. The server binds it to the EK through the credential challenge, and
// from then on trusts what it certifies. It is loaded only while in use.
type AK struct {
	obj object
}

// CreateAK creates a new AK in the TPM. Store Blob() to reuse the same AK for
// rotation: the server remembers its name from enrollment.
func CreateAK(t transport.TPM) (AK, error) {
	t = withRetry(t)
	o, err := create(t, akTemplate())
	if err != nil {
		return AK{}, fmt.Errorf("tpmkey: AK: %w", err)
	}
	return AK{obj: o}, nil
}

// LoadAK restores an AK from Blob(). It loads the key once so a blob from
// another TPM, or from before a TPM clear, fails here rather than in the
// middle of a rotation.
func LoadAK(t transport.TPM, blob []byte) (AK, error) {
	t = withRetry(t)
	o, err := parseBlob(blob)
	if err != nil {
		return AK{}, err
	}
	h, err := load(t, o)
	if err != nil {
		return AK{}, fmt.Errorf("tpmkey: AK: %w", err)
	}
	flush(t, h.Handle)
	return AK{obj: o}, nil
}

// Public returns the AK public area as TPM2B_PUBLIC bytes, what the server
// parses and names.
func (a AK) Public() []byte { return a.obj.public2B() }

// Blob returns the AK as TPM2B_PUBLIC followed by TPM2B_PRIVATE. The
// private part is wrapped by this TPM's SRK, so the blob is no secret.
func (a AK) Blob() []byte { return a.obj.blob() }
