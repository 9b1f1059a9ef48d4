package store

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// RefusalLog is what the refusal log holds about one device: its entries,
// newest first, and how many refusals gave way to newer ones.
type RefusalLog struct {
	Entries []Refusal
	Dropped int
}

// RefusalStats sums up the whole log: the subjects with entries and the
// refusals pruned with whole subjects (past RefusalSubjects).
type RefusalStats struct {
	Subjects int `json:"subjects"`
	Dropped  int `json:"dropped"`
}

// DeviceRefusals returns the refusals filed under a device ID: those of
// certificates naming it, and those of connections claiming it as client
// ID. A device never refused has an empty log, not ErrNotFound.
func (db *DB) DeviceRefusals(ctx context.Context, id string) (RefusalLog, error) {
	var set refusalSet
	err := db.view(ctx, func(tx kv.Tx) error {
		_, err := getJSON(tx.Bucket(bucketRefusals), []byte("d/"+id), &set)
		return err
	})
	slices.Reverse(set.Entries)
	return RefusalLog{Entries: set.Entries, Dropped: set.Dropped}, err
}

// RefusalQuery selects refusals from the whole log.
type RefusalQuery struct {
	// Unregistered keeps the refusals of certificates that name no
	// registered device (no identity at all, or an ID the registry does
	// not know).
	Unregistered bool
	Limit        int // the newest Limit; 0: all
}

// Refusals returns the refusals q selects, newest first, with the log's
// totals. Each appears once, under the subject of its certificate; the
// copies filed under a claimed client ID are left out.
func (db *DB) Refusals(ctx context.Context, q RefusalQuery) ([]Refusal, RefusalStats, error) {
	var out []Refusal
	var meta refusalMeta
	err := db.view(ctx, func(tx kv.Tx) error {
		out = out[:0]
		devices := tx.Bucket(bucketDevices)
		b := tx.Bucket(bucketRefusals)
		if _, err := getJSON(b, keyRefusalMeta, &meta); err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			id, isDevice := bytes.CutPrefix(k, []byte("d/"))
			if !isDevice && !bytes.HasPrefix(k, []byte("f/")) || q.Unregistered && isDevice && devices.Get(id) != nil {
				return nil
			}
			var set refusalSet
			if err := decode(v, &set); err != nil {
				return err
			}
			for _, r := range set.Entries {
				if !isDevice || r.DeviceID == string(id) {
					out = append(out, r)
				}
			}
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b Refusal) int { return b.Time.Compare(a.Time) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, RefusalStats(meta), err
}

// pruneRefusals deletes the least recently refused subjects until the log
// is a tenth under RefusalSubjects (at most refusalPruneMax per call, so
// that a transaction stays within etcd's limits; later batches go on),
// counting their refusals as dropped.
func pruneRefusals(b kv.Bucket, meta *refusalMeta) error {
	type subject struct {
		key   []byte
		last  time.Time
		count int
	}
	var all []subject
	err := b.ForEach(func(k, v []byte) error {
		if bytes.Equal(k, keyRefusalMeta) {
			return nil
		}
		var set refusalSet
		if err := decode(v, &set); err != nil {
			return err
		}
		s := subject{key: slices.Clone(k), count: set.Dropped}
		for _, e := range set.Entries {
			s.count += e.Count
			if e.Time.After(s.last) {
				s.last = e.Time
			}
		}
		all = append(all, s)
		return nil
	})
	if err != nil {
		return err
	}
	meta.Subjects = len(all) // the count is recomputed whenever it is used
	excess := min(len(all)-RefusalSubjects*9/10, refusalPruneMax)
	if excess <= 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b subject) int {
		if c := a.last.Compare(b.last); c != 0 {
			return c
		}
		return strings.Compare(string(a.key), string(b.key))
	})
	for _, s := range all[:excess] {
		if err := b.Delete(s.key); err != nil {
			return err
		}
		meta.Dropped += s.count
		meta.Subjects--
	}
	return nil
}
