package store

import (
	"context"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// RevokeCertificate marks one certificate revoked with the given reason,
// records "cert.revoke" and, after the commit, publishes a ChangeCert event
// so that a broker drops a session using it. Revoking a certificate that is
// already revoked returns it unchanged, with no audit entry and no event.
// The device itself keeps its status.
func (db *DB) RevokeCertificate(ctx context.Context, serial, reason string, by Actor) (Certificate, error) {
	var out Certificate
	changed := false
	err := db.updateEssential(ctx, func(tx kv.Tx) ([]Change, error) {
		c, err := getCert(tx, serial)
		if err != nil {
			return nil, err
		}
		if c.Status == CertRevoked {
			out = c
			return nil, nil
		}
		now := db.clock()
		c.Status, c.RevokedAt, c.Reason = CertRevoked, now, reason
		if err := putCert(tx, c); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("device=%s reason=%q", c.DeviceID, reason)
		if err := db.appendAudit(tx, "cert.revoke", serial, detail, by); err != nil {
			return nil, err
		}
		out, changed = c, true
		return []Change{{Kind: ChangeCert, DeviceID: c.DeviceID, Serial: serial, CertStatus: CertRevoked, Time: now}}, nil
	})
	if err != nil {
		return Certificate{}, err
	}
	if changed {
		db.log.Info("certificate revoked", "device", out.DeviceID, "serial", serial, "reason", reason, "actor", by.Name)
	}
	return out, nil
}
