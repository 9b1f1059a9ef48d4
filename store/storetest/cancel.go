package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetgate/fleetgate/store/kv"
)

// runCancelled checks that a caller who has given up gets an error that
// wraps context.Canceled, and that nothing of its transaction is written.
func runCancelled(t *testing.T, open Opener) {
	f := newFixture(t, open)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	write := func(tx kv.Tx) error { return tx.Bucket(bucketA).Put([]byte("k"), []byte("v")) }
	if err := f.Update(ctx, write); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context = %v, want context.Canceled", err)
	}
	if v, ok := f.get(t, bucketA, "k"); ok {
		t.Errorf("Update with a cancelled context wrote k = %q", v)
	}
	if err := f.View(ctx, func(kv.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("View with a cancelled context = %v, want context.Canceled", err)
	}
	if lv, ok := f.Backend.(kv.LocalViewer); ok {
		if err := lv.ViewLocal(ctx, func(kv.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("ViewLocal with a cancelled context = %v, want context.Canceled", err)
		}
	}
	if c, ok := f.Backend.(kv.SessionClaimer); ok {
		if _, err := c.ClaimSession(ctx, "dev-1", "broker-a"); !errors.Is(err, context.Canceled) {
			t.Errorf("ClaimSession with a cancelled context = %v, want context.Canceled", err)
		}
		if v, ok := f.get(t, sessions, "dev-1"); ok {
			t.Errorf("ClaimSession with a cancelled context wrote owner %q", v)
		}
	}
}
