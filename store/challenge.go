package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// Challenge is the server's half of a TPM enrollment or rotation between the
// start call, which makes it, and the finish call, which consumes it in
// CompleteEnrollment. It is single-use and short-lived.
type Challenge struct {
	ID        string    `json:"id"` // random, 32 lower-case hex digits; the caller sets it
	DeviceID  string    `json:"device_id"`
	Purpose   string    `json:"purpose"` // PurposeEnroll or PurposeRotate
	EKHash    string    `json:"ek_hash,omitempty"`
	AKPublic  []byte    `json:"ak_public"` // TPM2B_PUBLIC of the attestation key
	Secret    []byte    `json:"secret"`    // credential-activation secret
	Nonce     []byte    `json:"nonce"`     // Certify qualifying data
	ExpiresAt time.Time `json:"expires_at"`
}

// Challenge purposes.
const (
	PurposeEnroll = "enroll" // first certificate of a pre-registered device
	PurposeRotate = "rotate" // a new certificate replacing an active one
)

// maxChallengeTTL bounds how far ahead a challenge may expire: challenges
// are meant to live for the minutes an enrollment takes, and a remembered
// consumed ID must be forgotten some day.
const maxChallengeTTL = 24 * time.Hour

// maxSweep bounds the expired challenges one PutChallenge removes, so that
// the cost of cleaning up stays small and proportional to new work.
const maxSweep = 100

// PutChallenge stores a new challenge. Every field must be set (ErrInvalid):
// ID as 32 lower-case hex digits, a valid device ID, a known purpose,
// non-empty AK, secret and nonce, an EK hash (if any) as 64 lower-case hex
// digits, and an expiry in the future but within 24 hours. An ID used before, even by a
// consumed challenge still remembered, gives ErrExists. It also deletes up
// to 100 expired challenges and forgets consumed ones past their expiry.
func (db *DB) PutChallenge(ctx context.Context, c Challenge) error {
	if err := validateChallenge(c, db.clock()); err != nil {
		return err
	}
	return db.batch.submit(ctx, func(tx kv.Tx) (func(tx kv.Tx) error, error) {
		if tx.Bucket(bucketChallenges).Get([]byte(c.ID)) != nil || tx.Bucket(bucketChallengesUsed).Get([]byte(c.ID)) != nil {
			return nil, fmt.Errorf("%w: challenge %s", ErrExists, c.ID)
		}
		return func(tx kv.Tx) error {
			if err := sweepChallenges(tx, db.clock(), db.sweepLimit()); err != nil {
				return err
			}
			if err := putJSON(tx.Bucket(bucketChallenges), []byte(c.ID), c); err != nil {
				return err
			}
			return tx.Bucket(bucketChallengeExpiry).Put(expiryKey(c.ExpiresAt, c.ID), []byte{})
		}, nil
	})
}

// Challenge returns a live challenge without consuming it. It returns
// ErrExpired once the challenge is past ExpiresAt, and ErrNotFound when
// there is none; for a challenge already consumed (and still remembered)
// the error is both ErrReplayed and ErrNotFound.
func (db *DB) Challenge(ctx context.Context, id string) (Challenge, error) {
	var c Challenge
	err := db.view(ctx, func(tx kv.Tx) error {
		var err error
		c, err = liveChallenge(tx, id, db.clock())
		if errors.Is(err, ErrReplayed) {
			return fmt.Errorf("%w: %w", err, ErrNotFound)
		}
		return err
	})
	return c, err
}

// validateChallenge checks a challenge before it is stored.
func validateChallenge(c Challenge, now time.Time) error {
	switch {
	case len(c.ID) != 32 || !isLowerHex(c.ID):
		return fmt.Errorf("%w: challenge id %q is not 32 lower-case hex digits", ErrInvalid, c.ID)
	case c.Purpose != PurposeEnroll && c.Purpose != PurposeRotate:
		return fmt.Errorf("%w: challenge %s: purpose %q (want %q or %q)", ErrInvalid, c.ID, c.Purpose, PurposeEnroll, PurposeRotate)
	case len(c.AKPublic) == 0 || len(c.Secret) == 0 || len(c.Nonce) == 0:
		return fmt.Errorf("%w: challenge %s: AK public area, secret and nonce are required", ErrInvalid, c.ID)
	case !c.ExpiresAt.After(now) || c.ExpiresAt.After(now.Add(maxChallengeTTL)):
		return fmt.Errorf("%w: challenge %s: expiry %s is not within %s from now", ErrInvalid, c.ID, c.ExpiresAt.UTC().Format(time.RFC3339), maxChallengeTTL)
	}
	if err := identity.ValidateID(c.DeviceID); err != nil {
		return fmt.Errorf("%w: challenge %s: %w", ErrInvalid, c.ID, err)
	}
	return validateEKHash(c.DeviceID, c.EKHash)
}

// liveChallenge reads a challenge that may still be consumed: ErrNotFound
// when unknown, ErrReplayed when already consumed, ErrExpired when too old.
func liveChallenge(tx kv.Tx, id string, now time.Time) (Challenge, error) {
	var c Challenge
	found, err := getJSON(tx.Bucket(bucketChallenges), []byte(id), &c)
	switch {
	case err != nil:
		return Challenge{}, err
	case !found && tx.Bucket(bucketChallengesUsed).Get([]byte(id)) != nil:
		return Challenge{}, fmt.Errorf("%w: challenge %s was consumed", ErrReplayed, id)
	case !found:
		return Challenge{}, fmt.Errorf("%w: challenge %q", ErrNotFound, id)
	case !now.Before(c.ExpiresAt):
		return Challenge{}, fmt.Errorf("%w: challenge %s expired at %s", ErrExpired, id, c.ExpiresAt.Format(time.RFC3339))
	}
	return c, nil
}

// consumeChallenge deletes a challenge and remembers its ID until its
// expiry, so that a replay is told apart from a guess. Its expiry index
// entry stays: the sweep uses it to forget the ID later.
func consumeChallenge(tx kv.Tx, c Challenge) error {
	if err := tx.Bucket(bucketChallenges).Delete([]byte(c.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketChallengesUsed).Put([]byte(c.ID), binary.BigEndian.AppendUint64(nil, uint64(c.ExpiresAt.UnixNano())))
}

// sweepChallenges deletes up to limit challenges, live or consumed, whose
// expiry has passed, oldest first.
func sweepChallenges(tx kv.Tx, now time.Time, limit int) error {
	idx := tx.Bucket(bucketChallengeExpiry)
	end := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	var done [][]byte
	err := idx.Ascend(nil, func(k, _ []byte) (bool, error) {
		if len(done) >= limit || bytes.Compare(k[:8], end) >= 0 {
			return false, nil
		}
		done = append(done, bytes.Clone(k))
		return true, nil
	})
	if err != nil {
		return err
	}
	// Deleting while a scan walks the bucket skips keys: delete afterwards.
	for _, k := range done {
		id := k[8:]
		if err := tx.Bucket(bucketChallenges).Delete(id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketChallengesUsed).Delete(id); err != nil {
			return err
		}
		if err := idx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// expiryKey orders challenge IDs by expiry for the sweep.
func expiryKey(expires time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(expires.UnixNano())), id...)
}

// sweepLimit is how many expired challenges one write may remove: maxSweep,
// or fewer where the backend bounds a transaction (each costs a read and
// three deletes).
func (db *DB) sweepLimit() int {
	if limit := db.txnLimit(); limit > 0 {
		return min(maxSweep, max(1, (limit-16)/4))
	}
	return maxSweep
}
