package broker

import (
	"context"
	"errors"

	"github.com/fleetgate/fleetgate/store"
)

// reasonAttestationPolicy: the device's group requires TPM-attested keys and
// this certificate was issued another way (token or operator CSR).
const reasonAttestationPolicy = "attestation_policy"

// groupFinder is an optional Registry capability: the enrollment policy of a
// device group. A registry without it enforces no group policy; the guard
// below keeps *store.DB from losing it unnoticed.
type groupFinder interface {
	Group(ctx context.Context, name string) (store.Group, error)
}

var _ groupFinder = (*store.DB)(nil)

// checkPolicy enforces the group's attestation requirement. Only a
// certificate that is not TPM-attested in a named group costs a lookup.
func checkPolicy(ctx context.Context, reg Registry, dev store.Device, cert store.Certificate) (string, error) {
	if dev.Group == "" || cert.Attestation == store.AttestTPM {
		return "", nil
	}
	f, ok := reg.(groupFinder)
	if !ok {
		return "", nil
	}
	g, err := f.Group(ctx, dev.Group)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil // a group never configured has the default policy
	case err != nil:
		return reasonRegistryError, err
	case g.RequireTPM:
		return reasonAttestationPolicy, nil
	}
	return "", nil
}

// superseder is an optional Registry capability: retiring the certificates
// a rotated certificate replaces once the device has used the new one.
type superseder interface {
	MarkSuperseded(ctx context.Context, deviceID, currentSerial string) (int, error)
}

var _ superseder = (*store.DB)(nil)

// markSuperseded retires the predecessors of cert in the background, once
// per serial for the broker's lifetime: it writes to the registry, and
// writes stay off the connect path. The registry publishes the changes, so
// a session still on an old certificate is dropped by the change feed.
func (h *hook) markSuperseded(cert store.Certificate) {
	if cert.Supersedes == "" {
		return
	}
	s, ok := h.reg.(superseder)
	if !ok {
		return
	}
	if _, seen := h.superseded.LoadOrStore(cert.Serial, struct{}{}); seen {
		return
	}
	go func() {
		n, err := s.MarkSuperseded(h.ctx, cert.DeviceID, cert.Serial)
		if err != nil {
			h.superseded.Delete(cert.Serial) // try again at the next connect
			h.log.Error("marking rotated certificates superseded failed", "device", cert.DeviceID, "serial", cert.Serial, "error", err.Error())
			return
		}
		if n > 0 {
			h.log.Info("rotated certificate in use; predecessors superseded", "device", cert.DeviceID, "serial", cert.Serial, "superseded", n)
			h.events.rotated(cert, h.now())
		}
	}()
}
