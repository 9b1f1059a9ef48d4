package revocation

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// crlCache holds the last CRL issued by each intermediate. changes counts
// the certificate changes from the feed; a CRL issued before the latest
// is stale, and the next read or the re-issuing loop issues a new one.
type crlCache struct {
	mu      sync.Mutex
	byID    map[string]*crlEntry // by ca.IssuerID
	changes atomic.Uint64
}

// crlEntry is one intermediate's last CRL.
type crlEntry struct {
	der       []byte
	by        *ca.CA    // the CA that signed der
	seen      uint64    // crlCache.changes when der was read
	refreshAt time.Time // halfway to der's nextUpdate
}

// serveCRL serves GET /crl/<name>, where name must be the ID of an
// intermediate with a key followed by ".crl".
func (r *Responder) serveCRL(ctx context.Context, w http.ResponseWriter, name string) {
	authority := r.cfg.Authority()
	id, ok := strings.CutSuffix(name, ".crl")
	iss, known := r.issuer(authority, func(i ca.Issuer) bool { return i.ID() == id })
	if !ok || !known {
		http.Error(w, "no CRL of that name: CRLs are served for the trusted intermediates whose keys are kept", http.StatusNotFound)
		return
	}
	der, err := r.IssuerCRL(ctx, authority, iss)
	if err != nil {
		r.log.Error("issuing the device CRL failed", "issuer", iss.ID(), "error", err.Error())
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(der)
}

// CRL returns the current DER CRL of authority's issuing intermediate
// (IssuerCRL).
func (r *Responder) CRL(ctx context.Context, authority *ca.CA) ([]byte, error) {
	issuers := authority.Issuers()
	if len(issuers) == 0 {
		return nil, ca.ErrNoCAKey
	}
	return r.IssuerCRL(ctx, authority, issuers[0])
}

// IssuerCRL returns the current DER CRL of iss, one of authority's
// Issuers, issuing a new one first when a certificate changed since the
// last, the CA was reloaded, or the last is halfway to its nextUpdate.
func (r *Responder) IssuerCRL(ctx context.Context, authority *ca.CA, iss ca.Issuer) ([]byte, error) {
	c := &r.crl
	c.mu.Lock()
	defer c.mu.Unlock()
	now := r.clock()
	// Read before the registry: a change committed during the read makes
	// the result stale again.
	changes := c.changes.Load()
	e := c.byID[iss.ID()]
	if e != nil && e.by == authority && e.seen == changes && now.Before(e.refreshAt) {
		return e.der, nil
	}
	der, err := r.issueCRL(ctx, iss, now)
	if err != nil {
		return nil, err
	}
	c.byID[iss.ID()] = &crlEntry{der: der, by: authority, seen: changes, refreshAt: now.Add(r.cfg.CRLValidity / 2)}
	return der, nil
}

// nextRefresh returns when the first of the cached CRLs of issuers is
// halfway to its nextUpdate.
func (c *crlCache) nextRefresh(issuers []ca.Issuer) (at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, iss := range issuers {
		if e := c.byID[iss.ID()]; e != nil && (at.IsZero() || e.refreshAt.Before(at)) {
			at = e.refreshAt
		}
	}
	return at
}

// issueCRL signs a CRL of every revoked certificate of iss that has not
// expired. A certificate belongs to iss when its authority key identifier
// is iss's subject key identifier; one recorded without its DER cannot be
// told apart and is listed by every intermediate (the registry's serials
// are unique across intermediates, so a serial of another intermediate
// names no certificate of this one).
func (r *Responder) issueCRL(ctx context.Context, iss ca.Issuer, now time.Time) ([]byte, error) {
	certs, err := r.cfg.Registry.Certificates(ctx, "")
	if err != nil {
		return nil, err
	}
	revoked := make([]ca.RevokedCert, 0, len(certs)/8)
	for _, c := range certs {
		if c.Status != store.CertRevoked || c.NotAfter.Before(now) || !issuedBy(c, iss.Certificate()) {
			continue
		}
		serial, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			continue
		}
		revoked = append(revoked, ca.RevokedCert{Serial: serial, RevokedAt: c.RevokedAt, Reason: reasonCode(c.Reason)})
	}
	// CRL numbers must grow: the issue time in nanoseconds does.
	return iss.CRL(revoked, big.NewInt(now.UnixNano()), r.cfg.CRLValidity)
}

// issuedBy reports whether the registry's certificate c was issued by the
// intermediate issuer, as far as the registry tells: by the issuer key ID
// recorded at issue (read from the DER for older records); a record with
// neither may be anyone's and counts as issuer's.
func issuedBy(c store.Certificate, issuer *x509.Certificate) bool {
	id := store.IssuerKeyOf(c)
	if id == "" {
		return len(c.DER) == 0
	}
	return id == hex.EncodeToString(issuer.SubjectKeyId)
}
