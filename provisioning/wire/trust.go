package wire

import "time"

// PathTrustBundle serves the signed trust bundle (GET, answer TrustBundle)
// to devices, authenticated by their current certificate.
const PathTrustBundle = "/v1/trust-bundle"

// TrustBundleAlgorithm is the one signature algorithm of a TrustBundle:
// ECDSA over the SHA-256 of Payload, the signature ASN.1-encoded as in
// X.509 (every fleetgate root is ECDSA P-256).
const TrustBundleAlgorithm = "ECDSA-SHA256"

// TrustBundle is the answer of GET PathTrustBundle and the form in which
// a device keeps it: the roots devices trust to verify the broker and the
// API, signed so that a device accepts them only from a key it already
// trusts.
//
// A device verifies it in this order, and refuses it at the first failure:
//
//  1. Payload decodes as TrustBundleContent, and its Roots as one or more
//     PEM CA certificates;
//  2. one certificate of Signer holds the key under which Signature
//     verifies Payload by Algorithm;
//  3. that certificate verifies (crypto/x509, at the device's time)
//     against the roots the device already trusts: it is one of them (the
//     current root, self-signed), or a cross-certificate of the current
//     root signed by a root the device trusts (during a root rollover);
//  4. the signing key is the key of one of Roots, so the next bundle
//     verifies under the roots this one installs;
//  5. Sequence is greater than that of the bundle the device holds (or
//     equal, with the identical Payload: nothing new).
type TrustBundle struct {
	// Payload is the JSON of a TrustBundleContent: the signed bytes,
	// carried as they were signed (standard base64 in JSON).
	Payload []byte `json:"payload"`
	// Algorithm is TrustBundleAlgorithm.
	Algorithm string `json:"algorithm"`
	// Signature signs Payload with the current root's key.
	Signature []byte `json:"signature"`
	// Signer is PEM: the current root certificate and, during a root
	// rollover, the cross-certificate of the current root's key signed by
	// the previous root.
	Signer string `json:"signer"`
}

// TrustBundleContent is what a TrustBundle's Payload says.
type TrustBundleContent struct {
	// Sequence grows by one with every bundle the CA writes.
	Sequence uint64 `json:"sequence"`
	// IssuedAt is when the CA wrote the bundle.
	IssuedAt time.Time `json:"issued_at"`
	// Roots is PEM: the roots in force, the current one first; during a
	// root rollover the previous root follows.
	Roots string `json:"roots"`
}
