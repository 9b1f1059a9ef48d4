package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/fleetgate/fleetgate/store/kv"
)

// ImportError says which row of an ImportDevices batch was refused and why.
// Nothing of the batch was written.
type ImportError struct {
	Index int    // 0-based position of the row in the slice
	ID    string // the row's device ID, as given
	Err   error  // the cause; errors.Is sees through to the sentinel
}

// Error names the row, the device and the cause.
func (e *ImportError) Error() string {
	return fmt.Sprintf("import row %d (device %q): %v", e.Index, e.ID, e.Err)
}

// Unwrap returns the cause.
func (e *ImportError) Unwrap() error { return e.Err }

// ImportDevices pre-registers devices from the factory line: all rows or
// none, in one transaction, and safe to repeat. Each row is checked as
// CreateDevice checks it; its group, when set, must exist (ErrNotFound);
// its EKHash, when set, must be unique within the batch and the registry
// (ErrExists). A row whose device already exists with the same group,
// metadata, EK hash and ACL grants counts as unchanged and is not written;
// one that exists with other values, or whose ID repeats an earlier row,
// gives ErrExists. The first refused row comes back as an *ImportError and
// nothing is written. A batch that creates devices records one
// "device.import" audit event; one that creates none records nothing.
func (db *DB) ImportDevices(ctx context.Context, devs []Device, by Actor) (created, unchanged int, err error) {
	// Rows are checked in order, so the error names the first bad row
	// whether its fault shows alone or only against the registry.
	rows := make([]Device, 0, len(devs))
	var refused *ImportError // the first row that fails on its own
	rowOfID := make(map[string]int, len(devs))
	rowOfEK := make(map[string]int, len(devs))
	for i, d := range devs {
		if err := checkImportRow(&d, i, rowOfID, rowOfEK); err != nil {
			refused = &ImportError{Index: i, ID: d.ID, Err: err}
			break
		}
		rows = append(rows, d)
	}
	// Every check of a transaction comes before its first write: a refused
	// row leaves the transaction untouched, so returning its error writes
	// nothing.
	check := func(tx kv.Tx, rows []Device, base int) (fresh []bool, same int, err error) {
		fresh = make([]bool, len(rows))
		for i, d := range rows {
			refuse := func(err error) ([]bool, int, error) {
				return nil, 0, &ImportError{Index: base + i, ID: d.ID, Err: err}
			}
			if _, err := getGroup(tx, d.Group); err != nil {
				return refuse(err)
			}
			old, err := getDevice(tx, d.ID)
			switch {
			case err == nil && sameImport(old, d):
				same++
				continue
			case err == nil:
				return refuse(fmt.Errorf("%w: device %s is registered with other settings", ErrExists, d.ID))
			case !errors.Is(err, ErrNotFound):
				return refuse(err)
			}
			if err := checkEKFree(tx, d.ID, d.EKHash); err != nil {
				return refuse(err)
			}
			fresh[i] = true
		}
		return fresh, same, nil
	}
	apply := func(rows []Device, base int) (made, same int, err error) {
		err = db.update(ctx, func(tx kv.Tx) ([]Change, error) {
			fresh, n, err := check(tx, rows, base)
			if err != nil {
				return nil, err
			}
			made, same = 0, n
			now := db.clock()
			for i, d := range rows {
				if !fresh[i] {
					continue
				}
				d.CreatedAt, d.UpdatedAt = now, now
				if err := putJSON(tx.Bucket(bucketDevices), []byte(d.ID), d); err != nil {
					return nil, err
				}
				if err := putEKOwner(tx, d.ID, d.EKHash); err != nil {
					return nil, err
				}
				made++
			}
			if made == 0 {
				return nil, nil
			}
			detail := fmt.Sprintf("rows=%d created=%d unchanged=%d", len(rows), made, same)
			if base > 0 || len(rows) < len(devs) {
				detail += fmt.Sprintf(" part_from_row=%d", base)
			}
			return nil, db.appendAudit(tx, "device.import", "devices", detail, by)
		})
		return made, same, err
	}
	// etcd bounds the operations of one transaction: a larger import is
	// checked whole in one read, then written in parts. Should a part fail
	// after others committed, running the same import again completes it
	// (existing rows count as unchanged).
	per := len(rows)
	if limit := db.txnLimit(); limit > 0 {
		per = max(1, (limit-8)/4) // a row reads and writes up to 4 keys
	}
	if per < len(rows) || refused != nil {
		err = db.view(ctx, func(tx kv.Tx) error { _, _, err := check(tx, rows, 0); return err })
		if err == nil && refused != nil {
			err = refused
		}
		if err != nil {
			return 0, 0, err
		}
	}
	created, unchanged = 0, 0
	for base := 0; base < len(rows) && err == nil; base += per {
		var made, same int
		made, same, err = apply(rows[base:min(base+per, len(rows))], base)
		created, unchanged = created+made, unchanged+same
	}
	if err != nil {
		return 0, 0, err
	}
	if created > 0 {
		db.log.Info("devices imported", "created", created, "unchanged", unchanged, "actor", by.Name)
	}
	return created, unchanged, nil
}

// checkImportRow checks one row on its own and against the rows before it,
// whose IDs and EK hashes rowOfID and rowOfEK collect.
func checkImportRow(d *Device, i int, rowOfID, rowOfEK map[string]int) error {
	if err := validateNewDevice(d); err != nil {
		return err
	}
	if j, dup := rowOfID[d.ID]; dup {
		return fmt.Errorf("%w: device %s is also row %d", ErrExists, d.ID, j)
	}
	rowOfID[d.ID] = i
	if d.EKHash != "" {
		if j, dup := rowOfEK[d.EKHash]; dup {
			return fmt.Errorf("%w: EK hash %s is also in row %d", ErrExists, d.EKHash, j)
		}
		rowOfEK[d.EKHash] = i
	}
	return nil
}

// sameImport reports whether an existing device already holds what an
// import row asks for, so that repeating an import is harmless.
func sameImport(old, row Device) bool {
	return old.Group == row.Group && old.EKHash == row.EKHash &&
		maps.Equal(old.Metadata, row.Metadata) &&
		slices.Equal(old.Publish, row.Publish) && slices.Equal(old.Subscribe, row.Subscribe)
}
