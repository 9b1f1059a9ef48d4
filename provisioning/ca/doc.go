// Package ca is the fleet's certificate authority: it creates and loads the
// CA material on disk, signs device certificates from CSRs, and issues
// operator client certificates.
//
// # Basics
//
// A CA directory holds five key pairs:
//
//   - root: a self-signed ECDSA P-256 root (10 years, path length 1). Clients
//     trust it to verify the server, and it signs the device CA and the
//     server certificate.
//   - device-ca: an intermediate under the root (5 years, path length 0,
//     clientAuth only). It signs device certificates and nothing else, and it
//     is the only certificate in the broker's client CA pool, so a
//     certificate signed directly by the root never passes as a device.
//   - server: the TLS server certificate for the broker and the API (1 year,
//     serverAuth only), renewed by Bootstrap when fewer than 30 days remain.
//   - operator-ca: a separate self-signed CA for operator client
//     certificates. Keeping it apart from the root means a device
//     certificate can never act as an operator, nor an operator certificate
//     as a device.
//   - admin: the first operator's client certificate, written once when the
//     operator CA is created, for the person who installs the server.
//
// Older device intermediates may be listed in trusted-device-cas.crt
// (TrustedDeviceCAsFile): the broker and the rotation route still accept
// device certificates that chain to them, and nothing issues from them.
// RotateIntermediate replaces the issuing intermediate and moves the old
// one there; RetireIntermediate removes one; RenewServer reissues the
// server certificate. These are offline file operations, ordered so that a
// crash leaves a directory Load accepts; a running server picks them up by
// loading the directory again.
//
// Device certificates take their identity from the device ID the caller
// passes (from the registry), never from the CSR: only the CSR's public key
// is used. The store allocates serial numbers; this package does not import
// it.
//
// # Caveats
//
// Bootstrap never overwrites a private key. A directory where some CA files
// are missing is refused with ErrIncomplete, naming the files, because
// creating a new root or intermediate next to surviving material would
// silently orphan every certificate issued before. Restore such a directory
// from a backup.
//
// A CA is immutable once loaded and safe for concurrent use. To change the
// material of a running server, Load the directory again and swap the new
// CA in; the old one keeps working for whoever still holds it.
//
// Commands that change files (RotateIntermediate, RetireIntermediate,
// RenewServer) must not run concurrently with one another on the same
// directory; Load may run at any time.
package ca
