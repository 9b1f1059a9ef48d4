package revocation

import (
	"context"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// crlCache holds the last CRL issued. dirty is set by the change feed; the
// next read or the re-issuing loop issues a new one.
type crlCache struct {
	mu        sync.Mutex
	der       []byte
	by        *ca.CA    // the CA that signed der
	refreshAt time.Time // halfway to der's nextUpdate
	dirty     atomic.Bool
}

// serveCRL serves GET /crl/<name>, where name must be the issuing
// intermediate's ID followed by ".crl".
func (r *Responder) serveCRL(ctx context.Context, w http.ResponseWriter, name string) {
	authority := r.cfg.Authority()
	if strings.TrimSuffix(name, ".crl") != ca.IssuerID(authority.DeviceCA()) || !strings.HasSuffix(name, ".crl") {
		http.Error(w, "no CRL of that name: only the issuing intermediate's CRL is served here", http.StatusNotFound)
		return
	}
	der, err := r.CRL(ctx, authority)
	if err != nil {
		r.log.Error("issuing the device CRL failed", "error", err.Error())
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(der)
}

// CRL returns the current DER CRL of authority's issuing intermediate,
// issuing a new one first when a certificate changed since the last, the
// CA was reloaded, or the last is halfway to its nextUpdate.
func (r *Responder) CRL(ctx context.Context, authority *ca.CA) ([]byte, error) {
	c := &r.crl
	c.mu.Lock()
	defer c.mu.Unlock()
	now := r.clock()
	if c.der != nil && c.by == authority && !c.dirty.Load() && now.Before(c.refreshAt) {
		return c.der, nil
	}
	// Cleared before reading: a change committed during the read marks
	// the result stale again.
	c.dirty.Store(false)
	der, err := r.issueCRL(ctx, authority, now)
	if err != nil {
		c.dirty.Store(true)
		return nil, err
	}
	c.der, c.by, c.refreshAt = der, authority, now.Add(r.cfg.CRLValidity/2)
	return der, nil
}

// issueCRL signs a CRL of every revoked certificate that has not expired.
// Entries are not sorted by issuer: the registry's serials are unique
// across intermediates, so a serial of another intermediate names no
// certificate of this one.
func (r *Responder) issueCRL(ctx context.Context, authority *ca.CA, now time.Time) ([]byte, error) {
	certs, err := r.cfg.Registry.Certificates(ctx, "")
	if err != nil {
		return nil, err
	}
	revoked := make([]ca.RevokedCert, 0, len(certs)/8)
	for _, c := range certs {
		if c.Status != store.CertRevoked || c.NotAfter.Before(now) {
			continue
		}
		serial, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			continue
		}
		revoked = append(revoked, ca.RevokedCert{Serial: serial, RevokedAt: c.RevokedAt, Reason: reasonCode(c.Reason)})
	}
	// CRL numbers must grow: the issue time in nanoseconds does.
	return authority.DeviceCRL(revoked, big.NewInt(now.UnixNano()), r.cfg.CRLValidity)
}
