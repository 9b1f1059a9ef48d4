package wire

import "time"

// TPMStartRequest is the body of POST PathTPMStart.
type TPMStartRequest struct {
	// DeviceID names the pre-registered device. Empty: the server finds
	// the device by the EK's hash in its factory allow-list.
	DeviceID string `json:"device_id"`
	// EKCert is the manufacturer's EK certificate (DER), as read from the
	// TPM's NV. The server takes the EK public key from it, never from
	// EKPublic, once it verified it against the manufacturer roots.
	EKCert []byte `json:"ek_cert,omitempty"`
	// EKPublic is the EK public area (TPM2B_PUBLIC), for TPMs without an
	// EK certificate. Accepted only if its hash was pre-registered.
	EKPublic []byte `json:"ek_public,omitempty"`
	// AKPublic is the attestation key's public area (TPM2B_PUBLIC).
	AKPublic []byte `json:"ak_public"`
}

// TPMStartResponse is the answer of POST PathTPMStart: a credential for
// TPM2_ActivateCredential and the nonce to certify the new key with. Both
// are single-use and expire at ExpiresAt.
type TPMStartResponse struct {
	ChallengeID     string    `json:"challenge_id"`
	CredentialBlob  []byte    `json:"credential_blob"`  // TPM2B_ID_OBJECT contents
	EncryptedSecret []byte    `json:"encrypted_secret"` // TPM2B_ENCRYPTED_SECRET contents
	Nonce           []byte    `json:"nonce"`            // 32 bytes, Certify qualifying data
	ExpiresAt       time.Time `json:"expires_at"`
}

// TPMFinishRequest is the body of POST PathTPMFinish; the answer is an
// Issued.
type TPMFinishRequest struct {
	ChallengeID string `json:"challenge_id"`
	// Secret is what TPM2_ActivateCredential returned.
	Secret []byte `json:"secret"`
	// KeyPublic is the new key's public area (TPM2B_PUBLIC).
	KeyPublic []byte `json:"key_public"`
	// Attestation is the TPMS_ATTEST of TPM2_Certify over the new key,
	// made by the AK with the nonce as qualifying data.
	Attestation []byte `json:"attestation"`
	// Signature is the AK's TPMT_SIGNATURE over Attestation.
	Signature []byte `json:"signature"`
	// CSR is a PEM certificate signing request signed by the new key.
	CSR string `json:"csr"`
}

// TokenRequest is the body of POST PathToken: a device of a group that
// allows software keys enrolls with a one-time token. The answer is an
// Issued.
type TokenRequest struct {
	Token    string `json:"token"`
	DeviceID string `json:"device_id"`
	// CSR is a PEM certificate signing request for an ECDSA P-256 or P-384
	// key.
	CSR string `json:"csr"`
}

// RotationChallenge is the answer of POST PathRotationStart: the nonce a
// TPM device certifies its new key with.
type RotationChallenge struct {
	ChallengeID string    `json:"challenge_id"`
	Nonce       []byte    `json:"nonce"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// RotationRequest is the body of POST PathRotationFinish. TPM devices send
// the challenge and the Certify fields, made with the AK remembered from
// enrollment; software-key devices send only the CSR. The answer is an
// Issued.
type RotationRequest struct {
	ChallengeID string `json:"challenge_id,omitempty"`
	KeyPublic   []byte `json:"key_public,omitempty"`
	Attestation []byte `json:"attestation,omitempty"`
	Signature   []byte `json:"signature,omitempty"`
	CSR         string `json:"csr"`
}
