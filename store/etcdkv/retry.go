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
func (b *Backend) View(fn func(tx kv.Tx) error) error {
	if b.closed.Load() {
		return errClosed
	}
	tx := &etcdTx{b: b, readOnly: true}
	err := fn(tx)
	if tx.err != nil {
		return tx.err // a failed read explains whatever fn made of it
	}
	return err
}

// Update runs fn and commits its writes if nothing it read changed
// meanwhile; else it runs fn again on fresh reads, up to etcdAttempts
// times.
func (b *Backend) Update(fn func(tx kv.Tx) error) error {
	if b.closed.Load() {
		return errClosed
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		tx := &etcdTx{b: b}
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
				time.Sleep(50 * time.Millisecond)
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
		time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(attempt, 20)))))
	}
}

// electing reports whether err means the cluster is between leaders.
func electing(err error) bool {
	return errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrLeaderChanged) ||
		errors.Is(err, rpctypes.ErrGRPCNoLeader) || errors.Is(err, rpctypes.ErrGRPCLeaderChanged) ||
		status.Code(err) == codes.Unavailable
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
	if strings.Contains(err.Error(), "too many operations in txn request") {
		return fmt.Errorf("%w: %w (raise etcd's --max-txn-ops, or import fewer rows or create fewer tokens at once)", kv.ErrInvalid, err)
	}
	if strings.Contains(err.Error(), "client is closing") || strings.Contains(err.Error(), "use of closed") {
		return fmt.Errorf("%w: %w", kv.ErrClosed, err)
	}
	return fmt.Errorf("etcd: %w", err)
}
