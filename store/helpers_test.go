package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"
)

// testEpoch is the first time a testClock returns.
var testEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testClock advances one second per reading, so every timestamp differs and
// tests can predict them.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: testEpoch} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.t
	c.t = c.t.Add(time.Second)
	return now
}

// openTestDB opens a registry in a fresh temporary directory and, at the end
// of the test, checks its consistency and closes it.
func openTestDB(t testing.TB) *DB {
	t.Helper()
	db := openBackend(t, Options{Now: newTestClock().Now})
	t.Cleanup(func() {
		if err := db.Check(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Check: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

var (
	operator = Actor{Name: "alice", Remote: "192.0.2.1:5000"}
	system   = Actor{Name: "system"}
)

// mustDevice registers an active device.
func mustDevice(t testing.TB, db *DB, id string) Device {
	t.Helper()
	d, err := db.CreateDevice(t.Context(), Device{ID: id}, operator)
	if err != nil {
		t.Fatalf("CreateDevice(%s): %v", id, err)
	}
	return d
}

// testCert returns a valid certificate record for a device.
func testCert(deviceID, serial string) Certificate {
	sum := sha256.Sum256([]byte(serial))
	return Certificate{
		Serial:      serial,
		Fingerprint: hex.EncodeToString(sum[:]),
		DeviceID:    deviceID,
		NotBefore:   testEpoch,
		NotAfter:    testEpoch.Add(90 * 24 * time.Hour),
		Attestation: AttestOperator,
		DER:         []byte("not a real certificate: the registry does not parse DER"),
	}
}

// mustCert records a certificate.
func mustCert(t testing.TB, db *DB, deviceID, serial string) Certificate {
	t.Helper()
	if err := db.AddCertificate(t.Context(), testCert(deviceID, serial), operator); err != nil {
		t.Fatalf("AddCertificate(%s, %s): %v", deviceID, serial, err)
	}
	c, err := db.Certificate(t.Context(), serial)
	if err != nil {
		t.Fatalf("Certificate(%s): %v", serial, err)
	}
	return c
}

// auditLen returns how many events the audit log holds.
func auditLen(t testing.TB, db *DB) int {
	t.Helper()
	events, err := db.Audit(t.Context(), AuditFilter{})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	return len(events)
}

// lastAudit returns the newest audit event.
func lastAudit(t testing.TB, db *DB) AuditEvent {
	t.Helper()
	events, err := db.Audit(t.Context(), AuditFilter{Limit: 1})
	if err != nil || len(events) != 1 {
		t.Fatalf("Audit(Limit 1) = %v, %v", events, err)
	}
	return events[0]
}

// receive reads one change or fails after a generous deadline.
func receive(t testing.TB, ch <-chan Change) Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed early")
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change received within 10s")
	}
	return Change{}
}

// waitClosed fails unless ch is closed (after draining whatever is left)
// within a generous deadline.
func waitClosed(t testing.TB, ch <-chan Change) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed within 10s")
		}
	}
}
