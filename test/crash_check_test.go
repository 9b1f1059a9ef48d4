package test

import (
	"math/big"
	"os"
	"strconv"
	"testing"

	"github.com/fleetgate/fleetgate/store"
)

// crashCounts is what one registry check saw.
type crashCounts struct {
	devices, certificates, usedTokens int
}

// checkRegistry opens the registry of a server that is not running (it
// was killed) and checks that the crash lost nothing acknowledged and
// left nothing half done:
//
//   - the file passes bbolt's consistency check;
//   - every device of the group was enrolled by exactly one consumed
//     token, holds its enrollment certificate, and every consumed token
//     names a device that exists (no half-enrolled device, no token spent
//     for nothing);
//   - no serial counter appears twice, every acknowledged certificate is
//     there with the fingerprint the client was given, and the next serial
//     the registry hands out is above all of them (no serial is reused);
//   - a rotated certificate names a predecessor of the same device;
//   - every acknowledged revocation is still in force, and a revoked
//     device holds no active certificate.
func checkRegistry(t *testing.T, path string, m *crashModel, group string) crashCounts {
	t.Helper()
	db, err := store.Open(path, store.Options{LockTimeout: attackWait})
	if err != nil {
		t.Fatalf("reopen the registry after the kill: %v", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("consistency check: %v", err)
	}
	devs, err := db.Devices(t.Context(), store.DeviceFilter{Group: group})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := db.Tokens(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	var c crashCounts
	usedBy := map[string]int{}
	for _, tok := range toks {
		if !tok.UsedAt.IsZero() {
			usedBy[tok.UsedBy]++
			c.usedTokens++
		}
	}
	counters := map[string]string{} // serial counter → serial
	maxCounter := new(big.Int)
	exists := map[string]bool{}
	for _, d := range devs {
		exists[d.ID] = true
		c.devices++
		if usedBy[d.ID] != 1 {
			t.Fatalf("device %s was enrolled by %d consumed tokens, want 1", d.ID, usedBy[d.ID])
		}
		certs, err := db.Certificates(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		enrollments := 0
		for _, cert := range certs {
			c.certificates++
			if cert.Supersedes == "" {
				enrollments++
			} else if prev, err := db.Certificate(t.Context(), cert.Supersedes); err != nil || prev.DeviceID != d.ID {
				t.Fatalf("certificate %s of %s supersedes %s, which is not the device's (%v)", cert.Serial, d.ID, cert.Supersedes, err)
			}
			n := serialCounter(cert.Serial)
			if n == nil {
				t.Fatalf("certificate serial %q is not hex", cert.Serial)
			}
			if other, dup := counters[n.String()]; dup {
				t.Fatalf("serial counter %s used twice: %s and %s", n, other, cert.Serial)
			}
			counters[n.String()] = cert.Serial
			if n.Cmp(maxCounter) > 0 {
				maxCounter.Set(n)
			}
			if d.Status == store.DeviceRevoked && cert.Status == store.CertActive {
				t.Fatalf("revoked device %s holds active certificate %s", d.ID, cert.Serial)
			}
		}
		if enrollments != 1 {
			t.Fatalf("device %s holds %d enrollment certificates (of %d), want 1", d.ID, enrollments, len(certs))
		}
	}
	for id, n := range usedBy {
		if !exists[id] {
			t.Fatalf("%d token(s) consumed by %s, which does not exist", n, id)
		}
	}
	for serial, want := range m.serials {
		got, err := db.Certificate(t.Context(), serial)
		if err != nil {
			t.Fatalf("acknowledged certificate %s of %s is gone: %v", serial, want.deviceID, err)
		}
		if got.Fingerprint != want.fingerprint || got.DeviceID != want.deviceID {
			t.Fatalf("serial %s now names %s/%s, but %s/%s was acknowledged", serial, got.DeviceID, got.Fingerprint, want.deviceID, want.fingerprint)
		}
	}
	for id := range m.revokedDev {
		d, err := db.Device(t.Context(), id)
		if err != nil || d.Status != store.DeviceRevoked {
			t.Fatalf("acknowledged revocation of %s lost: status %q, %v", id, d.Status, err)
		}
	}
	for serial := range m.revokedCrt {
		cert, err := db.Certificate(t.Context(), serial)
		if err != nil || cert.Status != store.CertRevoked {
			t.Fatalf("acknowledged revocation of certificate %s lost: status %q, %v", serial, cert.Status, err)
		}
	}
	next, err := db.AllocateSerial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := new(big.Int).Rsh(next, 64); n.Cmp(maxCounter) <= 0 {
		t.Fatalf("next serial counter %s is not above the highest recorded %s", n, maxCounter)
	}
	return c
}

// crashIterations is the number of kills: FLEETGATE_CRASH_ITER, or def
// for a quick `go test`.
func crashIterations(t *testing.T, def int) int {
	t.Helper()
	s := os.Getenv("FLEETGATE_CRASH_ITER")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("FLEETGATE_CRASH_ITER=%q is not a positive number", s)
	}
	return n
}
