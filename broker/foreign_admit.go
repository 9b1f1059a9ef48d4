package broker

import (
	"crypto/x509"
	"errors"
	"net/url"
	"slices"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store"
)

// admitForeign checks a certificate that chains to the foreign CA fc,
// derives the device ID, and registers the device on its first connect.
// From there decide goes on as for any device: registry record,
// suspension, revocation, group policy, client ID, ACL.
func (h *hook) admitForeign(fc *registeredCA, leaf *x509.Certificate, chain []*x509.Certificate) (id, reason string, err error) {
	if _, reason := checkLeaf(leaf, h.now()); reason != "" && reason != reasonNoIdentity {
		return "", reason, nil
	}
	for _, c := range chain[1 : len(chain)-1] {
		if !fc.inter[fingerprint(c)] {
			return "", reasonForeignIntermediate, nil
		}
	}
	if id = foreignID(fc.rec.IDFrom, leaf); identity.ValidateID(id) != nil {
		return "", reasonNoIdentity, nil
	}
	_, _, lerr := h.reg.Lookup(h.ctx, id, serialHex(leaf))
	if !errors.Is(lerr, store.ErrNotFound) {
		return id, "", nil // registered (or a read failure decide meets again)
	}
	// Judged in memory first, so a certificate off the allow-list costs no
	// registry write.
	if !fc.rec.FirstConnect && !slices.Contains(fc.rec.Allowed, fingerprint(leaf)) && !slices.Contains(fc.rec.Allowed, serialHex(leaf)) {
		return id, reasonForeignNotAllowed, nil
	}
	_, _, err = h.foreignCAs.reg.RegisterForeign(h.ctx, fc.rec, id, leaf, store.Actor{Name: "broker:first-connect"})
	switch {
	case err == nil:
		h.events.registered(id, fc.rec.Group, fc.rec.Name, leaf, h.now())
		return id, "", nil
	case errors.Is(err, store.ErrPolicy):
		return id, reasonForeignIDTaken, nil
	case errors.Is(err, store.ErrNotFound):
		return id, reasonForeignNotAllowed, nil
	case errors.Is(err, store.ErrExists):
		return id, reasonForeignSerialTaken, nil
	default:
		return id, reasonRegistryError, err
	}
}

// foreignID derives a device ID from a foreign certificate as its CA's
// record says; "" when the certificate lacks that field.
func foreignID(from string, leaf *x509.Certificate) string {
	switch from {
	case store.IDFromCN:
		return leaf.Subject.CommonName
	case store.IDFromSANDNS:
		if len(leaf.DNSNames) > 0 {
			return leaf.DNSNames[0]
		}
	case store.IDFromSANURI:
		if len(leaf.URIs) > 0 {
			return uriID(leaf.URIs[0])
		}
	case store.IDFromFingerprint:
		return fingerprint(leaf)
	}
	return ""
}

// uriID is a URI SAN as a device ID: its opaque part or path without the
// scheme (urn:vendor:dev-1 -> vendor:dev-1), which the ID alphabet allows.
func uriID(u *url.URL) string {
	if u.Opaque != "" {
		return u.Opaque
	}
	return u.Host + u.Path
}
