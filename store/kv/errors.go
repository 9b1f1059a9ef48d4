package kv

import "errors"

// Sentinel errors shared by the backends. The store re-exports them under
// the same names, so callers test them with errors.Is against either.
var (
	// ErrNotFound means a record does not exist. A LocalViewer reads the
	// backend itself when the function it ran on the copy returned it.
	ErrNotFound = errors.New("not found")

	// ErrInvalid means a request the backend cannot carry out as asked: a
	// write in a read-only transaction, a transaction over the backend's
	// operation limit.
	ErrInvalid = errors.New("invalid record")

	// ErrSchema means the store was written by an incompatible version.
	ErrSchema = errors.New("registry schema version mismatch")

	// ErrLocked means another process holds the store's file open.
	ErrLocked = errors.New("registry is locked by another process")

	// ErrClosed means the backend has been closed.
	ErrClosed = errors.New("registry closed")

	// ErrUnavailable means a remote backend could not be reached in time,
	// or its local copy is older than its grace period. Nothing was
	// written; the caller may retry.
	ErrUnavailable = errors.New("registry unavailable")

	// ErrFull means the backend's storage has no room for the write: the
	// disk of a bbolt file is full (ENOSPC), or etcd reached its space
	// quota. Nothing was written; deleting records, or a larger disk or
	// quota, makes room.
	ErrFull = errors.New("registry storage is full")
)
