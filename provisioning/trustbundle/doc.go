// Package trustbundle signs and verifies the trust bundle (wire.TrustBundle):
// the roots devices trust, signed by the current root so that a device
// learns a new root from a key it already trusts, without a site visit.
//
// # Basics
//
// The CA signs a bundle with Sign whenever the roots in force change (a
// root rollover begins or finishes); the API serves it as written; the
// device agent checks each bundle it fetches with Verify against the roots
// it holds and keeps it only when it passes.
//
// # Caveats
//
// The package imports the standard library and wire only: the device
// agent links it.
package trustbundle
