package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// Reasons of the foreign-CA path (see admit.go for the others).
const (
	reasonForeignIntermediate = "foreign_intermediate" // the chain passes through an intermediate the foreign CA record does not allow to issue
	reasonForeignNotAllowed   = "foreign_not_allowed"  // the foreign certificate is not on its CA's allow-list
	reasonForeignIDTaken      = "foreign_id_taken"     // the derived ID is a device of another group, or bound to another certificate
	reasonForeignSerialTaken  = "foreign_serial_taken" // the foreign serial is recorded for another device
)

// ForeignCARefresh is how often the broker reads the registered foreign
// CAs again: a CA registered while it runs is trusted within this time.
const ForeignCARefresh = 5 * time.Second

// foreignRegistry is what the foreign-CA path needs of the registry, found
// on it by type assertion: a registry without it admits no foreign device.
type foreignRegistry interface {
	ForeignCAs(ctx context.Context) ([]store.ForeignCA, error)
	RegisterForeign(ctx context.Context, f store.ForeignCA, id string, leaf *x509.Certificate, by store.Actor) (store.Device, store.Certificate, error)
}

var _ foreignRegistry = (*store.DB)(nil)

// foreignTrust holds the registered foreign CAs. Nil-safe: a nil one
// trusts none.
type foreignTrust struct {
	reg foreignRegistry
	cur atomic.Pointer[foreignSet]
}

// foreignSet is one reading of the registered foreign CAs.
type foreignSet struct {
	byRoot map[string]*registeredCA // by the root's fingerprint
	certs  []*x509.Certificate      // roots and intermediates, for the TLS pool
	key    string                   // what it was built from
}

// registeredCA is one registered CA, parsed.
type registeredCA struct {
	rec   store.ForeignCA
	inter map[string]bool // fingerprints of the allowed intermediates
}

func newForeignTrust(reg Registry) *foreignTrust {
	fr, ok := reg.(foreignRegistry)
	if !ok {
		return nil
	}
	return &foreignTrust{reg: fr}
}

// load reads the foreign CAs and reports whether they changed.
func (f *foreignTrust) load(ctx context.Context) (bool, error) {
	cas, err := f.reg.ForeignCAs(ctx)
	if err != nil {
		return false, err
	}
	var key strings.Builder
	set := &foreignSet{byRoot: map[string]*registeredCA{}}
	for _, rec := range cas {
		key.WriteString(rec.Name + "\x00" + rec.Group + "\x00" + rec.IDFrom + "\x00" + strings.Join(rec.Allowed, ",") + "\x00")
		fc := &registeredCA{rec: rec, inter: map[string]bool{}}
		for i, der := range rec.Certs {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				continue // Validate refused it on the way in; skip a damaged record
			}
			key.WriteString(fingerprint(c))
			set.certs = append(set.certs, c)
			if i == 0 {
				set.byRoot[fingerprint(c)] = fc
			} else {
				fc.inter[fingerprint(c)] = true
			}
		}
		if rec.FirstConnect {
			key.WriteString("first")
		}
	}
	set.key = key.String()
	if old := f.cur.Load(); old != nil && old.key == set.key {
		return false, nil
	}
	f.cur.Store(set)
	return true, nil
}

// pool returns base with the foreign CAs added.
func (f *foreignTrust) pool(base *x509.CertPool) *x509.CertPool {
	if f == nil || base == nil {
		return base
	}
	set := f.cur.Load()
	if set == nil || len(set.certs) == 0 {
		return base
	}
	p := base.Clone()
	for _, c := range set.certs {
		p.AddCert(c)
	}
	return p
}

// watch reloads the foreign CAs every ForeignCARefresh until ctx ends.
func (b *Broker) watchForeign(ctx context.Context) {
	tick := time.NewTicker(ForeignCARefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := b.refreshForeign(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("reading the foreign device CAs failed; keeping the previous ones", "err", err)
			}
		}
	}
}

// refreshForeign reads the foreign CAs and, when they changed, hands them
// to the TLS settings of the next handshakes.
func (b *Broker) refreshForeign(ctx context.Context) error {
	f := b.trust.foreign
	if f == nil {
		return nil
	}
	changed, err := f.load(ctx)
	if err != nil {
		return err
	}
	if changed {
		b.trust.set(b.trust.base.Load())
		b.log.Info("foreign device CAs loaded", "count", len(f.cur.Load().byRoot))
	}
	return nil
}

// match returns the foreign CA a verified chain of cs ends at, and that
// chain.
func (f *foreignTrust) match(cs tls.ConnectionState) (*registeredCA, []*x509.Certificate, bool) {
	if f == nil {
		return nil, nil, false
	}
	set := f.cur.Load()
	if set == nil || len(set.byRoot) == 0 {
		return nil, nil, false
	}
	for _, chain := range cs.VerifiedChains {
		if fc, ok := set.byRoot[fingerprint(chain[len(chain)-1])]; ok {
			return fc, chain, true
		}
	}
	return nil, nil, false
}

// startForeign reads the foreign CAs before the listener accepts anyone,
// so the first handshakes trust them, and keeps them current until ctx
// ends.
func (b *Broker) startForeign(ctx context.Context) error {
	if b.trust.foreign == nil {
		return nil
	}
	if err := b.refreshForeign(ctx); err != nil {
		return fmt.Errorf("read the foreign device CAs: %w", err)
	}
	go b.watchForeign(ctx)
	return nil
}
