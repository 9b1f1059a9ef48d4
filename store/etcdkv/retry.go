package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// View runs fn in a read-only transaction on the cluster, at one revision.
// Each read waits at most the request timeout, and not past ctx.
func (b *Backend) View(ctx context.Context, fn func(tx kv.Tx) error) error {
	if b.closed.Load() {
		return errClosed
	}
	if err := notStarted(ctx); err != nil {
		return err
	}
	tx := &etcdTx{b: b, ctx: ctx, readOnly: true}
	err := fn(tx)
	if tx.err != nil {
		return tx.err // a failed read explains whatever fn made of it
	}
	return err
}

// Update runs fn and commits its writes if nothing it read changed
// meanwhile; else it runs fn again on fresh reads, up to etcdAttempts
// times. Once ctx is done it starts no new attempt.
func (b *Backend) Update(ctx context.Context, fn func(tx kv.Tx) error) error {
	if b.closed.Load() {
		return errClosed
	}
	if err := notStarted(ctx); err != nil {
		return err
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		tx := &etcdTx{b: b, ctx: ctx}
		err := fn(tx)
		if err == nil && tx.err == nil {
			var ok bool
			if ok, err = tx.commit(); ok {
				return nil
			}
		}
		if tx.err != nil {
			err = tx.err
		}
		if err != nil {
			// While a new leader is elected the cluster refuses requests
			// for a moment: run the transaction again on fresh reads. Its
			// comparisons keep a transaction that did commit before the
			// error from being applied twice.
			if errors.Is(err, kv.ErrUnavailable) && electing(err) && time.Since(start) < b.timeout {
				if err := pause(ctx, 50*time.Millisecond); err != nil {
					return err
				}
				continue
			}
			return err
		}
		b.conflicts.Add(1)
		if attempt == etcdAttempts {
			return fmt.Errorf("%w: etcd transaction still conflicting after %d attempts", kv.ErrUnavailable, attempt)
		}
		// Another host wrote what this transaction read: read again. A
		// short random pause keeps two hosts from colliding in step.
		if err := pause(ctx, time.Duration(rand.Int64N(int64(time.Millisecond)*int64(min(attempt, 20))))); err != nil {
			return err
		}
	}
}

// notStarted refuses a transaction whose caller has given up already.
func notStarted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("etcd registry transaction not started: %w", err)
	}
	return nil
}

// pause waits d before a transaction runs again, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("etcd registry transaction not retried: %w", ctx.Err())
	}
}

// electing reports whether err means the cluster is between leaders.
func electing(err error) bool {
	return errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrLeaderChanged) ||
		errors.Is(err, rpctypes.ErrGRPCNoLeader) || errors.Is(err, rpctypes.ErrGRPCLeaderChanged) ||
		status.Code(err) == codes.Unavailable
}

// mapCtxErr is mapErr for a request made under the caller's ctx: once ctx
// is done the error wraps ctx.Err(), whatever the client made of it, so
// that a caller can tell its own cancellation from the cluster's failure.
func mapCtxErr(ctx context.Context, err error) error {
	err = mapErr(err)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", err, ctx.Err())
	}
	return err
}

// mapErr marks errors that mean the cluster could not be reached.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrTimeout) ||
		errors.Is(err, rpctypes.ErrLeaderChanged) || errors.Is(err, rpctypes.ErrGRPCNoLeader) ||
		status.Code(err) == codes.Unavailable || status.Code(err) == codes.DeadlineExceeded {
		return fmt.Errorf("%w: etcd: %w", kv.ErrUnavailable, err)
	}
	if errors.Is(err, rpctypes.ErrNoSpace) || errors.Is(err, rpctypes.ErrGRPCNoSpace) {
		return fmt.Errorf("%w: %w (etcd reached its space quota: compact and defragment it, or raise --quota-backend-bytes, then disarm the NOSPACE alarm)", kv.ErrFull, err)
	}
	if strings.Contains(err.Error(), "too many operations in txn request") {
		return fmt.Errorf("%w: %w (raise etcd's --max-txn-ops, or import fewer rows or create fewer tokens at once)", kv.ErrInvalid, err)
	}
	if strings.Contains(err.Error(), "client is closing") || strings.Contains(err.Error(), "use of closed") {
		return fmt.Errorf("%w: %w", kv.ErrClosed, err)
	}
	return fmt.Errorf("etcd: %w", err)
}
