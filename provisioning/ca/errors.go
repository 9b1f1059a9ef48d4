package ca

import "errors"

var (
	// ErrBadCSR means a certificate signing request could not be used: it is
	// not PEM or DER, its signature does not verify, its key type or size is
	// not accepted, or it carries trailing data. The wrapping error says
	// which.
	ErrBadCSR = errors.New("bad certificate signing request")

	// ErrBadIdentity means a device ID or operator name is not acceptable. It
	// is returned together with identity.ErrInvalidID, so callers may test
	// for either.
	ErrBadIdentity = errors.New("bad identity")

	// ErrIncomplete means a CA directory holds some CA files but misses
	// others that cannot be recreated safely. The wrapping error names the
	// missing files.
	ErrIncomplete = errors.New("incomplete CA directory")

	// ErrCorrupt means a CA file could not be parsed, or the files do not
	// belong together (a key does not match its certificate, or a
	// certificate was not signed by the CA it should be).
	ErrCorrupt = errors.New("corrupt CA material")

	// ErrBadSerial means a serial number is nil, not positive, or longer
	// than the 20 octets RFC 5280 allows.
	ErrBadSerial = errors.New("bad serial number")

	// ErrBadLifetime means a requested certificate lifetime exceeds the
	// maximum for its kind.
	ErrBadLifetime = errors.New("bad certificate lifetime")

	// ErrExpired means the signing CA certificate has expired (or is not yet
	// valid), so it cannot issue anything.
	ErrExpired = errors.New("CA certificate not valid now")

	// ErrNotOperator means a certificate does not carry exactly one operator
	// identity URI SAN, or is not an operator client certificate.
	ErrNotOperator = errors.New("not an operator certificate")

	// ErrBadServerName means a name given for the server certificate is
	// empty or holds characters no DNS name or IP address can hold.
	ErrBadServerName = errors.New("bad server name")

	// ErrNoSuchIntermediate means no trusted device intermediate has the
	// serial number given.
	ErrNoSuchIntermediate = errors.New("no such device intermediate")

	// ErrIssuingIntermediate means the intermediate named is the one that
	// issues device certificates now; it cannot be retired before another
	// one has replaced it.
	ErrIssuingIntermediate = errors.New("intermediate is the issuing one")

	// ErrNoCAKey means the CA was loaded from a broker bundle, which holds
	// no CA private key: it serves and verifies, but signs nothing.
	ErrNoCAKey = errors.New("no CA private key here (broker bundle)")

	// ErrNotBundleDir means a directory given for a broker bundle holds
	// files that are not part of one, so writing the bundle there could mix
	// it with other material. The wrapping error names the files.
	ErrNotBundleDir = errors.New("not a broker bundle directory")

	// ErrBadPublicURL means a public base URL for revocation is not an
	// absolute http(s) URL with a host and without query or fragment.
	ErrBadPublicURL = errors.New("bad public URL")
)
