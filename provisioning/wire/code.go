package wire

// Code is the stable name of a refusal, the Code of an ErrorDetail. Each
// one names a single check, so a script, a device agent or an operator
// reading the server log knows what went wrong without parsing messages.
type Code string

// Codes shared by the operator and the device routes.
const (
	CodeBadRequest      Code = "bad_request"     // the request is malformed or its input invalid
	CodeUnauthenticated Code = "unauthenticated" // no acceptable client certificate (operator, or active device for rotation)
	CodeNotFound        Code = "not_found"       // unknown device, certificate, challenge or route
	CodeExists          Code = "exists"          // the device ID is taken
	CodePolicy          Code = "policy"          // the group's enrollment policy forbids this (e.g. tokens for a group that requires a TPM)
	CodeInternal        Code = "internal"        // the server failed; retry later, the server log has the details
)

// Codes of the operator routes only.
const (
	// CodeInvalidState: the record's state does not allow the change (a
	// suspended device is not issued certificates, a revocation is final).
	CodeInvalidState Code = "invalid_state"
	// CodeForbidden: the operator's certificate carries the read-only
	// role and the request would change something.
	CodeForbidden Code = "forbidden"
	// CodeCSRF: a browser request that would change something came without
	// the console's CSRF token or from another site.
	CodeCSRF Code = "csrf"
)

// Codes of the enrollment and rotation routes: credential activation and
// certification (finish and rotation).
const (
	CodeNonceMismatch  Code = "nonce_mismatch"        // Certify was not made with this challenge's nonce
	CodeSecretMismatch Code = "secret_mismatch"       // the activated secret is wrong: the credential was not activated by the EK's TPM with this AK
	CodeNameMismatch   Code = "name_mismatch"         // the AK certified another key than the public area sent
	CodeAKSignature    Code = "ak_signature"          // the AK's signature over the attestation does not verify
	CodeAttestation    Code = "attestation_malformed" // the attestation, signature or public area does not parse, or is not a Certify statement
	CodeKeyAttributes  Code = "key_attributes"        // the certified key could leave the TPM, is restricted, or is not ECC P-256 signing
	CodeAKAttributes   Code = "ak_attributes"         // the AK is not a restricted, fixedTPM signing key
	CodeCSRSignature   Code = "csr_signature"         // the CSR is not signed by its own key
	CodeCSRKeyMismatch Code = "csr_key_mismatch"      // the CSR's key is not the certified key
)

// Codes of the enrollment routes: the endorsement key (start).
const (
	CodeEKUntrusted  Code = "ek_untrusted"   // the EK certificate does not chain to a configured manufacturer root
	CodeEKNotAllowed Code = "ek_not_allowed" // the EK is not on the factory allow-list for this device
)

// Codes of the enrollment routes: single-use challenges and tokens, and
// the device's state.
const (
	CodeChallengeExpired  Code = "challenge_expired"  // start again
	CodeChallengeReplayed Code = "challenge_replayed" // this challenge was already used
	CodeTokenInvalid      Code = "token_invalid"      // no such token
	CodeTokenExpired      Code = "token_expired"      // the token's lifetime is over
	CodeTokenReplayed     Code = "token_replayed"     // the token was already used
	CodeDeviceNotActive   Code = "device_not_active"  // the device is suspended or revoked
)

// ErrorBody is the body of every refused request, on every route:
// {"error":{"code":...,"message":...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the stable code and the human message of a refusal.
type ErrorDetail struct {
	Code    Code   `json:"code"`
	Message string `json:"message"` // for people; branch on Code
}
