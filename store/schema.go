package store

import "github.com/fleetgate/fleetgate/store/kv"

// schemaVersion is written into a new registry and required of an existing
// one. Bump it whenever the bucket layout or a record's meaning changes in
// a way an older binary would misread.
const schemaVersion = 1

// bucketSessions holds, on etcd, which broker last admitted each device:
// sessions/<device ID> -> the broker's owner name. It is not part of the
// bbolt layout: one file has one broker.
var bucketSessions = []byte("sessions")

// bucketBarriers holds, on etcd, the marker AwaitEnforced writes: its put
// reaches every broker's feed after every change committed before it.
var bucketBarriers = []byte("barriers")

// layout is what the backends know of the registry's records. A bbolt file
// written by the first release lacks the Added buckets and gets them on
// open; an etcd registry keeps a local copy of what a broker reads on
// CONNECT (Lookup, Device, Group).
var layout = kv.Layout{
	Version:    schemaVersion,
	Meta:       bucketMeta,
	VersionKey: keySchema,
	Core:       coreBuckets,
	Added:      addedBuckets,
	Local:      [][]byte{bucketDevices, bucketCerts, bucketGroups},
	Sessions:   bucketSessions,
	Barriers:   bucketBarriers,
}
