package enroll

import (
	"errors"
	"fmt"
)

// ErrUnreachable means the request got no answer: nothing listening, the
// TLS handshake failed, the connection broke or the context ended first.
// The agent retries later; a refusal is an *Error instead.
var ErrUnreachable = errors.New("enroll: provisioning service unreachable")

// Error is a refusal answered by the server.
type Error struct {
	Status  int    // HTTP status code
	Code    string // one of the Code constants: which check failed
	Message string // for people; scripts branch on Code
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("enroll: refused: %s (HTTP %d)", e.Code, e.Status)
	}
	return fmt.Sprintf("enroll: refused: %s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// IsCode reports whether err is (or wraps) a refusal with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Codes of Error.Code. Each names one check, so a refused device (and its
// operator, in the server log) knows what went wrong.
const (
	// Credential activation and certification (finish and rotation).
	CodeNonceMismatch  = "nonce_mismatch"        // Certify was not made with this challenge's nonce
	CodeSecretMismatch = "secret_mismatch"       // the activated secret is wrong: the credential was not activated by the EK's TPM with this AK
	CodeNameMismatch   = "name_mismatch"         // the AK certified another key than the public area sent
	CodeAKSignature    = "ak_signature"          // the AK's signature over the attestation does not verify
	CodeAttestation    = "attestation_malformed" // the attestation, signature or public area does not parse, or is not a Certify statement
	CodeKeyAttributes  = "key_attributes"        // the certified key could leave the TPM, is restricted, or is not ECC P-256 signing
	CodeAKAttributes   = "ak_attributes"         // the AK is not a restricted, fixedTPM signing key
	CodeCSRSignature   = "csr_signature"         // the CSR is not signed by its own key
	CodeCSRKeyMismatch = "csr_key_mismatch"      // the CSR's key is not the certified key

	// The endorsement key (start).
	CodeEKUntrusted  = "ek_untrusted"   // the EK certificate does not chain to a configured manufacturer root
	CodeEKNotAllowed = "ek_not_allowed" // the EK is not on the factory allow-list for this device

	// Single-use challenges and tokens.
	CodeChallengeExpired  = "challenge_expired"  // start again
	CodeChallengeReplayed = "challenge_replayed" // this challenge was already used
	CodeTokenInvalid      = "token_invalid"      // no such token
	CodeTokenExpired      = "token_expired"      // the token's lifetime is over
	CodeTokenReplayed     = "token_replayed"     // the token was already used

	// Registry state and policy.
	CodePolicy          = "policy"            // the group's policy forbids this path (e.g. it requires a TPM)
	CodeNotFound        = "not_found"         // unknown device or challenge
	CodeExists          = "exists"            // the device ID is taken (token enrollment)
	CodeDeviceNotActive = "device_not_active" // the device is suspended or revoked

	// Generic.
	CodeBadRequest      = "bad_request"     // the request is malformed
	CodeUnauthenticated = "unauthenticated" // rotation without a valid, active device certificate
	CodeInternal        = "internal"        // the server failed; retry later
)
