package store

import (
	"errors"

	"github.com/fleetgate/fleetgate/store/kv"
)

// Sentinel errors. Callers branch on them with errors.Is; messages wrap them
// with the offending value. Those a backend may return are the backends'
// own (store/kv), under the same names.
var (
	// ErrNotFound means the device, certificate or token does not exist.
	ErrNotFound = kv.ErrNotFound

	// ErrExists means a device or certificate with that key is already recorded.
	ErrExists = errors.New("already exists")

	// ErrLocked means another process holds the registry file open.
	ErrLocked = kv.ErrLocked

	// ErrSchema means the registry file was written by an incompatible version.
	ErrSchema = kv.ErrSchema

	// ErrInvalid means a record failed validation before it was written.
	ErrInvalid = kv.ErrInvalid

	// ErrState means the requested transition is not allowed from the record's
	// current status (for example resuming a revoked device).
	ErrState = errors.New("transition not allowed")

	// ErrClosed means the registry has been closed.
	ErrClosed = kv.ErrClosed

	// ErrExpired means a challenge or enrollment token is past its expiry
	// time. The caller has to start over (a new challenge, a new token).
	ErrExpired = errors.New("expired")

	// ErrReplayed means a single-use challenge or enrollment token was
	// already consumed. It is kept apart from ErrNotFound so that the API
	// can log a replay attempt as such.
	ErrReplayed = errors.New("already used")

	// ErrPolicy means the group's enrollment policy forbids the request, for
	// example a token enrollment into a group that requires TPM attestation.
	ErrPolicy = errors.New("forbidden by group policy")

	// ErrUnavailable means the registry's etcd cluster could not be reached
	// in time, or that the local copy a broker judges devices from is older
	// than its grace period. Nothing was written; the caller may retry.
	ErrUnavailable = kv.ErrUnavailable

	// ErrRegistryFull means the registry's storage had no room for a
	// write: the disk holding the bbolt file is full, or etcd reached its
	// space quota. Nothing was written. Operators are told so (API code
	// registry_full); Health and /readyz report it until a write succeeds.
	ErrRegistryFull = kv.ErrFull
)
