package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

func TestPutChallenge(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *Challenge)
		wantErr error
	}{
		{name: "ok/enroll"},
		{name: "ok/rotate without EK", edit: func(c *Challenge) { c.Purpose, c.EKHash = PurposeRotate, "" }},
		{name: "error/short id", edit: func(c *Challenge) { c.ID = "abc" }, wantErr: ErrInvalid},
		{name: "error/upper-case id", edit: func(c *Challenge) { c.ID = strings.ToUpper(challengeID(0xabc)) }, wantErr: ErrInvalid},
		{name: "error/unknown purpose", edit: func(c *Challenge) { c.Purpose = "renew" }, wantErr: ErrInvalid},
		{name: "error/no AK", edit: func(c *Challenge) { c.AKPublic = nil }, wantErr: ErrInvalid},
		{name: "error/no secret", edit: func(c *Challenge) { c.Secret = nil }, wantErr: ErrInvalid},
		{name: "error/no nonce", edit: func(c *Challenge) { c.Nonce = nil }, wantErr: ErrInvalid},
		{name: "error/already expired", edit: func(c *Challenge) { c.ExpiresAt = testEpoch }, wantErr: ErrInvalid},
		{name: "error/no expiry", edit: func(c *Challenge) { c.ExpiresAt = time.Time{} }, wantErr: ErrInvalid},
		{name: "error/expiry too far", edit: func(c *Challenge) { c.ExpiresAt = c.ExpiresAt.Add(25 * time.Hour) }, wantErr: ErrInvalid},
		{name: "error/invalid device id", edit: func(c *Challenge) { c.DeviceID = "a/b" }, wantErr: ErrInvalid},
		{name: "error/malformed EK hash", edit: func(c *Challenge) { c.EKHash = "ek" }, wantErr: ErrInvalid},
		{name: "error/id in use", edit: func(c *Challenge) { c.ID = challengeID(100) }, wantErr: ErrExists},
		{name: "error/id of a consumed challenge", edit: func(c *Challenge) { c.ID = challengeID(101) }, wantErr: ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, clock := openClockedDB(t)
			mustDevice(t, db, "dev-1")
			mustChallenge(t, db, testChallenge(100, "dev-1", clock))
			used := mustChallenge(t, db, testChallenge(101, "dev-1", clock))
			if err := db.CompleteEnrollment(t.Context(), tpmEnrollment(used, "a1"), system); err != nil {
				t.Fatal(err)
			}
			c := testChallenge(1, "dev-1", clock)
			if tt.edit != nil {
				tt.edit(&c)
			}
			err := db.PutChallenge(t.Context(), c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("PutChallenge = %v, want %v", err, tt.wantErr)
			}
			got, err := db.Challenge(t.Context(), c.ID)
			if tt.wantErr == ErrExists {
				return // the earlier challenge is what Challenge reads
			}
			if tt.wantErr != nil {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("refused challenge is readable: %+v, %v", got, err)
				}
				return
			}
			if err != nil || got.ID != c.ID || got.DeviceID != c.DeviceID || got.Purpose != c.Purpose || got.EKHash != c.EKHash ||
				!bytes.Equal(got.AKPublic, c.AKPublic) || !bytes.Equal(got.Nonce, c.Nonce) || !bytes.Equal(got.Secret, c.Secret) ||
				!got.ExpiresAt.Equal(c.ExpiresAt) {
				t.Errorf("Challenge = %+v, %v; want %+v", got, err, c)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	db, clock := openClockedDB(t)
	mustDevice(t, db, "dev-1")
	live := mustChallenge(t, db, testChallenge(1, "dev-1", clock))
	consumed := mustChallenge(t, db, testChallenge(2, "dev-1", clock))
	if err := db.CompleteEnrollment(t.Context(), tpmEnrollment(consumed, "a1"), system); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		id      string
		advance time.Duration // clock moves before the read
		wantErr []error
	}{
		{name: "ok/live", id: live.ID},
		{name: "error/unknown", id: challengeID(3), wantErr: []error{ErrNotFound}},
		{name: "error/consumed", id: consumed.ID, wantErr: []error{ErrReplayed, ErrNotFound}},
		{name: "error/expired", id: live.ID, advance: time.Minute, wantErr: []error{ErrExpired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			got, err := db.Challenge(t.Context(), tt.id)
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Challenge = %v, want %v", err, want)
				}
			}
			if len(tt.wantErr) == 0 && (err != nil || got.ID != tt.id) {
				t.Errorf("Challenge = %+v, %v", got, err)
			}
			if len(tt.wantErr) != 0 && got.ID != "" {
				t.Errorf("Challenge returned %+v with an error", got)
			}
		})
	}
}

func TestChallengeSweep(t *testing.T) {
	db, clock := openClockedDB(t)
	mustDevice(t, db, "dev-1")
	// The test clock ticks a second per reading: an hour outlasts the setup.
	longLived := func(n int) Challenge {
		c := testChallenge(n, "dev-1", clock)
		c.ExpiresAt = c.ExpiresAt.Add(time.Hour)
		return c
	}
	consumed := mustChallenge(t, db, longLived(0))
	if err := db.CompleteEnrollment(t.Context(), tpmEnrollment(consumed, "a1"), system); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 150; i++ {
		mustChallenge(t, db, longLived(i))
	}
	if live, used, idx := challengeKeys(t, db); live != 150 || used != 1 || idx != 151 {
		t.Fatalf("before the sweep: %d live, %d used, %d index entries", live, used, idx)
	}
	clock.Advance(3 * time.Hour)

	mustChallenge(t, db, testChallenge(1000, "dev-1", clock))
	// One write sweeps up to sweepLimit (100 on bbolt, fewer on etcd).
	sweep := db.sweepLimit()
	left := 151 - sweep // expired, still there
	if live, used, idx := challengeKeys(t, db); live != left+1 || used != 0 || idx != left+1 {
		t.Errorf("after one sweep: %d live, %d used, %d index entries; want %d, 0, %[4]d (the oldest %d of 151 gone, one new)", live, used, idx, left+1, sweep)
	}
	// A consumed challenge that has been forgotten is simply unknown.
	if _, err := db.Challenge(t.Context(), consumed.ID); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrReplayed) {
		t.Errorf("Challenge(forgotten) = %v, want ErrNotFound only", err)
	}
	mustChallenge(t, db, testChallenge(1001, "dev-1", clock))
	want := left - min(sweep, left) + 2
	if live, used, idx := challengeKeys(t, db); live != want || used != 0 || idx != want {
		t.Errorf("after two sweeps: %d live, %d used, %d index entries; want %d, 0, %[4]d", live, used, idx, want)
	}
	for _, n := range []int{1000, 1001} {
		if _, err := db.Challenge(t.Context(), challengeID(n)); err != nil {
			t.Errorf("fresh challenge %d swept: %v", n, err)
		}
	}
}

// challengeKeys counts the keys of the challenge buckets.
func challengeKeys(t *testing.T, db *DB) (live, used, index int) {
	t.Helper()
	err := db.view(t.Context(), func(tx kv.Tx) error {
		count := func(name []byte) (n int) {
			_ = tx.Bucket(name).ForEach(func(_, _ []byte) error { n++; return nil })
			return n
		}
		live, used, index = count(bucketChallenges), count(bucketChallengesUsed), count(bucketChallengeExpiry)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return live, used, index
}
