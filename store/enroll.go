package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// Enrollment is everything that finishing one enrollment or rotation writes.
// CompleteEnrollment writes all of it in one transaction, so a crash leaves
// either nothing or a complete enrollment.
type Enrollment struct {
	// ChallengeID selects the TPM path: the challenge is consumed here
	// (ErrReplayed if it already was, ErrExpired if too old). Empty on the
	// token path.
	ChallengeID string
	// TokenHash selects the token path: HashToken of the presented token,
	// consumed here (ErrReplayed if used, ErrExpired, ErrNotFound if
	// unknown).
	TokenHash string
	// Device: on the token path it is created here, in the token's group;
	// on the TPM path it must already exist (pre-registered) and be active,
	// and it gets the challenge's EK hash and AK public area.
	Device Device
	// Certificate is recorded here, checked as AddCertificate checks it.
	// Attestation may be left empty: it is AttestTPM on the TPM path and
	// AttestToken on the token path, and must not claim otherwise.
	Certificate Certificate
	// Supersedes is, for a rotation, the serial of the device's active
	// certificate being replaced. It stays active until the device connects
	// with the new one (MarkSuperseded). Certificate.KeyHash is then
	// required, so that FindRotation can answer a retry.
	Supersedes string
}

// CompleteEnrollment records a finished enrollment or rotation and the
// "device.enroll" audit event (attestation and serial in the detail) in one
// transaction. It publishes no change: nothing was revoked.
//
// Paths and policy:
//   - token (TokenHash set): creates the device in the token's group, which
//     must allow tokens and not require a TPM (ErrPolicy); a device that
//     exists gives ErrExists. Device.Group, if set, must name the token's
//     group (ErrPolicy). No EK, no AK, no Supersedes (ErrInvalid).
//   - TPM (ChallengeID set): the challenge must name the device, its
//     purpose must match (PurposeRotate exactly when Supersedes is set),
//     the device must exist (ErrNotFound) and be active (ErrState). A
//     device whose EK hash is known must have the challenge's (ErrPolicy),
//     and a rotation must use the AK recorded at enrollment (ErrPolicy).
//     Any group.
//   - software rotation (neither, Supersedes set): a device enrolled by
//     token renews over mTLS. Refused (ErrPolicy) for a device with a
//     recorded AK or whose group requires a TPM.
//
// Concurrent calls are committed together (group commit): each call is
// checked on its own inside the shared transaction, before anything of it
// is written, so one call's refusal writes nothing of that call and does
// not affect the others. Each caller gets its own error.
func (db *DB) CompleteEnrollment(ctx context.Context, e Enrollment, by Actor) error {
	if err := db.prepareEnrollment(&e); err != nil {
		return err
	}
	err := db.batch.submitFetch(ctx, enrollmentFetch(e), func(tx kv.Tx) (func(tx kv.Tx) error, error) {
		return db.checkEnrollment(tx, e, by)
	})
	if err == nil {
		db.logEnrollment(e, by)
	}
	return err
}

// CompleteEnrollments records a batch the caller already holds, with up to
// 256 enrollments per transaction. It returns one error per enrollment, nil
// for those recorded; each is checked and written as CompleteEnrollment
// would, so a refused one does not affect the others.
func (db *DB) CompleteEnrollments(ctx context.Context, es []Enrollment, by Actor) []error {
	errs := make([]error, len(es))
	var items []*batchItem
	var prepared []Enrollment
	var index []int // position in es of each item
	for i := range es {
		e := es[i]
		if errs[i] = db.prepareEnrollment(&e); errs[i] != nil {
			continue
		}
		items = append(items, &batchItem{done: make(chan error, 1), fetch: enrollmentFetch(e), check: func(tx kv.Tx) (func(tx kv.Tx) error, error) {
			return db.checkEnrollment(tx, e, by)
		}})
		prepared = append(prepared, e)
		index = append(index, i)
	}
	for start := 0; start < len(items); start += db.batch.limit {
		db.commitBatch(ctx, items[start:min(start+db.batch.limit, len(items))])
	}
	for j, it := range items {
		if errs[index[j]] = <-it.done; errs[index[j]] == nil {
			db.logEnrollment(prepared[j], by)
		}
	}
	return errs
}

// prepareEnrollment checks what can be checked without reading the registry
// and fills in defaults.
func (db *DB) prepareEnrollment(e *Enrollment) error {
	d, c := &e.Device, &e.Certificate
	want := AttestTPM
	switch {
	case e.ChallengeID != "" && e.TokenHash != "":
		return fmt.Errorf("%w: enrollment of %s names both a challenge and a token", ErrInvalid, d.ID)
	case e.TokenHash != "" && e.Supersedes != "":
		return fmt.Errorf("%w: enrollment of %s: a token enrolls a new device and cannot rotate a certificate", ErrInvalid, d.ID)
	case e.TokenHash != "":
		want = AttestToken
	case e.ChallengeID == "" && e.Supersedes == "":
		return fmt.Errorf("%w: enrollment of %s names neither a challenge nor a token", ErrInvalid, d.ID)
	case e.ChallengeID == "":
		want = c.Attestation
		if want == "" {
			want = AttestToken
		}
		if want == AttestTPM {
			return fmt.Errorf("%w: rotation of %s claims TPM attestation without a challenge", ErrInvalid, d.ID)
		}
	}
	if err := identity.ValidateID(d.ID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Attestation == "" {
		c.Attestation = want
	}
	if c.Attestation != want {
		return fmt.Errorf("%w: enrollment of %s: attestation %q on the %s path", ErrInvalid, d.ID, c.Attestation, want)
	}
	if c.DeviceID == "" {
		c.DeviceID = d.ID
	}
	if c.DeviceID != d.ID {
		return fmt.Errorf("%w: enrollment of %s carries a certificate for device %q", ErrInvalid, d.ID, c.DeviceID)
	}
	if c.Supersedes != "" && c.Supersedes != e.Supersedes {
		return fmt.Errorf("%w: enrollment of %s: certificate supersedes %q, enrollment %q", ErrInvalid, d.ID, c.Supersedes, e.Supersedes)
	}
	c.Supersedes = e.Supersedes
	if err := validateCert(c); err != nil {
		return err
	}
	if e.Supersedes != "" && c.KeyHash == "" {
		return fmt.Errorf("%w: rotation of %s: certificate %s has no key hash", ErrInvalid, d.ID, c.Serial)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = db.clock()
	}
	c.RevokedAt, c.Reason = time.Time{}, "" // an active certificate has no revocation
	if e.TokenHash == "" {
		return validateEKHash(d.ID, d.EKHash)
	}
	if err := validateNewDevice(d); err != nil {
		return err
	}
	if d.Status != DeviceActive || d.EKHash != "" || len(d.AKPublic) > 0 {
		return fmt.Errorf("%w: token enrollment of %s: the device must be active and carry no EK or AK", ErrInvalid, d.ID)
	}
	return nil
}

// logEnrollment logs one recorded enrollment.
func (db *DB) logEnrollment(e Enrollment, by Actor) {
	db.log.Info("device enrolled", "device", e.Device.ID, "serial", e.Certificate.Serial,
		"attestation", e.Certificate.Attestation, "supersedes", e.Supersedes, "actor", by.Name)
}
