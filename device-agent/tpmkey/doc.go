// Package tpmkey is the device half of TPM-attested enrollment: it reads the
// endorsement key (EK) and its certificate, creates and reloads the
// attestation key (AK), answers the server's credential challenge, and makes
// the device's TLS key inside the TPM, certified by the AK and usable as a
// crypto.Signer.
//
// # Basics
//
// Open returns a transport for "/dev/tpmrm0" (or any TPM character device)
// or "tcp://host:port" (swtpm or the reference simulator). The enrollment
// flow on the device is:
//
//	ek, _ := tpmkey.ReadEK(t)               // send ek.Cert and ak.Public()
//	ak, _ := tpmkey.CreateAK(t)             // keep ak.Blob() for rotation
//	secret, _ := tpmkey.Activate(t, ak, credBlob, encSecret)
//	key, _ := tpmkey.CreateKey(t)           // keep key.Blob()
//	attest, sig, _ := key.Certify(ak, nonce)
//	csr, _ := x509.CreateCertificateRequest(rand.Reader, tmpl, key.Signer())
//
// Public areas cross the wire as TPM2B_PUBLIC bytes (a two-byte size, then
// the TPMT_PUBLIC the TPM hashes into the object's Name), exactly as the TPM
// returns them, so the server hashes the very bytes the TPM certified.
//
// # Caveats
//
// All keys live under the TCG-standard ECC P-256 storage root key (SRK,
// tpm2.ECCSRKTemplate in the owner hierarchy, empty owner auth), which is
// re-created on demand rather than persisted: the same template always yields
// the same key, and nothing is written to the TPM's NV memory.
//
// Objects are loaded only while used, except a Key, which stays loaded until
// Close because it signs every TLS handshake. A TPM without a resource
// manager (swtpm, the simulator; not /dev/tpmrm0) has about three object
// slots: keep at most one Key open there while calling Certify or Activate.
//
// Every command the TPM answers with TPM_RC_RETRY, TPM_RC_YIELDED or
// TPM_RC_TESTING is sent again (swtpm answers the first ActivateCredential
// with its P-384 EK with TPM_RC_RETRY).
//
// Transports from Open serialise commands, so a Key's Signer may be used by
// concurrent TLS handshakes. A transport obtained elsewhere (a test
// simulator) must be used by one goroutine at a time, or through one Key.
//
// The package is pure Go (no cgo) so the agent cross-builds for ARM.
package tpmkey
