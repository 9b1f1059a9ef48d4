package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// runCapabilities runs the suite of each optional capability the backend
// has, and says which it skipped.
func runCapabilities(t *testing.T, open Opener) {
	probe := newFixture(t, open).Backend
	caps := []struct {
		name string
		has  bool
		run  func(t *testing.T, open Opener)
	}{
		{"checker", is[kv.Checker](probe), runChecker},
		{"limits", is[kv.Limits](probe), runLimits},
		{"change-source", is[kv.ChangeSource](probe), runChangeSource},
		{"local-viewer", is[kv.LocalViewer](probe), runLocalViewer},
		{"session-claimer", is[kv.SessionClaimer](probe), runSessionClaimer},
		{"health", is[kv.HealthReporter](probe), runHealth},
	}
	for _, c := range caps {
		t.Run(c.name, func(t *testing.T) {
			if !c.has {
				t.Skipf("the backend is no %s", c.name)
			}
			c.run(t, open)
		})
	}
}

func is[T any](b kv.Backend) bool {
	_, ok := b.(T)
	return ok
}

func runChecker(t *testing.T, open Opener) {
	f := newFixture(t, open)
	f.put(t, bucketA, "k", "v")
	if err := f.Backend.(kv.Checker).Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Backend.(kv.Checker).Check(); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Check after Close = %v, want ErrClosed", err)
	}
}

