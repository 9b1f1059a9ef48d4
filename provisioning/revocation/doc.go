// Package revocation publishes the revocation status of device
// certificates to relying parties other than the broker (which reads the
// registry itself): a CRL per issuing intermediate and an OCSP responder
// (RFC 6960), served over plain HTTP, since CRLs and OCSP responses are
// signed objects. CRLs are signed with the issuing intermediate's own key;
// OCSP responses with a delegated OCSP signer: a key held in memory and a
// short-lived certificate for it from the intermediate, renewed halfway
// through its life and when the intermediate changes, so that the
// intermediate's key (perhaps in a token) is not used per response.
//
// Routes (see Responder.ServeHTTP):
//
//	GET  /crl/<issuer-id>.crl   DER CRL of the intermediate (ca.IssuerID)
//	POST /ocsp                  OCSP request in the body
//	GET  /ocsp/<base64 request> the same, cacheable by HTTP caches
//
// # Freshness
//
// Answers come from the registry and are kept in caches that the
// registry's change feed empties at once: a certificate changing status
// drops its OCSP responses and re-issues the CRL, a device changing status
// drops every cached response. CRLs are re-issued on a schedule as well,
// halfway to their nextUpdate.
//
// # Caveats
//
// Only the issuing intermediate's key is at hand: older intermediates that
// are still trusted (ca.TrustedDeviceCAs) had their keys destroyed at the
// rotation, so OCSP requests naming them get "unauthorized" and their CRL
// URLs answer 404. A request for several certificates is answered for the
// first one. A device suspension is not a revocation: the certificates of
// a suspended device read "good" here while the broker refuses them.
package revocation
