package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/smallfs"
)

// TestRegistryFull fills a 3 MB filesystem with registrations until the
// registry refuses one: the error is ErrRegistryFull, Health says so, and
// the file stays consistent. Revocations still commit, from freed pages
// and then from the disk reserve, and the first one that commits clears
// Full.
func TestRegistryFull(t *testing.T) {
	boltOnly(t)
	dir := smallfs.Mount(t, "3m")
	db, err := Open(filepath.Join(dir, "registry.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	meta := map[string]string{"note": strings.Repeat("x", 2000)}
	var ids []string
	for i := 0; ; i++ {
		id := fmt.Sprintf("fill-%05d", i)
		_, err = db.CreateDevice(ctx, Device{ID: id, Metadata: meta}, operator)
		if err != nil {
			break
		}
		ids = append(ids, id)
		if i > 100000 {
			t.Fatal("3 MB filesystem never filled")
		}
	}
	if !errors.Is(err, ErrRegistryFull) {
		t.Fatalf("after %d devices: %v; want ErrRegistryFull", len(ids), err)
	}
	if h := db.Health(); !h.Full || h.FullSince.IsZero() || !strings.Contains(h.FullError, "no space left") {
		t.Fatalf("Health = %+v; want Full with the ENOSPC error", h)
	}
	if _, err := db.Device(ctx, fmt.Sprintf("fill-%05d", len(ids))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused device was written: %v", err)
	}
	t.Logf("registry full after %d devices", len(ids))

	// Revocations: the ones that fit commit; count them.
	revoked := 0
	for _, id := range ids[:20] {
		if _, err := db.SetDeviceStatus(ctx, id, DeviceRevoked, "lost", operator); err != nil {
			if !errors.Is(err, ErrRegistryFull) {
				t.Fatalf("revoke %s: %v; want success or ErrRegistryFull", id, err)
			}
			if !db.Health().Full {
				t.Fatal("a refused revocation left Health not full")
			}
			continue
		}
		if h := db.Health(); h.Full {
			t.Fatalf("Health still full after a revocation committed: %+v", h)
		}
		revoked++
	}
	t.Logf("%d of 20 revocations committed on the full disk; %d writes refused in all", revoked, db.Health().FullWrites)
	// The disk reserve (1 MiB, released 256 KiB at a time) holds them all.
	if revoked != 20 {
		t.Fatalf("%d of 20 revocations committed; want all, from the disk reserve", revoked)
	}
	if h := db.Health(); h.FullWrites < 2 {
		t.Fatalf("FullWrites = %d; want the refused registration and at least one revocation that needed the reserve", h.FullWrites)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
}
