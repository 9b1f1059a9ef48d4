package store

import (
	"bytes"
	"fmt"

	"github.com/fleetgate/fleetgate/store/kv"
)

// The checks of one enrollment inside the shared transaction. Each reads
// everything its enrollment depends on and only then returns the function
// that writes it, so that a refused enrollment writes nothing (see
// batchItem).

// checkEnrollment dispatches on the enrollment's path.
func (db *DB) checkEnrollment(tx kv.Tx, e Enrollment, by Actor) (func(tx kv.Tx) error, error) {
	switch {
	case e.TokenHash != "":
		return db.checkTokenEnrollment(tx, e, by)
	case e.ChallengeID != "":
		return db.checkTPMEnrollment(tx, e, by)
	default:
		return db.checkSoftwareRotation(tx, e, by)
	}
}

// checkTokenEnrollment: consume the token, create the device, record the
// certificate.
func (db *DB) checkTokenEnrollment(tx kv.Tx, e Enrollment, by Actor) (func(tx kv.Tx) error, error) {
	d, c := e.Device, e.Certificate
	now := db.clock()
	tok, err := getToken(tx, e.TokenHash)
	if err != nil {
		return nil, fmt.Errorf("enrollment of %s: %w", d.ID, err)
	}
	if !tok.UsedAt.IsZero() {
		return nil, fmt.Errorf("%w: enrollment of %s: token was used by device %s", ErrReplayed, d.ID, tok.UsedBy)
	}
	if !now.Before(tok.ExpiresAt) {
		return nil, fmt.Errorf("%w: enrollment of %s: token expired", ErrExpired, d.ID)
	}
	g, err := getGroup(tx, tok.Group)
	if err != nil {
		return nil, fmt.Errorf("enrollment of %s: token's %w", d.ID, err)
	}
	if g.RequireTPM || !g.AllowTokens {
		return nil, fmt.Errorf("%w: enrollment of %s: group %s does not admit token enrollment", ErrPolicy, d.ID, g.Name)
	}
	if d.Group != "" && d.Group != tok.Group {
		return nil, fmt.Errorf("%w: enrollment of %s: token is for group %s, not %s", ErrPolicy, d.ID, tok.Group, d.Group)
	}
	detail := fmt.Sprintf(" group=%s", tok.Group)
	if tx.Bucket(bucketDevices).Get([]byte(d.ID)) != nil {
		existing, err := checkTokenReenrollment(tx, d.ID, tok.Group, now)
		if err != nil {
			return nil, err
		}
		d, detail = existing, detail+" reenroll=true"
	}
	if err := checkNewCert(tx, c.Serial); err != nil {
		return nil, err
	}
	return func(tx kv.Tx) error {
		if d.CreatedAt.IsZero() {
			d.Group, d.CreatedAt = tok.Group, now
		}
		d.UpdatedAt = now
		if err := putJSON(tx.Bucket(bucketDevices), []byte(d.ID), d); err != nil {
			return err
		}
		tok.UsedAt, tok.UsedBy, tok.Serial = now, d.ID, c.Serial
		if err := putJSON(tx.Bucket(bucketTokens), []byte(tok.Hash), tok); err != nil {
			return err
		}
		if err := insertCert(tx, c); err != nil {
			return err
		}
		return db.auditEnrollment(tx, e, detail, by)
	}, nil
}

