package tpmkey

import "errors"

// ErrPath is returned by Open for a TPM path it does not understand.
var ErrPath = errors.New("tpmkey: unsupported TPM path")

// ErrNoEK is returned when the TPM holds no EK of a kind this package knows,
// or the requested kind cannot be created.
var ErrNoEK = errors.New("tpmkey: no usable endorsement key")

// ErrEKMismatch is returned when the EK the TPM derives from the standard
// template is not the key named in the EK certificate stored in NV: the
// certificate would vouch for a different key than the one that activates.
var ErrEKMismatch = errors.New("tpmkey: EK certificate does not match the TPM's EK")

// ErrBlob is returned by LoadAK and LoadKey for a blob that is not a
// TPM2B_PUBLIC followed by a TPM2B_PRIVATE.
var ErrBlob = errors.New("tpmkey: malformed key blob")

// ErrClosed is returned by a Key used after Close.
var ErrClosed = errors.New("tpmkey: key is closed")

// ErrHash is returned by the Signer for a digest it cannot sign: only
// SHA-256, SHA-384 and SHA-512 digests of the right length are accepted.
var ErrHash = errors.New("tpmkey: unsupported digest")

// ErrKeyType is returned when a loaded blob or a TPM answer holds a key that
// is not the ECC P-256 key the caller expects.
var ErrKeyType = errors.New("tpmkey: unexpected key type")
