package store

import (
	"bytes"
	"fmt"
)

// The checks of one enrolment inside the shared transaction. Each reads
// everything its enrolment depends on and only then returns the function
// that writes it, so that a refused enrolment writes nothing (see
// batchItem).

// checkEnrolment dispatches on the enrolment's path.
func (db *DB) checkEnrolment(tx kvTx, e Enrolment, by Actor) (func(tx kvTx) error, error) {
	switch {
	case e.TokenHash != "":
		return db.checkTokenEnrolment(tx, e, by)
	case e.ChallengeID != "":
		return db.checkTPMEnrolment(tx, e, by)
	default:
		return db.checkSoftwareRotation(tx, e, by)
	}
}

// checkTokenEnrolment: consume the token, create the device, record the
// certificate.
func (db *DB) checkTokenEnrolment(tx kvTx, e Enrolment, by Actor) (func(tx kvTx) error, error) {
	d, c := e.Device, e.Certificate
	now := db.clock()
	tok, err := getToken(tx, e.TokenHash)
	if err != nil {
		return nil, fmt.Errorf("enrolment of %s: %w", d.ID, err)
	}
	if !tok.UsedAt.IsZero() {
		return nil, fmt.Errorf("%w: enrolment of %s: token was used by device %s", ErrReplayed, d.ID, tok.UsedBy)
	}
	if !now.Before(tok.ExpiresAt) {
		return nil, fmt.Errorf("%w: enrolment of %s: token expired", ErrExpired, d.ID)
	}
	g, err := getGroup(tx, tok.Group)
	if err != nil {
		return nil, fmt.Errorf("enrolment of %s: token's %w", d.ID, err)
	}
	if g.RequireTPM || !g.AllowTokens {
		return nil, fmt.Errorf("%w: enrolment of %s: group %s does not admit token enrolment", ErrPolicy, d.ID, g.Name)
	}
	if d.Group != "" && d.Group != tok.Group {
		return nil, fmt.Errorf("%w: enrolment of %s: token is for group %s, not %s", ErrPolicy, d.ID, tok.Group, d.Group)
	}
	detail := fmt.Sprintf(" group=%s", tok.Group)
	if tx.Bucket(bucketDevices).Get([]byte(d.ID)) != nil {
		existing, err := checkTokenReenrolment(tx, d.ID, tok.Group, now)
		if err != nil {
			return nil, err
		}
		d, detail = existing, detail+" reenrol=true"
	}
	if err := checkNewCert(tx, c.Serial); err != nil {
		return nil, err
	}
	return func(tx kvTx) error {
		if d.CreatedAt.IsZero() {
			d.Group, d.CreatedAt = tok.Group, now
		}
		d.UpdatedAt = now
		if err := putJSON(tx.Bucket(bucketDevices), []byte(d.ID), d); err != nil {
			return err
		}
		tok.UsedAt, tok.UsedBy = now, d.ID
		if err := putJSON(tx.Bucket(bucketTokens), []byte(tok.Hash), tok); err != nil {
			return err
		}
		if err := insertCert(tx, c); err != nil {
			return err
		}
		return db.auditEnrolment(tx, e, detail, by)
	}, nil
}

// checkTPMEnrolment: consume the challenge, bind the TPM to the
// pre-registered device, record the certificate.
func (db *DB) checkTPMEnrolment(tx kvTx, e Enrolment, by Actor) (func(tx kvTx) error, error) {
	d, c := e.Device, e.Certificate
	now := db.clock()
	ch, err := liveChallenge(tx, e.ChallengeID, now)
	if err != nil {
		return nil, fmt.Errorf("enrolment of %s: %w", d.ID, err)
	}
	switch {
	case ch.DeviceID != d.ID:
		return nil, fmt.Errorf("%w: enrolment of %s: challenge was issued to device %s", ErrInvalid, d.ID, ch.DeviceID)
	case (ch.Purpose == PurposeRotate) != (e.Supersedes != ""):
		return nil, fmt.Errorf("%w: enrolment of %s: a %s challenge with supersedes %q", ErrInvalid, d.ID, ch.Purpose, e.Supersedes)
	case d.EKHash != "" && d.EKHash != ch.EKHash, len(d.AKPublic) > 0 && !bytes.Equal(d.AKPublic, ch.AKPublic):
		return nil, fmt.Errorf("%w: enrolment of %s: EK or AK differs from the challenge's", ErrInvalid, d.ID)
	}
	dev, err := getDevice(tx, d.ID)
	if err != nil {
		return nil, fmt.Errorf("enrolment of a device not pre-registered: %w", err)
	}
	if dev.Status != DeviceActive {
		return nil, fmt.Errorf("%w: enrolment of %s: device is %s", ErrState, d.ID, dev.Status)
	}
	if ch.EKHash != "" && dev.EKHash != "" && ch.EKHash != dev.EKHash {
		return nil, fmt.Errorf("%w: enrolment of %s: challenge was made for another TPM than the registered one", ErrPolicy, d.ID)
	}
	if err := checkEKFree(tx, d.ID, ch.EKHash); err != nil {
		return nil, fmt.Errorf("enrolment of %s: %w", d.ID, err)
	}
	if ch.Purpose == PurposeRotate && len(dev.AKPublic) > 0 && !bytes.Equal(dev.AKPublic, ch.AKPublic) {
		return nil, fmt.Errorf("%w: rotation of %s must use the AK recorded at enrolment", ErrPolicy, d.ID)
	}
	if err := checkSupersedes(tx, d.ID, e.Supersedes, c.KeyHash); err != nil {
		return nil, fmt.Errorf("rotation of %s: %w", d.ID, err)
	}
	if err := checkNewCert(tx, c.Serial); err != nil {
		return nil, err
	}
	return func(tx kvTx) error {
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
		return db.auditEnrolment(tx, e, "", by)
	}, nil
}

// checkSoftwareRotation: record the new certificate of a device whose key
// is not in a TPM.
func (db *DB) checkSoftwareRotation(tx kvTx, e Enrolment, by Actor) (func(tx kvTx) error, error) {
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
	return func(tx kvTx) error {
		if err := insertCert(tx, c); err != nil {
			return err
		}
		return db.auditEnrolment(tx, e, "", by)
	}, nil
}

// auditEnrolment appends the "device.enrol" event of one enrolment.
func (db *DB) auditEnrolment(tx kvTx, e Enrolment, extra string, by Actor) error {
	c := e.Certificate
	detail := fmt.Sprintf("attestation=%s serial=%s fingerprint=%s", c.Attestation, c.Serial, c.Fingerprint)
	if e.Supersedes != "" {
		detail += " supersedes=" + e.Supersedes
	}
	return db.appendAudit(tx, "device.enrol", e.Device.ID, detail+extra, by)
}
