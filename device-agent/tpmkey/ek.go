package tpmkey

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// EK is the TPM's endorsement key as the enrollment request carries it. It
// holds no TPM handle: the EK is re-created from its template when needed
// and flushed at once, because object slots are few and the EK is only used
// to activate a credential.
type EK struct {
	// Kind is the template the EK was derived from.
	Kind EKKind
	// Cert is the manufacturer's EK certificate (DER) from NV, nil if the
	// TPM has none for this kind (simulators).
	Cert []byte
	// Public is the EK public area as TPM2B_PUBLIC bytes.
	Public []byte
}

// PublicKey returns the EK public key (*rsa.PublicKey or *ecdsa.PublicKey).
func (e EK) PublicKey() (crypto.PublicKey, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](e.Public)
	if err != nil {
		return nil, fmt.Errorf("tpmkey: EK public: %w", err)
	}
	contents, err := pub.Contents()
	if err != nil {
		return nil, fmt.Errorf("tpmkey: EK public: %w", err)
	}
	return tpm2.Pub(*contents)
}

// ReadEK returns the first EK, in the order ECC P-256, ECC P-384, RSA-2048,
// whose certificate is in NV. If the TPM holds no EK certificate at all, it
// returns the first kind the TPM can create, with a nil Cert. The choice is
// deterministic, which is what lets Activate find the same EK again.
func ReadEK(t transport.TPM) (EK, error) {
	t = withRetry(t)
	kind, err := defaultEKKind(t)
	if err != nil {
		return EK{}, err
	}
	return ReadEKKind(t, kind)
}

// defaultEKKind makes ReadEK's choice without deriving more EKs than needed.
func defaultEKKind(t transport.TPM) (EKKind, error) {
	for _, kind := range ekKinds {
		ok, err := hasEKCert(t, kind.CertIndex())
		if err != nil {
			return 0, err
		}
		if ok {
			return kind, nil
		}
	}
	var errs []error
	for _, kind := range ekKinds {
		h, err := createEK(t, kind)
		if err == nil {
			flush(t, h.Handle)
			return kind, nil
		}
		errs = append(errs, err)
	}
	return 0, fmt.Errorf("%w: %w", ErrNoEK, errors.Join(errs...))
}

// ReadEKKind returns the EK of the given kind and its certificate, if any.
func ReadEKKind(t transport.TPM, kind EKKind) (EK, error) {
	t = withRetry(t)
	cert, err := readEKCert(t, kind.CertIndex())
	if err != nil {
		return EK{}, err
	}
	return readEK(t, kind, cert)
}

// readEK derives the EK of the kind and checks it against cert. A cert Go
// cannot parse is passed on unchecked: the server's verifier is the judge.
func readEK(t transport.TPM, kind EKKind, cert []byte) (EK, error) {
	h, err := createEK(t, kind)
	if err != nil {
		return EK{}, err
	}
	defer flush(t, h.Handle)
	ek := EK{Kind: kind, Cert: cert, Public: tpm2.Marshal(h.public)}
	if cert == nil {
		return ek, nil
	}
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return ek, nil
	}
	got, err := ek.PublicKey()
	if err != nil {
		return EK{}, err
	}
	want, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !want.Equal(got) {
		return EK{}, fmt.Errorf("%w: kind %v, NV index %#x", ErrEKMismatch, kind, uint32(kind.CertIndex()))
	}
	return ek, nil
}

// loadedEK is a transient EK handle with the public area it was made with.
type loadedEK struct {
	tpm2.NamedHandle
	public tpm2.TPM2BPublic
	tmpl   tpm2.TPMTPublic
}

// createEK derives the EK of the kind in the endorsement hierarchy (empty
// endorsement auth, the factory default). The caller flushes it.
func createEK(t transport.TPM, kind EKKind) (loadedEK, error) {
	tmpl, err := kind.template()
	if err != nil {
		return loadedEK{}, err
	}
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHEndorsement,
		InPublic:      tpm2.New2B(tmpl),
	}.Execute(t)
	if err != nil {
		return loadedEK{}, fmt.Errorf("%w: create %v EK: %w", ErrNoEK, kind, err)
	}
	return loadedEK{
		NamedHandle: tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		public:      rsp.OutPublic,
		tmpl:        tmpl,
	}, nil
}

// flush unloads a transient object. Its error is dropped: a flush fails only
// when the handle is already gone, and the caller's own result matters more.
func flush(t transport.TPM, h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(t)
}
