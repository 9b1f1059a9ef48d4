package store

import (
	"errors"
	"testing"
)

// A device whose answer was lost presents its spent token again with the
// same key: it gets the certificate already issued, and nothing else does.
func TestFindTokenRetry(t *testing.T) {
	db, clock := openClockedDB(t)
	mustGroup(t, db, "sim", false, true)
	tokens := mustTokens(t, db, "sim", 3)
	e := tokenEnrollment(tokens[0], "dev-1", "1a")
	if err := db.CompleteEnrollment(t.Context(), e, system); err != nil {
		t.Fatalf("CompleteEnrollment: %v", err)
	}
	hash, key := HashToken(tokens[0]), e.Certificate.KeyHash

	c, err := db.FindTokenRetry(t.Context(), hash, "dev-1", key)
	if err != nil || c.Serial != "1a" || len(c.DER) == 0 {
		t.Fatalf("FindTokenRetry of the enrolling device and key = %s (DER %d bytes), %v; want 1a with its DER", c.Serial, len(c.DER), err)
	}

	refusals := []struct {
		name, hash, device, key string
		want                    error
	}{
		{"error/another-key", hash, "dev-1", hashOf("another key"), ErrReplayed},
		{"error/another-device", hash, "dev-2", key, ErrReplayed},
		{"error/unused-token", HashToken(tokens[1]), "dev-1", key, ErrNotFound},
		{"error/unknown-token", HashToken("fgt_unknown"), "dev-1", key, ErrNotFound},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			if c, err := db.FindTokenRetry(t.Context(), r.hash, r.device, r.key); !errors.Is(err, r.want) {
				t.Errorf("FindTokenRetry = %s, %v; want %v", c.Serial, err, r.want)
			}
		})
	}

	t.Run("error/revoked-certificate", func(t *testing.T) {
		e := tokenEnrollment(tokens[2], "dev-3", "3a")
		if err := db.CompleteEnrollment(t.Context(), e, system); err != nil {
			t.Fatalf("CompleteEnrollment: %v", err)
		}
		if _, err := db.RevokeCertificate(t.Context(), "3a", "lost", operator); err != nil {
			t.Fatal(err)
		}
		if c, err := db.FindTokenRetry(t.Context(), HashToken(tokens[2]), "dev-3", e.Certificate.KeyHash); !errors.Is(err, ErrReplayed) {
			t.Errorf("FindTokenRetry of a revoked certificate = %s, %v; want ErrReplayed", c.Serial, err)
		}
	})

	t.Run("error/after-the-window", func(t *testing.T) {
		clock.Advance(TokenRetryWindow + 1)
		if c, err := db.FindTokenRetry(t.Context(), hash, "dev-1", key); !errors.Is(err, ErrReplayed) {
			t.Errorf("FindTokenRetry after the window = %s, %v; want ErrReplayed", c.Serial, err)
		}
	})
}
