package kv

import "time"

// Layout is what a backend needs to know of the records it keeps. The
// store describes its buckets once; each backend takes what applies to it.
type Layout struct {
	// Version is stamped on a new store and required of an existing one.
	Version int
	// Meta and VersionKey locate the version in a store of buckets (bbolt).
	Meta, VersionKey []byte
	// Core are the buckets of the first schema: an existing store must
	// hold them all.
	Core [][]byte
	// Added are buckets added since: created when an existing store lacks
	// them, since older builds never look at them.
	Added [][]byte
	// Local are the buckets a backend with a local copy keeps (what a
	// broker reads on CONNECT); their changes are reported as RawChanges.
	Local [][]byte
	// Sessions is the bucket of session claims; a SessionClaimer writes
	// there and a ChangeSource reports its puts.
	Sessions []byte
	// Barriers is the bucket of a Confirmer's markers; a ChangeSource
	// reports its puts, in order with every other change.
	Barriers []byte
}

// RawChange is one record changed in a backend that reports its changes
// (a ChangeSource), in commit order. The store turns it into a feed event.
type RawChange struct {
	Bucket string
	Key    string
	// Old is the record before the change, nil when new or not copied.
	Old []byte
	// New is the record after the change, nil when deleted.
	New []byte
	// Revision is the backend's revision of the change.
	Revision int64
	// Time is when the backend received the change, in UTC.
	Time time.Time
}
