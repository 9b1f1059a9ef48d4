package tpmkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"fmt"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Key is the device's TLS key: ECC P-256, generated in the TPM and bound to
// it, not restricted. It stays loaded until Close because every TLS
// handshake signs with it. Methods are safe for concurrent use.
type Key struct {
	mu     sync.Mutex // guards h and serialises this key's TPM commands
	t      transport.TPM
	h      tpm2.NamedHandle
	closed bool
	obj    object
	pub    *ecdsa.PublicKey
}

// CreateKey creates a new key under the SRK and loads it.
func CreateKey(t transport.TPM) (*Key, error) {
	t = withRetry(t)
	o, err := create(t, keyTemplate())
	if err != nil {
		return nil, fmt.Errorf("tpmkey: key: %w", err)
	}
	return loadKey(t, o)
}

// LoadKey loads a key from Blob(), e.g. after the agent restarts.
func LoadKey(t transport.TPM, blob []byte) (*Key, error) {
	o, err := parseBlob(blob)
	if err != nil {
		return nil, err
	}
	return loadKey(t, o)
}

func loadKey(t transport.TPM, o object) (*Key, error) {
	t = withRetry(t)
	pub, err := ecdsaPublic(o.public)
	if err != nil {
		return nil, err
	}
	h, err := load(t, o)
	if err != nil {
		return nil, fmt.Errorf("tpmkey: key: %w", err)
	}
	return &Key{t: t, h: h, obj: o, pub: pub}, nil
}

// ecdsaPublic extracts the P-256 public key from a TPMT_PUBLIC.
func ecdsaPublic(public []byte) (*ecdsa.PublicKey, error) {
	p, err := tpm2.Unmarshal[tpm2.TPMTPublic](public)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBlob, err)
	}
	if p.Type != tpm2.TPMAlgECC {
		return nil, fmt.Errorf("%w: type %v", ErrKeyType, p.Type)
	}
	parms, err := p.Parameters.ECCDetail()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBlob, err)
	}
	point, err := p.Unique.ECC()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBlob, err)
	}
	pub, err := tpm2.ECDSAPub(parms, point)
	if err != nil || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: curve %v", ErrKeyType, parms.CurveID)
	}
	if _, err := pub.ECDH(); err != nil { // rejects points off the curve
		return nil, fmt.Errorf("%w: %w", ErrBlob, err)
	}
	return pub, nil
}

// Public returns the key's public area as TPM2B_PUBLIC bytes (the same
// encoding as AK.Public), which the server checks against the name the AK
// certified.
func (k *Key) Public() []byte { return k.obj.public2B() }

// Blob returns the key as TPM2B_PUBLIC followed by TPM2B_PRIVATE, to store
// in the agent's state directory. The private part is wrapped by this TPM's
// SRK.
func (k *Key) Blob() []byte { return k.obj.blob() }

// Close flushes the key from the TPM. Later calls fail with ErrClosed.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	if _, err := (tpm2.FlushContext{FlushHandle: k.h.Handle}).Execute(k.t); err != nil {
		return fmt.Errorf("tpmkey: flush key: %w", err)
	}
	return nil
}

// Certify has the AK sign a statement that this key lives in the same TPM
// (TPM2_Certify), with nonce as qualifying data so the statement cannot be
// replayed. attest is the TPMS_ATTEST the AK signed; sig is the AK's
// TPMT_SIGNATURE over it.
func (k *Key) Certify(ak AK, nonce []byte) (attest, sig []byte, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, nil, ErrClosed
	}
	akh, err := load(k.t, ak.obj)
	if err != nil {
		return nil, nil, fmt.Errorf("tpmkey: certify: AK: %w", err)
	}
	defer flush(k.t, akh.Handle)
	rsp, err := tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: k.h.Handle, Name: k.h.Name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:     tpm2.AuthHandle{Handle: akh.Handle, Name: akh.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(k.t)
	if err != nil {
		return nil, nil, fmt.Errorf("tpmkey: certify: %w", err)
	}
	return rsp.CertifyInfo.Bytes(), tpm2.Marshal(rsp.Signature), nil
}
