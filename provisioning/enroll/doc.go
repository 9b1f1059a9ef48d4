// Package enroll is the device side of the fleetgate enrollment protocol:
// a Go client for the enrollment and rotation routes of the provisioning
// API, speaking the types of package wire. The device agent and the fleet
// simulator use it.
//
// # Basics
//
// A device with a TPM enrolls in two calls. StartTPM sends the EK
// certificate (or, for a TPM without one, the EK public area whose hash
// was pre-registered) and the AK public area; the answer is a credential
// only that TPM can activate and a fresh nonce. FinishTPM sends the
// activated secret, the AK's certification of a new TPM-held key (made
// with the nonce), the key's public area and a CSR signed by that key; the
// answer is the device certificate and its chain.
//
// A device of a group that allows software keys enrolls with one call,
// EnrollToken, presenting a one-time token and a CSR.
//
// Rotation runs over mutual TLS with the device's current certificate
// (WithClientCertificate): StartRotation returns a nonce for a TPM device,
// FinishRotation sends the new key's certification and CSR (or the CSR
// alone for a software key). Retrying FinishRotation after a lost reply
// returns the certificate already issued for that key instead of a second
// one.
//
// # Errors
//
// A refusal comes back as an *Error with the HTTP status and a wire.Code,
// which names the check that failed; IsCode branches on it.
// A request that got no answer (nothing listening, TLS refused, timeout)
// wraps ErrUnreachable, so an agent can tell "provisioning is down, retry
// later" from "refused, do something else".
//
// # Caveats
//
// The package imports only the standard library and package wire: it holds
// no server code, no registry and no TPM library, so the agent cross-built
// for small ARM boards stays small (a test enforces this). The byte-slice fields carry TPM structures as the
// TPM produced them (TPM2B_PUBLIC, TPMS_ATTEST, TPMT_SIGNATURE); JSON
// encodes them as standard base64.
package enroll
