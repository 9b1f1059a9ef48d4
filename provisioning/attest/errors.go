package attest

import "errors"

// ErrMalformed is returned for input that does not parse: a public area,
// attestation, signature, name or certificate with bad encoding. Parsers
// accept only canonical encodings, so two different byte strings never
// stand for the same structure.
var ErrMalformed = errors.New("attest: malformed input")

// ErrEKUntrusted is returned when the EK certificate does not chain to a
// configured manufacturer root, is expired, is a CA, or carries a critical
// extension other than the TPM subject alternative name.
var ErrEKUntrusted = errors.New("attest: EK certificate not trusted")

// ErrEKKey is returned for an EK public key of a type or size for which no
// TCG EK template is supported (see the package doc).
var ErrEKKey = errors.New("attest: unsupported EK key")

// ErrAKAttributes is returned for an AK that is not a restricted, fixedTPM,
// fixedParent, sensitiveDataOrigin signing-only key with a supported
// algorithm: such a key could sign statements the TPM did not make.
var ErrAKAttributes = errors.New("attest: AK attributes refused")

// ErrSecretMismatch is returned when the activation secret the device sent
// back differs from the one sealed in the challenge.
var ErrSecretMismatch = errors.New("attest: activation secret mismatch")

// ErrAttestMagic is returned when the attestation does not start with
// TPM_GENERATED_VALUE, i.e. was not produced by a TPM.
var ErrAttestMagic = errors.New("attest: attestation magic is not TPM_GENERATED")

// ErrAttestType is returned when the attestation is not a TPM2_Certify
// statement (TPM_ST_ATTEST_CERTIFY).
var ErrAttestType = errors.New("attest: attestation is not a certify statement")

// ErrAKSignature is returned when the AK's signature over the attestation
// does not verify.
var ErrAKSignature = errors.New("attest: AK signature invalid")

// ErrNonceMismatch is returned when the attestation's qualifying data is
// not this enrollment's nonce: a replayed or foreign statement.
var ErrNonceMismatch = errors.New("attest: nonce mismatch")

// ErrNameMismatch is returned when the name the AK certified is not the name
// of the public area presented as the device key.
var ErrNameMismatch = errors.New("attest: certified name mismatch")

// ErrKeyAttributes is returned for a device key that could leave the TPM
// (not fixedTPM, fixedParent and sensitiveDataOrigin), is restricted, can
// decrypt, cannot sign, has a weak name algorithm, or is not ECC P-256.
var ErrKeyAttributes = errors.New("attest: device key attributes refused")

// ErrCSRSignature is returned when the CSR's self-signature does not verify.
var ErrCSRSignature = errors.New("attest: CSR signature invalid")

// ErrCSRKeyMismatch is returned when the CSR's public key is not the key the
// AK certified.
var ErrCSRKeyMismatch = errors.New("attest: CSR key is not the attested key")
