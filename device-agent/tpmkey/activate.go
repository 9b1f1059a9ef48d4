package tpmkey

import (
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Activate recovers the secret the server sealed to the EK ReadEK chooses
// and the AK's name (TPM2_ActivateCredential). The TPM releases it only if
// the EK is its own and the AK with that exact name is loaded in it, which
// is the whole proof the server asked for.
func Activate(t transport.TPM, ak AK, credBlob, encSecret []byte) ([]byte, error) {
	t = withRetry(t)
	kind, err := defaultEKKind(t)
	if err != nil {
		return nil, err
	}
	return activate(t, kind, ak, credBlob, encSecret)
}

// Activate is the package-level Activate with this EK's kind, for agents
// that chose the EK themselves (ReadEKKind).
func (e EK) Activate(t transport.TPM, ak AK, credBlob, encSecret []byte) ([]byte, error) {
	return activate(t, e.Kind, ak, credBlob, encSecret)
}

func activate(t transport.TPM, kind EKKind, ak AK, credBlob, encSecret []byte) ([]byte, error) {
	t = withRetry(t)
	akh, err := load(t, ak.obj)
	if err != nil {
		return nil, fmt.Errorf("tpmkey: activate: AK: %w", err)
	}
	defer flush(t, akh.Handle)
	ek, err := createEK(t, kind)
	if err != nil {
		return nil, fmt.Errorf("tpmkey: activate: %w", err)
	}
	// The EK goes as soon as the secret is out: object slots are few.
	defer flush(t, ek.Handle)
	rsp, err := tpm2.ActivateCredential{
		ActivateHandle: tpm2.AuthHandle{Handle: akh.Handle, Name: akh.Name, Auth: tpm2.PasswordAuth(nil)},
		KeyHandle:      tpm2.AuthHandle{Handle: ek.Handle, Name: ek.Name, Auth: ekAuth(ek.tmpl)},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: credBlob},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: encSecret},
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("tpmkey: activate credential: %w", err)
	}
	return rsp.CertInfo.Buffer, nil
}

// ekAuth authorises use of the EK. Low-range templates clear userWithAuth,
// so only their policy, PolicySecret(TPM_RH_ENDORSEMENT), opens them;
// high-range templates set userWithAuth with an empty auth value, which a
// password session satisfies without walking their PolicyOR.
func ekAuth(tmpl tpm2.TPMTPublic) tpm2.Session {
	if tmpl.ObjectAttributes.UserWithAuth {
		return tpm2.PasswordAuth(nil)
	}
	return tpm2.Policy(tmpl.NameAlg, 16, func(t transport.TPM, h tpm2.TPMISHPolicy, nonce tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicySecret{
			AuthHandle:    tpm2.TPMRHEndorsement,
			PolicySession: h,
			NonceTPM:      nonce,
		}.Execute(t)
		return err
	})
}
