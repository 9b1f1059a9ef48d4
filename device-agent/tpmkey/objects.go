package tpmkey

import (
	"encoding/binary"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// object is a key below the SRK as the agent stores it: the public and
// private areas exactly as TPM2_Create returned them (the private area is
// encrypted by the SRK and useless outside this TPM).
type object struct {
	public  []byte // TPMT_PUBLIC (inside the TPM2B)
	private []byte // TPM2B_PRIVATE contents
}

// blob encodes the object as TPM2B_PUBLIC followed by TPM2B_PRIVATE, the
// layout tpm2-tools and most TSS tools use for a key pair, so a blob can be
// inspected with them.
func (o object) blob() []byte {
	b := make([]byte, 0, 4+len(o.public)+len(o.private))
	b = binary.BigEndian.AppendUint16(b, uint16(len(o.public)))
	b = append(b, o.public...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(o.private)))
	return append(b, o.private...)
}

// public2B returns the TPM2B_PUBLIC bytes sent to the server.
func (o object) public2B() []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(o.public)))
	return append(b, o.public...)
}

// parseBlob is the inverse of blob; it checks lengths only, the TPM checks
// the rest when loading.
func parseBlob(b []byte) (object, error) {
	pub, rest, ok := cut2B(b)
	if !ok || len(pub) == 0 {
		return object{}, fmt.Errorf("%w: public area", ErrBlob)
	}
	priv, rest, ok := cut2B(rest)
	if !ok || len(priv) == 0 || len(rest) != 0 {
		return object{}, fmt.Errorf("%w: private area", ErrBlob)
	}
	return object{public: pub, private: priv}, nil
}

// cut2B splits a size-prefixed TPM2B from the front of b.
func cut2B(b []byte) (inner, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

// createSRK derives the standard ECC P-256 SRK in the owner hierarchy. The
// caller flushes it.
func createSRK(t transport.TPM) (tpm2.NamedHandle, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t)
	if err != nil {
		return tpm2.NamedHandle{}, fmt.Errorf("tpmkey: create SRK: %w", err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, nil
}

// create makes a new key from tmpl under the SRK.
func create(t transport.TPM, tmpl tpm2.TPMTPublic) (object, error) {
	srk, err := createSRK(t)
	if err != nil {
		return object{}, err
	}
	defer flush(t, srk.Handle)
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     tpm2.New2B(tmpl),
	}.Execute(t)
	if err != nil {
		return object{}, fmt.Errorf("tpmkey: create key: %w", err)
	}
	return object{public: rsp.OutPublic.Bytes(), private: rsp.OutPrivate.Buffer}, nil
}

// load loads the object under the SRK and flushes the SRK at once: a loaded
// child does not need its parent, and the slot is better spent elsewhere.
// The caller flushes the returned handle.
func load(t transport.TPM, o object) (tpm2.NamedHandle, error) {
	srk, err := createSRK(t)
	if err != nil {
		return tpm2.NamedHandle{}, err
	}
	defer flush(t, srk.Handle)
	rsp, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk.Handle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    tpm2.TPM2BPrivate{Buffer: o.private},
		InPublic:     tpm2.BytesAs2B[tpm2.TPMTPublic](o.public),
	}.Execute(t)
	if err != nil {
		return tpm2.NamedHandle{}, fmt.Errorf("tpmkey: load key: %w", err)
	}
	return tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name}, nil
}
