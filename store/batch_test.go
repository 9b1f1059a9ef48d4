package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

func TestCompleteEnrollments(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "sim", false, true)
	tokens := mustTokens(t, db, "sim", 5)
	commitsBefore := db.batch.commits.Load()
	auditBefore := auditLen(t, db)
	bad := tokenEnrollment(tokens[4], "static-bad", "e1")
	bad.Certificate.Fingerprint = "not hex"
	batch := []Enrollment{
		tokenEnrollment(tokens[0], "dev-a", "a1"),
		tokenEnrollment(tokens[0], "dev-b", "b1"), // the token item 0 just used, in the same transaction
		tokenEnrollment(tokens[1], "dev-c", "c1"),
		tokenEnrollment(tokens[2], "dev-d", "a1"), // serial item 0 just recorded
		bad,
		tokenEnrollment(tokens[3], "dev-e", "e1"),
	}
	want := []error{nil, ErrReplayed, nil, ErrExists, ErrInvalid, nil}

	errs := db.CompleteEnrollments(t.Context(), batch, operator)
	if len(errs) != len(batch) {
		t.Fatalf("%d results for %d enrollments", len(errs), len(batch))
	}
	for i, err := range errs {
		if !errors.Is(err, want[i]) || (want[i] == nil) != (err == nil) {
			t.Errorf("enrollment %d (%s): %v, want %v", i, batch[i].Device.ID, err, want[i])
		}
	}
	if n := db.batch.commits.Load() - commitsBefore; n != 1 {
		t.Errorf("%d commits for one batch, want 1", n)
	}
	for _, id := range []string{"dev-a", "dev-c", "dev-e"} {
		if certs, err := db.Certificates(t.Context(), id); err != nil || len(certs) != 1 {
			t.Errorf("committed device %s: certificates %v, %v", id, certs, err)
		}
	}
	for _, id := range []string{"dev-b", "dev-d", "static-bad"} {
		if _, err := db.Device(t.Context(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("refused device %s was written: %v", id, err)
		}
	}
	if tok := tokenNamed(t, db, tokens[0]); tok.UsedBy != "dev-a" {
		t.Errorf("token 0 used by %q, want dev-a", tok.UsedBy)
	}
	if tok := tokenNamed(t, db, tokens[2]); !tok.UsedAt.IsZero() {
		t.Errorf("token of a refused enrollment consumed: %+v", tok)
	}
	if c, _ := db.Certificate(t.Context(), "a1"); c.DeviceID != "dev-a" {
		t.Errorf("serial a1 belongs to %s, want dev-a", c.DeviceID)
	}
	if n := auditLen(t, db) - auditBefore; n != 3 {
		t.Errorf("%d audit events for 3 enrollments", n)
	}
}

func TestGroupCommit(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "sim", false, true)
	const workers, each = 32, 8
	tokens := mustTokens(t, db, "sim", workers*each)
	commitsBefore := db.batch.commits.Load()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				errs <- db.CompleteEnrollment(t.Context(), tokenEnrollment(tokens[n], fmt.Sprintf("dev-%03d", n), serialOf(n)), system)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := certCount(t, db); n != workers*each {
		t.Fatalf("%d certificates, want %d", n, workers*each)
	}
	// 32 callers at once cannot all have found the batcher idle.
	if commits := db.batch.commits.Load() - commitsBefore; commits >= workers*each {
		t.Errorf("%d commits for %d concurrent enrollments: no group commit", commits, workers*each)
	}
}