// checkTPMEnrollment: consume the challenge, bind the TPM to the
// pre-registered device, record the certificate.
func (db *DB) checkTPMEnrollment(tx kv.Tx, e Enrollment, by Actor) (func(tx kv.Tx) error, error) {
	d, c := e.Device, e.Certificate
	now := db.clock()
	ch, err := liveChallenge(tx, e.ChallengeID, now)
	if err != nil {
		return nil, fmt.Errorf("enrollment of %s: %w", d.ID, err)
	}
	switch {
	case ch.DeviceID != d.ID:
		return nil, fmt.Errorf("%w: enrollment of %s: challenge was issued to device %s", ErrInvalid, d.ID, ch.DeviceID)
	case (ch.Purpose == PurposeRotate) != (e.Supersedes != ""):
		return nil, fmt.Errorf("%w: enrollment of %s: a %s challenge with supersedes %q", ErrInvalid, d.ID, ch.Purpose, e.Supersedes)
	case d.EKHash != "" && d.EKHash != ch.EKHash, len(d.AKPublic) > 0 && !bytes.Equal(d.AKPublic, ch.AKPublic):
		return nil, fmt.Errorf("%w: enrollment of %s: EK or AK differs from the challenge's", ErrInvalid, d.ID)
	}
	dev, err := getDevice(tx, d.ID)
	if err != nil {
		return nil, fmt.Errorf("enrollment of a device not pre-registered: %w", err)
	}
	if dev.Status != DeviceActive {
		return nil, fmt.Errorf("%w: enrollment of %s: device is %s", ErrState, d.ID, dev.Status)
	}
	if ch.EKHash != "" && dev.EKHash != "" && ch.EKHash != dev.EKHash {
		return nil, fmt.Errorf("%w: enrollment of %s: challenge was made for another TPM than the registered one", ErrPolicy, d.ID)
	}
	if err := checkEKFree(tx, d.ID, ch.EKHash); err != nil {
		return nil, fmt.Errorf("enrollment of %s: %w", d.ID, err)
	}
	if ch.Purpose == PurposeRotate && len(dev.AKPublic) > 0 && !bytes.Equal(dev.AKPublic, ch.AKPublic) {
		return nil, fmt.Errorf("%w: rotation of %s must use the AK recorded at enrollment", ErrPolicy, d.ID)
	}
	if err := checkSupersedes(tx, d.ID, e.Supersedes, c.KeyHash); err != nil {
		return nil, fmt.Errorf("rotation of %s: %w", d.ID, err)
	}
	if err := checkNewCert(tx, c.Serial); err != nil {
		return nil, err
	}
	return func(tx kv.Tx) error {
		if err := consumeChallenge(tx, ch); err != nil {
			return err
		}
		if ch.EKHash != "" {
			dev.EKHash = ch.EKHash
		}
		dev.AKPublic, dev.UpdatedAt = ch.AKPublic, now
		if err := putJSON(tx.Bucket(bucketDevices), []byte(dev.ID), dev); err != nil {
			return err
		}
		if err := putEKOwner(tx, dev.ID, dev.EKHash); err != nil {
			return err
		}
		if err := insertCert(tx, c); err != nil {
			return err
		}
		return db.auditEnrollment(tx, e, "", by)
	}, nil
}

// checkSoftwareRotation: record the new certificate of a device whose key
// is not in a TPM.
func (db *DB) checkSoftwareRotation(tx kv.Tx, e Enrollment, by Actor) (func(tx kv.Tx) error, error) {
	d, c := e.Device, e.Certificate
	dev, err := getDevice(tx, d.ID)
	if err != nil {
		return nil, fmt.Errorf("rotation: %w", err)
	}
	if dev.Status != DeviceActive {
		return nil, fmt.Errorf("%w: rotation of %s: device is %s", ErrState, d.ID, dev.Status)
	}
	g, err := policyOf(tx, dev.Group)
	if err != nil {
		return nil, err
	}
	if g.RequireTPM || len(dev.AKPublic) > 0 {
		return nil, fmt.Errorf("%w: rotation of %s needs TPM attestation", ErrPolicy, d.ID)
	}
	if err := checkSupersedes(tx, d.ID, e.Supersedes, c.KeyHash); err != nil {
		return nil, fmt.Errorf("rotation of %s: %w", d.ID, err)
	}
	if err := checkNewCert(tx, c.Serial); err != nil {
		return nil, err
	}
	return func(tx kv.Tx) error {
		if err := insertCert(tx, c); err != nil {
			return err
		}
		return db.auditEnrollment(tx, e, "", by)
	}, nil
}

// auditEnrollment appends the "device.enroll" event of one enrollment.
func (db *DB) auditEnrollment(tx kv.Tx, e Enrollment, extra string, by Actor) error {
	c := e.Certificate
	detail := fmt.Sprintf("attestation=%s serial=%s fingerprint=%s", c.Attestation, c.Serial, c.Fingerprint)
	if e.Supersedes != "" {
		detail += " supersedes=" + e.Supersedes
	}
	return db.appendAudit(tx, "device.enroll", e.Device.ID, detail+extra, by)
}
