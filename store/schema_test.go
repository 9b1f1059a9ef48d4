package store

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestOpenFileOfFirstRelease opens a file laid out as the first release
// wrote it (schema 1, without the enrollment buckets) and uses the new
// features on it.
func TestOpenFileOfFirstRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustDevice(t, db, "old-1")
	mustCert(t, db, "old-1", "a1")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		for _, name := range addedBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	})

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a first-release file: %v", err)
	}
	defer db.Close()
	if _, _, err := db.Lookup(t.Context(), "old-1", "a1"); err != nil {
		t.Errorf("old records lost: %v", err)
	}
	mustGroup(t, db, "sim", false, true)
	token := mustTokens(t, db, "sim", 1)[0]
	if err := db.CompleteEnrollment(t.Context(), tokenEnrollment(token, "new-1", "b1"), system); err != nil {
		t.Errorf("token enrollment on an upgraded file: %v", err)
	}
	if err := db.CompleteEnrollment(t.Context(), rotation("new-1", "b1", "b2", "k"), system); err != nil {
		t.Errorf("rotation on an upgraded file: %v", err)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
	// The file is locked while open: look at its buckets once closed.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		for _, name := range addedBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s not created on open", name)
			}
		}
		return nil
	})
}
