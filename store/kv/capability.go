package kv

import (
	"context"
	"time"
)

// Optional capabilities of a Backend. The store finds them by type
// assertion; every backend declares those it has with a compile-time
// guard, so that renaming a method cannot switch one off unnoticed.

// Checker verifies the backend's own storage.
type Checker interface {
	// Check returns the first inconsistency found, or ErrClosed.
	Check() error
}

// Limits bound what one transaction may hold. A backend without them
// takes transactions of any size.
type Limits interface {
	// BatchLimit bounds the items of one group commit.
	BatchLimit() int
	// TxnLimit bounds the operations of one transaction; 0: no bound.
	TxnLimit() int
}

// ChangeSource is a backend whose changes come from a watch, whoever wrote
// them, rather than from the local commit: it hands them to the callback
// it was opened with, and the committer publishes nothing itself.
type ChangeSource interface {
	// AwaitOwnCommits waits, briefly, until the changes of this process's
	// latest commit were handed to the callback, or until ctx is done.
	AwaitOwnCommits(ctx context.Context)
}

// LocalViewer serves reads from a local copy of the Layout's Local
// buckets, so that a broker's CONNECT does not wait on the network.
type LocalViewer interface {
	// ViewLocal runs fn on the copy, read-only; buckets not copied read
	// empty. When fn returns ErrNotFound while the backend answers, fn
	// runs again on the backend itself: a record written elsewhere a
	// moment ago may not have reached the copy yet.
	ViewLocal(ctx context.Context, fn func(tx Tx) error) error
}

// SessionClaimer records which broker last admitted a device, on a backend
// shared by several brokers.
type SessionClaimer interface {
	// ClaimSession stores owner under key in the Layout's Sessions bucket,
	// unconditionally, and returns the revision of the write.
	ClaimSession(ctx context.Context, key, owner string) (int64, error)
}

// HealthReporter reports the connection state of a remote backend.
type HealthReporter interface {
	Health() Health
}

// Health is a backend's connection state, for metrics and readiness.
type Health struct {
	Backend string `json:"backend"` // "bolt" or "etcd"
	// Reachable: the etcd watch answered within three heartbeats. Always
	// true on bolt.
	Reachable bool `json:"reachable"`
	// PastGrace: etcd has been silent for longer than the grace period;
	// lookups fail with ErrUnavailable.
	PastGrace   bool          `json:"past_grace"`
	LastContact time.Time     `json:"last_contact,omitzero"`
	Grace       time.Duration `json:"grace,omitempty"`
	Revision    int64         `json:"revision,omitempty"` // of the local copy
	Resyncs     uint64        `json:"resyncs"`            // after compaction
	Conflicts   uint64        `json:"conflicts"`          // write transactions retried
	// Requests counts the transactions' round trips to etcd (reads and
	// commits) and Commits the write transactions committed, since open;
	// zero on bolt. The enrolment benchmark divides them by enrolments.
	Requests uint64 `json:"requests,omitempty"`
	Commits  uint64 `json:"commits,omitempty"`

	// Full: the latest write failed for want of room (ErrFull), since
	// FullSince, with FullError; the next write that commits clears it
	// (a small write may fit in freed pages while a larger one does not).
	// FullWrites counts the writes refused so, ever. The store fills these
	// in, the backends leave them alone.
	Full       bool      `json:"full"`
	FullSince  time.Time `json:"full_since,omitzero"`
	FullError  string    `json:"full_error,omitempty"`
	FullWrites uint64    `json:"full_writes"`
}

// Prefetcher is a transaction that reads many keys and prefixes in a few
// requests instead of one request each. Prefetching changes nothing the
// transaction sees: later Gets of the keys and Scans of the prefixes
// return the same as without it, only from memory, and only what is read
// that way makes the commit depend on it.
type Prefetcher interface {
	Prefetch(fetches ...Fetch) error
}

// Fetch names what to prefetch from one bucket.
type Fetch struct {
	Bucket   []byte
	Keys     [][]byte
	Prefixes [][]byte // each as Bucket.Scan would take it
	// Sequence: the bucket's NextSequence counter too.
	Sequence bool
}

// Confirmer lets the hosts that apply a shared backend's change feed (the
// brokers) say how far they applied it, so that a writer can wait until
// its changes are in force on every one of them.
type Confirmer interface {
	// Barrier writes a marker that every follower's feed reports after
	// every change committed before it, and returns its revision.
	Barrier(ctx context.Context) (int64, error)
	// Follow counts member among the followers, as having applied the
	// feed up to the backend's current revision, until Leave (or, on a
	// shared backend, until the process is gone for a lease's time).
	Follow(member string) Follower
	// AwaitFollowers waits until every follower has confirmed rev, or
	// until ctx is done. It returns the followers it waited for (those
	// counted when it began, and any that joined meanwhile) and those of
	// them that had not confirmed by then; a follower that left is
	// neither.
	AwaitFollowers(ctx context.Context, rev int64) (followers, missing []string, err error)
}

// Follower is one member of a Confirmer.
type Follower interface {
	// Confirm records, without waiting, that every change up to rev was
	// applied. A lower rev than one confirmed before changes nothing.
	Confirm(rev int64)
	// Leave stops counting the member.
	Leave()
}
