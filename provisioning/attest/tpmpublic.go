package attest

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// public is a parsed public area with the bytes it came from.
type public struct {
	area *tpm2.TPMTPublic
	// name is nameAlg || H(TPMT_PUBLIC bytes); nil when the name algorithm
	// is not one strongHash accepts, which the attribute checks refuse.
	name []byte
}

// parsePublic2B parses TPM2B_PUBLIC bytes. It refuses trailing bytes and
// non-canonical encodings, and computes the Name over the received bytes.
func parsePublic2B(b []byte) (public, error) {
	if len(b) < 2 || int(binary.BigEndian.Uint16(b)) != len(b)-2 {
		return public{}, fmt.Errorf("%w: TPM2B_PUBLIC size", ErrMalformed)
	}
	inner := b[2:]
	area, err := unmarshalCanonical[tpm2.TPMTPublic](inner)
	if err != nil {
		return public{}, fmt.Errorf("%w: public area: %w", ErrMalformed, err)
	}
	p := public{area: area}
	if _, ok := strongHash(area.NameAlg); ok {
		p.name, _ = objectName(area.NameAlg, inner)
	}
	return p, nil
}

// unmarshalCanonical unmarshals v and checks that re-marshalling gives the
// same bytes, which rules out trailing data and alternative encodings. The
// parser is reflection-based and fed attacker bytes, so a panic is turned
// into an error rather than taking the server down.
func unmarshalCanonical[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](b []byte) (v *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	v, err = tpm2.Unmarshal[T, P](b)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(tpm2.Marshal(*v), b) {
		return nil, fmt.Errorf("non-canonical encoding or trailing bytes")
	}
	return v, nil
}

// strongHash maps the name and signature hash algorithms we accept. SHA-1 is
// absent on purpose: a SHA-1 name could be made to collide.
func strongHash(alg tpm2.TPMAlgID) (crypto.Hash, bool) {
	switch alg {
	case tpm2.TPMAlgSHA256:
		return crypto.SHA256, true
	case tpm2.TPMAlgSHA384:
		return crypto.SHA384, true
	case tpm2.TPMAlgSHA512:
		return crypto.SHA512, true
	default:
		return 0, false
	}
}

// objectName is the TPM Name of a public area: nameAlg || H_nameAlg(area).
func objectName(alg tpm2.TPMAlgID, area []byte) ([]byte, error) {
	h, ok := strongHash(alg)
	if !ok {
		return nil, fmt.Errorf("%w: name algorithm %#04x", ErrMalformed, uint16(alg))
	}
	d := h.New()
	d.Write(area)
	return d.Sum(binary.BigEndian.AppendUint16(nil, uint16(alg))), nil
}

// checkName validates a Name's layout (known strong algorithm, right digest
// length), as sent by a caller of MakeCredential.
func checkName(name []byte) error {
	if len(name) < 2 {
		return fmt.Errorf("%w: name too short", ErrMalformed)
	}
	h, ok := strongHash(tpm2.TPMAlgID(binary.BigEndian.Uint16(name)))
	if !ok || len(name) != 2+h.Size() {
		return fmt.Errorf("%w: name layout", ErrMalformed)
	}
	return nil
}
