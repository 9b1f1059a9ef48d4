package revocation

import "github.com/fleetgate/fleetgate/provisioning/ca"

// issuer returns the first of authority's intermediates with a key that
// match accepts. Trusted intermediates without a key (rotated by an older
// build, which destroyed it) have no CRL and no OCSP answers; each is
// logged once.
func (r *Responder) issuer(authority *ca.CA, match func(ca.Issuer) bool) (ca.Issuer, bool) {
	r.logUnkeyed(authority)
	for _, iss := range authority.Issuers() {
		if match(iss) {
			return iss, true
		}
	}
	return ca.Issuer{}, false
}

// logUnkeyed logs each trusted intermediate without a key the first time
// the responder meets it.
func (r *Responder) logUnkeyed(authority *ca.CA) {
	for _, c := range authority.UnkeyedDeviceCAs() {
		if _, seen := r.unkeyed.LoadOrStore(ca.IssuerID(c), true); !seen {
			r.log.Warn("a trusted device intermediate has no kept key: no CRL or OCSP answers for its certificates until it is retired",
				"serial", ca.SerialHex(c), "issuer", ca.IssuerID(c))
		}
	}
}
