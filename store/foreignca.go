package store

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// How a foreign CA's devices get their IDs (ForeignCA.IDFrom).
const (
	IDFromCN          = "cn"          // the leaf's subject common name
	IDFromSANDNS      = "san-dns"     // the leaf's first DNS SAN
	IDFromSANURI      = "san-uri"     // the leaf's first URI SAN
	IDFromFingerprint = "fingerprint" // the hex SHA-256 of the leaf's DER
)

// ForeignCA is a device CA we did not run (a secure element vendor's or a
// contract manufacturer's), registered for one group: the broker admits a
// certificate chaining to it, registers the device on its first connect
// and from then on treats it like any other device.
type ForeignCA struct {
	// Name is the operator's name for it (a device ID's alphabet).
	Name  string `json:"name"`
	Group string `json:"group"`
	// Certs holds DER certificates: the root first, then the only
	// intermediates allowed to issue device certificates (none: the root
	// issues them itself).
	Certs [][]byte `json:"certs"`
	// IDFrom is one of the IDFrom* constants.
	IDFrom string `json:"id_from"`
	// FirstConnect admits any certificate of the CA on first connect;
	// otherwise only those whose fingerprint or serial (lower-case hex) is
	// in Allowed.
	FirstConnect bool      `json:"first_connect"`
	Allowed      []string  `json:"allowed,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Validate checks a foreign CA record as PutForeignCA stores it.
func (f *ForeignCA) Validate() error {
	if err := identity.ValidateID(f.Name); err != nil {
		return fmt.Errorf("%w: foreign CA name: %w", ErrInvalid, err)
	}
	if err := identity.ValidateID(f.Group); err != nil {
		return fmt.Errorf("%w: foreign CA %s: group: %w", ErrInvalid, f.Name, err)
	}
	if !slices.Contains([]string{IDFromCN, IDFromSANDNS, IDFromSANURI, IDFromFingerprint}, f.IDFrom) {
		return fmt.Errorf("%w: foreign CA %s: id_from %q (want cn, san-dns, san-uri or fingerprint)", ErrInvalid, f.Name, f.IDFrom)
	}
	if len(f.Certs) == 0 {
		return fmt.Errorf("%w: foreign CA %s: no certificate", ErrInvalid, f.Name)
	}
	for i, der := range f.Certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%w: foreign CA %s: certificate %d: %v", ErrInvalid, f.Name, i+1, err)
		}
		if !c.IsCA {
			return fmt.Errorf("%w: foreign CA %s: certificate %d (%s) is not a CA", ErrInvalid, f.Name, i+1, c.Subject)
		}
	}
	if f.FirstConnect && len(f.Allowed) > 0 {
		return fmt.Errorf("%w: foreign CA %s: an allow-list and admission on first connect exclude each other", ErrInvalid, f.Name)
	}
	for _, a := range f.Allowed {
		if a == "" || !isLowerHex(a) {
			return fmt.Errorf("%w: foreign CA %s: allow-list entry %q is not a lower-case hex fingerprint or serial", ErrInvalid, f.Name, a)
		}
	}
	return nil
}

// PutForeignCA creates or replaces a foreign CA and records
// "foreign_ca.put". Replacing keeps CreatedAt; devices already registered
// through it stay.
func (db *DB) PutForeignCA(ctx context.Context, f ForeignCA, by Actor) (ForeignCA, error) {
	if err := f.Validate(); err != nil {
		return ForeignCA{}, err
	}
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		b := tx.Bucket(bucketForeignCAs)
		var old ForeignCA
		found, err := getJSON(b, []byte(f.Name), &old)
		if err != nil {
			return nil, err
		}
		f.CreatedAt = db.clock()
		if found {
			f.CreatedAt = old.CreatedAt
		}
		if err := putJSON(b, []byte(f.Name), f); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("group=%s id_from=%s first_connect=%t allowed=%d certs=%d created=%t",
			f.Group, f.IDFrom, f.FirstConnect, len(f.Allowed), len(f.Certs), !found)
		return nil, db.appendAudit(tx, "foreign_ca.put", f.Name, detail, by)
	})
	if err != nil {
		return ForeignCA{}, err
	}
	return f, nil
}

// ForeignCAs returns every registered foreign CA, by name.
func (db *DB) ForeignCAs(ctx context.Context) ([]ForeignCA, error) {
	var out []ForeignCA
	err := db.view(ctx, func(tx kv.Tx) error {
		return tx.Bucket(bucketForeignCAs).ForEach(func(k, v []byte) error {
			var f ForeignCA
			if err := decode(v, &f); err != nil {
				return fmt.Errorf("foreign CA %s: %w", k, err)
			}
			out = append(out, f)
			return nil
		})
	})
	return out, err
}
