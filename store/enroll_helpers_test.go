package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"
)

// Advance moves the clock forward, for tests of expiry.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openClockedDB is openTestDB with the clock handed to the test.
func openClockedDB(t testing.TB) (*DB, *testClock) {
	t.Helper()
	clock := newTestClock()
	db := openBackend(t, Options{Now: clock.Now})
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, clock
}

// hashOf returns the lower-case hex SHA-256 of s: a stand-in for EK and key
// hashes.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// mustGroup stores a group.
func mustGroup(t testing.TB, db *DB, name string, requireTPM, allowTokens bool) Group {
	t.Helper()
	g, err := db.PutGroup(t.Context(), Group{Name: name, RequireTPM: requireTPM, AllowTokens: allowTokens}, operator)
	if err != nil {
		t.Fatalf("PutGroup(%s): %v", name, err)
	}
	return g
}

// mustTokens creates n tokens for a group, valid for an hour.
func mustTokens(t testing.TB, db *DB, group string, n int) []string {
	t.Helper()
	tokens, err := db.CreateTokens(t.Context(), group, n, time.Hour, operator)
	if err != nil {
		t.Fatalf("CreateTokens(%s, %d): %v", group, n, err)
	}
	return tokens
}

// enrollCert returns a valid certificate record for an enrollment, with the
// attestation left for CompleteEnrollment to fill in.
func enrollCert(deviceID, serial string) Certificate {
	c := testCert(deviceID, serial)
	c.Attestation = ""
	c.KeyHash = hashOf("key of " + serial)
	return c
}

// tokenEnrollment enrolls a new device with a token.
func tokenEnrollment(token, deviceID, serial string) Enrollment {
	return Enrollment{TokenHash: HashToken(token), Device: Device{ID: deviceID}, Certificate: enrollCert(deviceID, serial)}
}

// challengeID returns a valid challenge ID derived from n.
func challengeID(n int) string { return fmt.Sprintf("%032x", n+1) }

// testChallenge returns a valid enrollment challenge for a device, expiring
// a minute after the clock's current reading.
func testChallenge(n int, deviceID string, clock *testClock) Challenge {
	return Challenge{
		ID: challengeID(n), DeviceID: deviceID, Purpose: PurposeEnroll,
		EKHash: hashOf("ek of " + deviceID), AKPublic: []byte("ak of " + deviceID),
		Secret: make([]byte, 32), Nonce: make([]byte, 32),
		ExpiresAt: clock.peek().Add(time.Minute),
	}
}

// peek returns the clock's next reading without advancing it.
func (c *testClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// mustChallenge stores a challenge.
func mustChallenge(t testing.TB, db *DB, c Challenge) Challenge {
	t.Helper()
	if err := db.PutChallenge(t.Context(), c); err != nil {
		t.Fatalf("PutChallenge(%s): %v", c.ID, err)
	}
	return c
}

// tpmEnrollment finishes a challenge with a new certificate.
func tpmEnrollment(c Challenge, serial string) Enrollment {
	return Enrollment{ChallengeID: c.ID, Device: Device{ID: c.DeviceID}, Certificate: enrollCert(c.DeviceID, serial)}
}

// deviceCount returns how many devices the registry holds.
func deviceCount(t testing.TB, db *DB) int {
	t.Helper()
	all, err := db.Devices(t.Context(), DeviceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// certCount returns how many certificates the registry holds.
func certCount(t testing.TB, db *DB) int {
	t.Helper()
	all, err := db.Certificates(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}