// TestGroupCommitWriteFailure makes one item's write fail after it wrote
// part of itself: the transaction is lost, the items are committed one by
// one, and only the faulty one fails, with nothing of it kept.
func TestGroupCommitWriteFailure(t *testing.T) {
	db := openTestDB(t)
	errDisk := errors.New("write refused by the test")
	item := func(target string, fail bool) *batchItem {
		return &batchItem{done: make(chan error, 1), check: func(tx kv.Tx) (func(tx kv.Tx) error, error) {
			return func(tx kv.Tx) error {
				if err := db.appendAudit(tx, "test.item", target, "", system); err != nil {
					return err
				}
				if fail {
					return errDisk
				}
				return nil
			}, nil
		}}
	}
	batch := []*batchItem{item("first", false), item("faulty", true), item("last", false)}
	db.commitBatch(t.Context(), batch)
	for i, want := range []error{nil, errDisk, nil} {
		if err := <-batch[i].done; !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("item %d: %v, want %v", i, err, want)
		}
	}
	events, err := db.Audit(t.Context(), AuditFilter{Action: "test.item"})
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, e := range events {
		targets = append(targets, e.Target)
	}
	if fmt.Sprint(targets) != "[first last]" {
		t.Errorf("audit holds %v, want [first last]", targets)
	}
}

func TestBatchedWritesAfterClose(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "sim", false, true)
	token := mustTokens(t, db, "sim", 1)[0]
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteEnrollment(t.Context(), tokenEnrollment(token, "dev-1", "a1"), system); !errors.Is(err, ErrClosed) {
		t.Errorf("CompleteEnrollment after Close = %v, want ErrClosed", err)
	}
	errs := db.CompleteEnrollments(t.Context(), []Enrollment{tokenEnrollment(token, "dev-1", "a1")}, system)
	if !errors.Is(errs[0], ErrClosed) {
		t.Errorf("CompleteEnrollments after Close = %v, want ErrClosed", errs[0])
	}
	c := Challenge{ID: challengeID(1), DeviceID: "dev-1", Purpose: PurposeEnroll, AKPublic: []byte{1}, Secret: []byte{1}, Nonce: []byte{1},
		ExpiresAt: testEpoch.Add(time.Hour)}
	if err := db.PutChallenge(t.Context(), c); !errors.Is(err, ErrClosed) {
		t.Errorf("PutChallenge after Close = %v, want ErrClosed", err)
	}
}

// A caller whose context is done before its write was taken into a
// transaction hears context.Canceled, and nothing of the write is kept.
func TestWritesCancelled(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "sim", false, true)
	token := mustTokens(t, db, "sim", 1)[0]
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	commitsBefore := db.batch.commits.Load()
	if err := db.CompleteEnrollment(ctx, tokenEnrollment(token, "dev-1", "a1"), system); !errors.Is(err, context.Canceled) {
		t.Errorf("CompleteEnrollment = %v, want context.Canceled", err)
	}
	errs := db.CompleteEnrollments(ctx, []Enrollment{tokenEnrollment(token, "dev-1", "a1")}, system)
	if !errors.Is(errs[0], context.Canceled) {
		t.Errorf("CompleteEnrollments = %v, want context.Canceled", errs[0])
	}
	c := Challenge{ID: challengeID(1), DeviceID: "dev-1", Purpose: PurposeEnroll, AKPublic: []byte{1}, Secret: []byte{1}, Nonce: []byte{1},
		ExpiresAt: testEpoch.Add(time.Hour)}
	if err := db.PutChallenge(ctx, c); !errors.Is(err, context.Canceled) {
		t.Errorf("PutChallenge = %v, want context.Canceled", err)
	}
	if _, err := db.AllocateSerial(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("AllocateSerial = %v, want context.Canceled", err)
	}
	if _, err := db.CreateDevice(ctx, Device{ID: "dev-2"}, operator); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateDevice = %v, want context.Canceled", err)
	}
	if n := db.batch.commits.Load() - commitsBefore; n != 0 {
		t.Errorf("%d group commits for cancelled callers, want 0", n)
	}
	for _, id := range []string{"dev-1", "dev-2"} {
		if _, err := db.Device(t.Context(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("device %s of a cancelled call: %v, want ErrNotFound", id, err)
		}
	}
	if _, err := db.Challenge(t.Context(), c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("challenge of a cancelled call: %v, want ErrNotFound", err)
	}
	if tok := tokenNamed(t, db, token); !tok.UsedAt.IsZero() {
		t.Errorf("token consumed by a cancelled enrollment: %+v", tok)
	}
}
