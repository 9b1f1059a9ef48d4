package api

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// deviceHandler is a route that runs only for a device authenticated by
// its current certificate, handed in with the registry's record of it.
type deviceHandler func(w http.ResponseWriter, r *http.Request, d store.Device, cert store.Certificate)

// device wraps h so that it runs only for a request carrying a valid,
// active device certificate of an active device.
func (a *API) device(h deviceHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, c, err := a.authenticateDevice(r)
		if err != nil {
			a.refuse(w, r, d.ID, err)
			return
		}
		h(w, r, d, c)
	})
}

// authenticateDevice verifies the request's client certificate as the
// broker would: it chains to the device CA, is a non-CA leaf for
// clientAuth, names a device by its URI SAN, and the registry holds that
// exact certificate, active, for an active device. The handshake's own
// verification is not relied on (the listener also trusts the operator
// CA, and resumed sessions are not verified again). The device is returned
// even on refusal when its identity is known, for the log.
func (a *API) authenticateDevice(r *http.Request) (store.Device, store.Certificate, error) {
	refuse := func(d store.Device, format string, args ...any) (store.Device, store.Certificate, error) {
		return d, store.Certificate{}, fmt.Errorf("%w: "+format, append([]any{errDeviceUnauthenticated}, args...)...)
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return refuse(store.Device{}, "no client certificate")
	}
	leaf := r.TLS.PeerCertificates[0]
	if leaf.IsCA || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return refuse(store.Device{}, "client certificate %s is a CA or lacks clientAuth", leaf.Subject)
	}
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.authority().DevicePool(),
		Intermediates: intermediates,
		CurrentTime:   a.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return refuse(store.Device{}, "client certificate %s does not chain to the device CA: %v", leaf.Subject, err)
	}
	id, err := identity.FromCertificate(leaf)
	if err != nil {
		return refuse(store.Device{}, "%v", err)
	}
	d, c, err := a.db.Lookup(r.Context(), id, ca.SerialHex(leaf))
	switch {
	case err != nil:
		return refuse(store.Device{ID: id}, "certificate of %s: %v", id, err)
	case c.Fingerprint != ca.Fingerprint(leaf):
		return refuse(d, "certificate %s of %s: fingerprint differs from the registry's", c.Serial, id)
	case d.Status != store.DeviceActive:
		return refuse(d, "device %s is %s", id, d.Status)
	case c.Status != store.CertActive:
		return refuse(d, "certificate %s of %s is %s", c.Serial, id, c.Status)
	}
	return d, c, nil
}
