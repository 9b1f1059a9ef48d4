package trustbundle

import "errors"

var (
	// ErrMalformed means a bundle does not decode: bad JSON, an unknown
	// algorithm, no root, a root that is not a CA certificate, or a
	// signing key that is none of its roots. The wrapping error says which.
	ErrMalformed = errors.New("malformed trust bundle")

	// ErrUnknownSigner means the bundle's signature does not verify under
	// a key that chains to the roots the verifier trusts: it was signed by
	// someone else, or altered.
	ErrUnknownSigner = errors.New("trust bundle not signed by a trusted root")

	// ErrStale means the bundle is older than the one the verifier holds
	// (a smaller sequence number), or claims the same sequence number with
	// other contents: a replay or a forgery.
	ErrStale = errors.New("trust bundle older than the one held")
)
