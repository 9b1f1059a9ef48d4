package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string) // makes the file before Open
		wantErr error                           // nil: Open must succeed
		after   func(t *testing.T, db *DB)      // checks the opened registry
	}{
		{name: "ok/new file in new directory"},
		{name: "ok/reopen", prepare: func(t *testing.T, path string) {
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			mustDevice(t, db, "kept-1")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}, after: func(t *testing.T, db *DB) {
			if _, err := db.Device(t.Context(), "kept-1"); err != nil {
				t.Errorf("device lost across reopen: %v", err)
			}
		}},
		{name: "error/other schema version", wantErr: ErrSchema, prepare: func(t *testing.T, path string) {
			createAndPatch(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(keySchema, []byte("2"))
			})
		}},
		{name: "error/version missing from meta", wantErr: ErrSchema, prepare: func(t *testing.T, path string) {
			createAndPatch(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Delete(keySchema)
			})
		}},
		{name: "error/foreign bbolt file", wantErr: ErrSchema, prepare: func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("something-else"))
				return err
			})
		}},
		{name: "error/bucket missing", wantErr: ErrSchema, prepare: func(t *testing.T, path string) {
			createAndPatch(t, path, func(tx *bolt.Tx) error {
				return tx.DeleteBucket(bucketCerts)
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "nested", "dir", "registry.db")
			if tt.prepare != nil {
				tt.prepare(t, path)
			}
			db, err := Open(path, Options{})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			if db.Path() != path {
				t.Errorf("Path = %q, want %q", db.Path(), path)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("file mode = %v, want 0600", fi.Mode().Perm())
			}
			if err := db.Check(); err != nil {
				t.Errorf("Check: %v", err)
			}
			if tt.after != nil {
				tt.after(t, db)
			}
		})
	}
}

func TestOpenLogger(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	db, err := Open(filepath.Join(t.TempDir(), "registry.db"), Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustDevice(t, db, "dev-1")
	if !strings.Contains(buf.String(), "device registered") || !strings.Contains(buf.String(), "device=dev-1") {
		t.Errorf("injected logger got %q", buf.String())
	}
}

func TestOpenNotABoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not bbolt ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a file that is not a bbolt database")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	first, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// flock(2) locks belong to the open file description, so a second open
	// in the same process conflicts just as another process would.
	start := time.Now()
	second, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrLocked) {
		if second != nil {
			second.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("second Open took %s with a 100ms lock timeout", elapsed)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	third.Close()
}

func TestClosed(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	w := db.Watch(context.Background())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, w)
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := db.Device(t.Context(), "dev-1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Device after Close = %v, want ErrClosed", err)
	}
	if _, err := db.CreateDevice(t.Context(), Device{ID: "dev-2"}, operator); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateDevice after Close = %v, want ErrClosed", err)
	}
	if _, err := db.AllocateSerial(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("AllocateSerial after Close = %v, want ErrClosed", err)
	}
	if err := db.Check(); !errors.Is(err, ErrClosed) {
		t.Errorf("Check after Close = %v, want ErrClosed", err)
	}
	waitClosed(t, db.Watch(context.Background()))
}

// createAndPatch creates a registry at path, closes it and then changes it
// with raw bbolt.
func createAndPatch(t *testing.T, path string, patch func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, patch)
}

// rawUpdate runs fn in a write transaction on the file with bbolt directly.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(fn); err != nil {
		t.Fatal(err)
	}
}
