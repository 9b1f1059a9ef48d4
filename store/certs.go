package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// AddCertificate records a certificate the CA issued and writes "cert.issue"
// to the audit log. Serial must be lower-case hex without leading zeros (as
// (*big.Int).Text(16) writes it) and Fingerprint the lower-case hex SHA-256
// of the DER; otherwise ErrInvalid. The device must exist (ErrNotFound) and
// be active (ErrState); a serial already recorded gives ErrExists. Status
// may be empty or active: a certificate enters the registry active. IssuedAt
// defaults to the current time. KeyHash, when set, must be a lower-case hex
// SHA-256. Supersedes, when set, names an active certificate of the same
// device that this one replaces (see CompleteEnrollment for the rules).
func (db *DB) AddCertificate(ctx context.Context, c Certificate, by Actor) error {
	if err := validateCert(&c); err != nil {
		return err
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = db.clock()
	}
	c.RevokedAt, c.Reason = time.Time{}, "" // an active certificate has no revocation
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		d, err := getDevice(tx, c.DeviceID)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", c.Serial, err)
		}
		if d.Status != DeviceActive {
			return nil, fmt.Errorf("%w: certificate %s: device %s is %s", ErrState, c.Serial, d.ID, d.Status)
		}
		if err := checkNewCert(tx, c.Serial); err != nil {
			return nil, err
		}
		if err := checkSupersedes(tx, c.DeviceID, c.Supersedes, c.KeyHash); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", c.Serial, err)
		}
		if err := insertCert(tx, c); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("device=%s fingerprint=%s attestation=%s not_after=%s",
			c.DeviceID, c.Fingerprint, c.Attestation, c.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
		if c.Supersedes != "" {
			detail += " supersedes=" + c.Supersedes
		}
		return nil, db.appendAudit(tx, "cert.issue", c.Serial, detail, by)
	})
	if err != nil {
		return err
	}
	db.log.Info("certificate recorded", "device", c.DeviceID, "serial", c.Serial, "attestation", c.Attestation, "actor", by.Name)
	return nil
}

// maxSerialHex is the longest serial accepted: RFC 5280 allows 20 octets.
const maxSerialHex = 40

// validateCert checks the fields AddCertificate requires and fills in the
// default status.
func validateCert(c *Certificate) error {
	if !isCanonicalHex(c.Serial) || len(c.Serial) > maxSerialHex {
		return fmt.Errorf("%w: certificate serial %q is not lower-case hex without leading zeros, at most %d digits", ErrInvalid, c.Serial, maxSerialHex)
	}
	if len(c.Fingerprint) != 64 || !isLowerHex(c.Fingerprint) {
		return fmt.Errorf("%w: certificate %s: fingerprint %q is not a lower-case hex SHA-256", ErrInvalid, c.Serial, c.Fingerprint)
	}
	if err := identity.ValidateID(c.DeviceID); err != nil {
		return fmt.Errorf("%w: certificate %s: %w", ErrInvalid, c.Serial, err)
	}
	switch c.Status {
	case "":
		c.Status = CertActive
	case CertActive:
	default:
		return fmt.Errorf("%w: certificate %s: status %q on add (want %q)", ErrInvalid, c.Serial, c.Status, CertActive)
	}
	switch c.Attestation {
	case "", AttestOperator, AttestTPM, AttestToken, AttestForeign:
	default:
		return fmt.Errorf("%w: certificate %s: unknown attestation %q", ErrInvalid, c.Serial, c.Attestation)
	}
	if c.KeyHash != "" && (len(c.KeyHash) != 64 || !isLowerHex(c.KeyHash)) {
		return fmt.Errorf("%w: certificate %s: key hash %q is not a lower-case hex SHA-256", ErrInvalid, c.Serial, c.KeyHash)
	}
	if c.Supersedes != "" && (!isCanonicalHex(c.Supersedes) || len(c.Supersedes) > maxSerialHex || c.Supersedes == c.Serial) {
		return fmt.Errorf("%w: certificate %s: supersedes %q is not the serial of another certificate", ErrInvalid, c.Serial, c.Supersedes)
	}
	return nil
}

// isCanonicalHex reports whether s is how (*big.Int).Text(16) writes a
// positive number.
func isCanonicalHex(s string) bool {
	return s != "" && s[0] != '0' && isLowerHex(s)
}

// isLowerHex reports whether s holds only [0-9a-f].
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Certificate returns the certificate with the given serial, or ErrNotFound.
func (db *DB) Certificate(ctx context.Context, serial string) (Certificate, error) {
	var c Certificate
	err := db.view(ctx, func(tx kv.Tx) error {
		var err error
		c, err = getCert(tx, serial)
		return err
	})
	return c, err
}

// Certificates returns the certificates of one device, or of all devices
// when deviceID is empty, sorted by IssuedAt and then by serial. A device
// without certificates, known or not, yields an empty slice.
func (db *DB) Certificates(ctx context.Context, deviceID string) ([]Certificate, error) {
	out := []Certificate{}
	err := db.view(ctx, func(tx kv.Tx) error {
		if deviceID == "" {
			return tx.Bucket(bucketCerts).ForEach(func(k, _ []byte) error {
				c, err := getCert(tx, string(k))
				out = append(out, c)
				return err
			})
		}
		prefix := indexPrefix(deviceID)
		return tx.Bucket(bucketCertsByDevice).Scan(prefix, func(k, _ []byte) error {
			c, err := getCert(tx, string(k[len(prefix):]))
			if err != nil {
				return fmt.Errorf("index of device %s: %w", deviceID, err)
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Certificate) int {
		if c := a.IssuedAt.Compare(b.IssuedAt); c != 0 {
			return c
		}
		// Canonical hex: the shorter string is the smaller number.
		return cmp.Or(cmp.Compare(len(a.Serial), len(b.Serial)), cmp.Compare(a.Serial, b.Serial))
	})
	return out, nil
}
