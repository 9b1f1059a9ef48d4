package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// AuditFilter selects audit events. The zero value selects all of them.
type AuditFilter struct {
	Target   string    // only events about this device ID or serial
	Action   string    // only events with this action, e.g. "device.revoke"
	Since    time.Time // only events at or after this time
	AfterSeq uint64    // only events with a larger sequence number (for paging and tailing)
	Limit    int       // 0 = all; otherwise the last Limit matching events
	Head     int       // 0 = ignore; otherwise the first Head matching events (forward paging with AfterSeq); excludes Limit
}

// match reports whether e passes every set field of f except Limit.
func (f AuditFilter) match(e AuditEvent) bool {
	return (f.Target == "" || e.Target == f.Target) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		e.Seq > f.AfterSeq
}

// Record appends a free-form event to the audit log, for example an
// operator request that was refused and so changed nothing else.
func (db *DB) Record(ctx context.Context, action, target, detail string, by Actor) error {
	if action == "" {
		return fmt.Errorf("%w: audit event without an action", ErrInvalid)
	}
	return db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		return nil, db.appendAudit(tx, action, target, detail, by)
	})
}

// Audit returns the events that match f, oldest first.
func (db *DB) Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	if f.Limit < 0 || f.Head < 0 || (f.Limit > 0 && f.Head > 0) {
		return nil, fmt.Errorf("%w: audit limit %d and head %d: at most one, not negative", ErrInvalid, f.Limit, f.Head)
	}
	var out []AuditEvent
	err := db.view(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketAudit)
		if f.Limit == 0 {
			return b.Ascend(seqKey(f.AfterSeq+1), func(k, v []byte) (bool, error) {
				if f.Head > 0 && len(out) >= f.Head {
					return false, nil
				}
				return true, collect(&out, f, k, v)
			})
		}
		// Walk backwards so that only the tail is decoded.
		err := b.Descend(func(k, v []byte) (bool, error) {
			if len(out) >= f.Limit || binary.BigEndian.Uint64(k) <= f.AfterSeq {
				return false, nil
			}
			return true, collect(&out, f, k, v)
		})
		slices.Reverse(out)
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []AuditEvent{}
	}
	return out, nil
}

// collect decodes one stored event and appends it to out when f matches.
func collect(out *[]AuditEvent, f AuditFilter, k, v []byte) error {
	var e AuditEvent
	if err := decode(v, &e); err != nil {
		return fmt.Errorf("audit event %d: %w", binary.BigEndian.Uint64(k), err)
	}
	if f.match(e) {
		*out = append(*out, e)
	}
	return nil
}

// appendAudit writes one event inside tx, so that the log and the change it
// describes commit together or not at all.
func (db *DB) appendAudit(tx kv.Tx, action, target, detail string, by Actor) error {
	b := tx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("audit sequence: %w", err)
	}
	name := by.Name
	if name == "" {
		name = "unknown" // recorded as such rather than guessed
	}
	e := AuditEvent{
		Seq: seq, Time: db.clock(), Actor: name, Remote: by.Remote,
		Action: action, Target: target, Detail: detail,
	}
	return putJSON(b, seqKey(seq), e)
}
