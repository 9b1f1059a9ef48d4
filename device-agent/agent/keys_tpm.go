package agent

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// tpmKeys keeps every key in the TPM. A TPM without a resource manager
// (swtpm, simulators) holds about three objects, so mu serialises this
// agent's TPM work and at most one of its keys stays loaded: the TLS key,
// unloaded while enrollment or rotation needs the slots and loaded again
// by the next signature.
type tpmKeys struct {
	deviceID string
	t        transport.TPM
	closer   io.Closer // nil when the caller owns the TPM
	log      *slog.Logger

	mu      sync.Mutex
	cur     *tpmkey.Key // the loaded TLS key, nil if none
	curBlob []byte
}

// openTPMKeys uses cfg.TPM or opens cfg.TPMPath.
func openTPMKeys(cfg Config, log *slog.Logger) (*tpmKeys, error) {
	k := &tpmKeys{deviceID: cfg.DeviceID, t: cfg.TPM, log: log}
	if k.t == nil {
		t, err := tpmkey.Open(cfg.TPMPath)
		if err != nil {
			return nil, err
		}
		k.t, k.closer = t, t
	}
	return k, nil
}

// unloadLocked flushes the TLS key, if loaded.
func (k *tpmKeys) unloadLocked() {
	if k.cur != nil {
		if err := k.cur.Close(); err != nil {
			k.log.Warn("flushing the TPM key failed", "err", err)
		}
		k.cur, k.curBlob = nil, nil
	}
}

func (k *tpmKeys) enroll(ctx context.Context, api *enroll.Client, prev *State) (*State, wire.Issued, error) {
	k.mu.Lock()
	k.unloadLocked()
	ak, err := k.ak(prev)
	var ek tpmkey.EK
	if err == nil {
		ek, err = tpmkey.ReadEK(k.t)
	}
	k.mu.Unlock()
	if err != nil {
		return nil, wire.Issued{}, err
	}

	req := wire.TPMStartRequest{DeviceID: k.deviceID, EKCert: ek.Cert, EKPublic: ek.Public, AKPublic: ak.Public()}
	start, err := api.StartTPM(ctx, req)
	if enroll.IsCode(err, wire.CodeEKUntrusted) && req.EKCert != nil {
		// The server trusts no root for this EK certificate; it may still
		// know the EK's hash from the factory line.
		k.log.Warn("the server does not trust the TPM's EK certificate; trying the pre-registered EK hash", "err", err)
		req.EKCert = nil
		start, err = api.StartTPM(ctx, req)
	}
	if err != nil {
		return nil, wire.Issued{}, err
	}

	k.mu.Lock()
	fin, blob, err := k.proveNewKey(ak, start.Nonce, func() ([]byte, error) {
		return ek.Activate(k.t, ak, start.CredentialBlob, start.EncryptedSecret)
	})
	k.mu.Unlock()
	if err != nil {
		return nil, wire.Issued{}, err
	}
	fin.ChallengeID = start.ChallengeID
	issued, err := api.FinishTPM(ctx, fin)
	if err != nil {
		return nil, wire.Issued{}, err
	}
	st := &State{DeviceID: k.deviceID, KeySource: KeyTPM, Key: blob, AK: ak.Blob(), Chain: []byte(issued.Chain)}
	return st, issued, nil
}

// ak reloads the AK of a previous enrollment, or makes a new one.
func (k *tpmKeys) ak(prev *State) (tpmkey.AK, error) {
	if prev != nil && prev.AK != nil {
		ak, err := tpmkey.LoadAK(k.t, prev.AK)
		if err == nil {
			return ak, nil
		}
		k.log.Warn("the stored AK does not load (TPM cleared?); making a new one", "err", err)
	}
	return tpmkey.CreateAK(k.t)
}

