package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Disk reserve of a bbolt registry. When the disk fills, every write the
// file needs to grow fails; a revocation must still get through, since it
// is what an operator does when a device is lost, full disk or not. So
// Open sets aside a reserve file next to the registry, and a revocation
// refused for want of room shrinks it by one chunk and tries again. Other
// writes never touch the reserve (they may use what a revocation freed).
const (
	// DefaultReserveBytes is the reserve's size: four chunks of 256 KiB,
	// each enough for a revocation's pages (a device, its certificates, an
	// audit event, the branch pages above them and the freelist) many times
	// over.
	DefaultReserveBytes = 1 << 20
	reserveChunk        = 256 << 10
)

// reserve is the reserve file; the zero value (no path) holds nothing.
type reserve struct {
	mu   sync.Mutex
	path string
	size int64
	log  *slog.Logger
}

// openReserve creates or tops up the reserve file at path to size bytes,
// written for real (a sparse file would hold no blocks; written blocks are
// allocated, or reserved by delayed allocation, at write time, so no sync
// is needed). On a disk too
// full for all of it, it keeps what fit and logs a warning.
func openReserve(path string, size int64, log *slog.Logger) *reserve {
	r := &reserve{path: path, log: log}
	if size <= 0 {
		return r
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		log.Warn("registry disk reserve not created", "path", path, "error", err)
		return r
	}
	defer f.Close()
	have, err := f.Seek(0, 2)
	if err == nil && have < size {
		zeros := make([]byte, 64<<10)
		for have < size && err == nil {
			var n int
			n, err = f.Write(zeros[:min(int64(len(zeros)), size-have)])
			have += int64(n)
		}
	}
	r.size = have
	if err != nil {
		log.Warn("registry disk reserve smaller than asked", "path", path, "bytes", have, "want", size, "error", err)
	}
	return r
}

// release shrinks the reserve by one chunk; false when it is used up.
func (r *reserve) release() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.path == "" || r.size <= 0 {
		return false
	}
	r.size = max(0, r.size-reserveChunk)
	if err := os.Truncate(r.path, r.size); err != nil {
		r.log.Error("registry disk reserve could not be released", "path", r.path, "error", err)
		r.size = 0
		return false
	}
	r.log.Warn("registry disk full: released part of the disk reserve for a revocation", "path", r.path, "reserve_left", r.size)
	return true
}

// updateEssential is update for revocations and device status changes
// (suspend, resume, revoke): when the disk
// is full it releases part of the reserve and tries again, chunk by chunk.
func (db *DB) updateEssential(ctx context.Context, fn func(tx kv.Tx) ([]Change, error)) error {
	return db.essential(ctx, db.update, fn)
}

// essential runs fn through update, releasing the disk reserve chunk by
// chunk while the registry is full.
func (db *DB) essential(ctx context.Context, update func(context.Context, func(kv.Tx) ([]Change, error)) error, fn func(tx kv.Tx) ([]Change, error)) error {
	err := update(ctx, fn)
	for errors.Is(err, ErrRegistryFull) && db.reserve.release() {
		err = update(ctx, fn)
	}
	if errors.Is(err, ErrRegistryFull) {
		return fmt.Errorf("%w (the disk reserve is used up)", err)
	}
	return err
}