// runLimits writes a transaction of exactly TxnLimit operations, then one
// more, which must fail whole with ErrInvalid.
func runLimits(t *testing.T, open Opener) {
	f := newFixture(t, open)
	l := f.Backend.(kv.Limits)
	if l.BatchLimit() <= 0 || l.TxnLimit() < 0 {
		t.Fatalf("BatchLimit %d, TxnLimit %d", l.BatchLimit(), l.TxnLimit())
	}
	if l.TxnLimit() == 0 {
		return
	}
	write := func(prefix string, n int) error {
		return f.Update(t.Context(), func(tx kv.Tx) error {
			for i := range n {
				if err := tx.Bucket(bucketA).Put(fmt.Appendf(nil, "%s%04d", prefix, i), []byte("v")); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := write("fits-", l.TxnLimit()); err != nil {
		t.Errorf("transaction of TxnLimit writes: %v", err)
	}
	if err := write("over-", l.TxnLimit()+1); !errors.Is(err, kv.ErrInvalid) {
		t.Errorf("transaction over TxnLimit = %v, want ErrInvalid", err)
	}
	if _, ok := f.get(t, bucketA, "over-0000"); ok {
		t.Error("a transaction over the limit wrote a record")
	}
}

// runChangeSource writes, updates and deletes a copied record and expects
// each change reported once AwaitOwnCommits returned; a bucket not copied
// reports nothing.
func runChangeSource(t *testing.T, open Opener) {
	f := newFixture(t, open)
	src := f.Backend.(kv.ChangeSource)
	step := func(fn func(b kv.Tx) error, want kv.RawChange) {
		t.Helper()
		before := len(f.reported())
		if err := f.Update(t.Context(), fn); err != nil {
			t.Fatal(err)
		}
		src.AwaitOwnCommits(t.Context())
		got := f.reported()[before:]
		if len(got) != 1 {
			t.Fatalf("reported %+v, want one change like %+v", got, want)
		}
		c := got[0]
		if c.Bucket != want.Bucket || c.Key != want.Key || string(c.Old) != string(want.Old) || string(c.New) != string(want.New) ||
			(c.Old == nil) != (want.Old == nil) || (c.New == nil) != (want.New == nil) || c.Revision <= 0 || c.Time.IsZero() {
			t.Errorf("reported %+v, want %+v", c, want)
		}
	}
	put := func(bucket []byte, k, v string) func(kv.Tx) error {
		return func(tx kv.Tx) error { return tx.Bucket(bucket).Put([]byte(k), []byte(v)) }
	}
	step(put(bucketA, "k", "v1"), kv.RawChange{Bucket: "a", Key: "k", New: []byte("v1")})
	step(put(bucketA, "k", "v2"), kv.RawChange{Bucket: "a", Key: "k", Old: []byte("v1"), New: []byte("v2")})
	step(func(tx kv.Tx) error { return tx.Bucket(bucketA).Delete([]byte("k")) },
		kv.RawChange{Bucket: "a", Key: "k", Old: []byte("v2")})
	// A record of a bucket not copied is not reported: the next change
	// reported is the marker's.
	f.put(t, bucketB, "k", "v")
	step(put(bucketA, "marker", "m"), kv.RawChange{Bucket: "a", Key: "marker", New: []byte("m")})
}

// runLocalViewer reads its own writes from the copy, refuses writes there
// and falls back to the backend for a record the copy does not hold.
func runLocalViewer(t *testing.T, open Opener) {
	f := newFixture(t, open)
	lv := f.Backend.(kv.LocalViewer)
	f.put(t, bucketA, "k", "v")
	f.put(t, bucketB, "k", "not copied")
	get := func(bucket []byte, key string) (string, error) {
		var v string
		err := lv.ViewLocal(t.Context(), func(tx kv.Tx) error {
			raw := tx.Bucket(bucket).Get([]byte(key))
			if raw == nil {
				return kv.ErrNotFound
			}
			v = string(raw)
			return nil
		})
		return v, err
	}
	if v, err := get(bucketA, "k"); err != nil || v != "v" {
		t.Errorf("ViewLocal of a copied record = %q %v, want v", v, err)
	}
	if v, err := get(bucketB, "k"); err != nil || v != "not copied" {
		t.Errorf("ViewLocal of a record not in the copy = %q %v, want it from the backend", v, err)
	}
	if _, err := get(bucketA, "missing"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("ViewLocal of a missing record = %v, want ErrNotFound", err)
	}
	err := lv.ViewLocal(t.Context(), func(tx kv.Tx) error { return tx.Bucket(bucketA).Put([]byte("w"), []byte("v")) })
	if err == nil {
		t.Error("Put in ViewLocal succeeded")
	}
}

// runSessionClaimer claims sessions and reads them back; on a change
// source the claims are reported with their revision.
func runSessionClaimer(t *testing.T, open Opener) {
	f := newFixture(t, open)
	c := f.Backend.(kv.SessionClaimer)
	rev1, err := c.ClaimSession(t.Context(), "dev-1", "broker-a")
	if err != nil || rev1 <= 0 {
		t.Fatalf("ClaimSession = %d %v", rev1, err)
	}
	rev2, err := c.ClaimSession(t.Context(), "dev-1", "broker-b")
	if err != nil || rev2 <= rev1 {
		t.Fatalf("second ClaimSession = %d %v, want a revision after %d", rev2, err, rev1)
	}
	if v, _ := f.get(t, sessions, "dev-1"); v != "broker-b" {
		t.Errorf("session of dev-1 = %q, want broker-b", v)
	}
	if _, ok := f.Backend.(kv.ChangeSource); ok {
		// Claims do not count as this process's commits (AwaitOwnCommits
		// would make the next read wait for them): poll.
		want := fmt.Sprintf("[dev-1=broker-a@%d dev-1=broker-b@%d]", rev1, rev2)
		var got []string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			got = nil
			for _, ch := range f.reported() {
				if ch.Bucket == string(sessions) {
					got = append(got, fmt.Sprintf("%s=%s@%d", ch.Key, ch.New, ch.Revision))
				}
			}
			if fmt.Sprint(got) == want {
				break
			}
		}
		if fmt.Sprint(got) != want {
			t.Errorf("claims reported %v, want %s", got, want)
		}
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClaimSession(t.Context(), "dev-1", "broker-a"); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("ClaimSession after Close = %v, want ErrClosed", err)
	}
}

func runHealth(t *testing.T, open Opener) {
	f := newFixture(t, open)
	if h := f.Backend.(kv.HealthReporter).Health(); !h.Reachable || h.PastGrace || h.Backend == "" {
		t.Errorf("Health of a fresh backend = %+v", h)
	}
}
