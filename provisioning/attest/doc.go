// Package attest is the server half of TPM-attested enrollment: it verifies
// EK certificates, checks and names attestation keys (AKs), makes the
// credential challenge that only the TPM holding both the EK and the AK can
// answer, and verifies the AK's certification of the device's TLS key and
// the CSR signed with it. It is pure Go and needs no TPM.
//
// # Basics
//
// The enrollment handler calls, in order:
//
//	ekCert, err := attest.VerifyEKCertificate(req.EKCert, manufacturerRoots, now)
//	hash, err := attest.EKHash(ekCert.PublicKey)   // look up the factory allow-list
//	ak, err := attest.ParseAK(req.AKPublic)
//	ch, err := attest.MakeCredential(ekCert.PublicKey, ak.Name)
//	// store ch.Secret and a fresh nonce; send ch.CredBlob, ch.EncSecret, nonce
//	err = attest.VerifyActivation(stored.Secret, resp.Secret)
//	key, err := attest.VerifyCertify(ak, resp.KeyPublic, resp.Attest, resp.Sig, stored.Nonce)
//	err = attest.VerifyCSR(csr, key)
//
// Every refusal wraps one sentinel error (errors.go), so the HTTP layer can
// map each to its own code and the log can say which check failed.
//
// Public areas are TPM2B_PUBLIC bytes (two-byte size, then TPMT_PUBLIC). A
// Name is the TPM's: the two-byte name algorithm followed by the digest of
// the TPMT_PUBLIC bytes, computed here over the bytes received, never over a
// re-encoding.
//
// # Caveats
//
// The EK public key used for the challenge must come from the verified EK
// certificate, never from the request: the challenge proves possession of
// the certified EK only if it is encrypted to that key.
//
// Supported EKs are those of the TCG EK Credential Profile templates RSA-2048
// (SHA-256, AES-128), ECC P-256 (SHA-256, AES-128) and ECC P-384 (SHA-384,
// AES-256); the template's name algorithm and cipher are inferred from the
// key in the certificate.
package attest
