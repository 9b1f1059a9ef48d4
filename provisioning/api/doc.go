// Package api serves the fleetgate provisioning API: versioned JSON routes
// over HTTPS for operators (register devices, issue and revoke their
// certificates, set group policies, make enrollment tokens, import factory
// batches, read the audit log) and for devices (enroll with a TPM or a
// token, rotate a certificate).
//
// # Basics
//
// New ties the registry (store) and the CA together; Handler returns the
// routes and TLSConfig the server side TLS settings. Operator routes need a
// verified operator client certificate; the operator's name and the remote
// address become the store.Actor of every change, so the audit log says who
// did what from where. Every body is a type of package wire, which the
// clients (package client for operators, package enroll for devices) share;
// registry records become wire types in one place (records.go). Errors
// have one shape, {"error":{"code":...,"message":...}}, and one mapping
// from sentinel errors to HTTP status and code (errors.go).
//
// Device routes:
//
//	POST /v1/enroll/tpm/start   EK certificate (or pre-registered EK public) + AK -> credential + nonce
//	POST /v1/enroll/tpm/finish  activated secret + Certify of the new key + CSR  -> certificate
//	POST /v1/enroll/token       one-time token + CSR of a software key           -> certificate
//	POST /v1/rotate/start       (mTLS, current certificate)                      -> nonce
//	POST /v1/rotate/finish      (mTLS) Certify with the enrollment AK + CSR, or a CSR alone
//
// Enrollment needs no client certificate: the TPM's proof or the token is
// the credential. Each refusal carries its own wire.Code
// (nonce_mismatch, ek_untrusted, token_replayed, ...) and is logged with
// the device and the code; the message names the check but not the values
// compared (enroll_errors.go).
//
// # Caveats
//
// A request refused for bad input changes nothing in the registry: a
// certificate request is checked in full (CSR, lifetime, device state,
// and on the TPM path every attestation check) before a serial number is
// allocated. The token path is the exception: a token is judged in the
// transaction that records the certificate, so that one token can never
// yield two, and a refused token costs a serial (nothing else).
//
// EK trust is Config.EKRoots (and EKIntermediates). Without roots, only
// devices whose EK public hash the factory pre-registered can enroll, by
// sending the EK public area. Either way the EK must be on the device's
// allow-list entry (store.Device.EKHash, set by import).
//
// Run the handler behind Server (or an http.Server whose TLSConfig is
// TLSConfig, leaving Certificates empty), so that the server certificate is
// read from the CA on every handshake. The handshake trusts both the
// operator CA and the device intermediates (issuing and trusted); the
// routes verify again which one they need.
//
// SetCA swaps in a CA loaded again from its directory (a rotated
// intermediate, a renewed server certificate) and SetDefaultLifetime a new
// default lifetime, both while serving: Server's TLS settings follow SetCA
// at every handshake, open connections stay open, and each request uses
// one CA throughout.
package api