// proveNewKey makes (or, for a pending rotation, reloads) a key, has the AK
// certify it with nonce and signs a CSR with it. activate, if set, runs
// first: enrollment's credential activation. Called with mu held.
func (k *tpmKeys) proveNewKey(ak tpmkey.AK, nonce []byte, activate func() ([]byte, error)) (wire.TPMFinishRequest, []byte, error) {
	var fin wire.TPMFinishRequest
	k.unloadLocked()
	if activate != nil {
		secret, err := activate()
		if err != nil {
			return fin, nil, err
		}
		fin.Secret = secret
	}
	key, err := tpmkey.CreateKey(k.t)
	if err != nil {
		return fin, nil, err
	}
	defer key.Close()
	if err := k.certify(key, ak, nonce, &fin); err != nil {
		return fin, nil, err
	}
	return fin, key.Blob(), nil
}

// certify fills the proof fields of fin for key.
func (k *tpmKeys) certify(key *tpmkey.Key, ak tpmkey.AK, nonce []byte, fin *wire.TPMFinishRequest) error {
	attest, sig, err := key.Certify(ak, nonce)
	if err != nil {
		return err
	}
	csr, err := csrPEM(k.deviceID, key.Signer())
	if err != nil {
		return err
	}
	fin.KeyPublic, fin.Attestation, fin.Signature, fin.CSR = key.Public(), attest, sig, csr
	return nil
}

func (k *tpmKeys) newKey() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.unloadLocked()
	key, err := tpmkey.CreateKey(k.t)
	if err != nil {
		return nil, err
	}
	defer key.Close()
	return key.Blob(), nil
}

func (k *tpmKeys) rotate(ctx context.Context, mtls *enroll.Client, st *State, blob []byte) (wire.Issued, error) {
	if st.AK == nil {
		return wire.Issued{}, fmt.Errorf("%w: TPM state without an AK", ErrState)
	}
	ch, err := mtls.StartRotation(ctx)
	if err != nil {
		return wire.Issued{}, err
	}
	var fin wire.TPMFinishRequest
	err = func() error {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.unloadLocked()
		ak, err := tpmkey.LoadAK(k.t, st.AK)
		if err != nil {
			return err
		}
		key, err := tpmkey.LoadKey(k.t, blob)
		if err != nil {
			return err
		}
		defer key.Close()
		return k.certify(key, ak, ch.Nonce, &fin)
	}()
	if err != nil {
		return wire.Issued{}, err
	}
	return mtls.FinishRotation(ctx, wire.RotationRequest{
		ChallengeID: ch.ChallengeID, KeyPublic: fin.KeyPublic, Attestation: fin.Attestation,
		Signature: fin.Signature, CSR: fin.CSR,
	})
}

func (k *tpmKeys) signer(blob []byte, pub crypto.PublicKey) (crypto.Signer, error) {
	if pub == nil {
		return nil, fmt.Errorf("%w: a TPM key needs its certificate", ErrState)
	}
	return &tpmSigner{k: k, blob: blob, pub: pub}, nil
}

func (k *tpmKeys) close() error {
	k.mu.Lock()
	k.unloadLocked()
	k.mu.Unlock()
	if k.closer != nil {
		return k.closer.Close()
	}
	return nil
}

// tpmSigner signs with a TPM key, loading it when another of the agent's
// keys took its slot. Public comes from the certificate, so it answers
// without touching the TPM.
type tpmSigner struct {
	k    *tpmKeys
	blob []byte
	pub  crypto.PublicKey
}

// Public implements crypto.Signer.
func (s *tpmSigner) Public() crypto.PublicKey { return s.pub }

// Sign implements crypto.Signer.
func (s *tpmSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k := s.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil || !bytes.Equal(k.curBlob, s.blob) {
		k.unloadLocked()
		key, err := tpmkey.LoadKey(k.t, s.blob)
		if err != nil {
			return nil, err
		}
		if eq, ok := key.Signer().Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(s.pub) {
			key.Close()
			return nil, fmt.Errorf("%w: the certificate is not for the stored TPM key", ErrState)
		}
		k.cur, k.curBlob = key, s.blob
	}
	return k.cur.Signer().Sign(r, digest, opts)
}
