// Package store is fleetgate's device registry: devices, their certificates,
// certificate serial numbers, enrollment groups, challenges and one-time
// tokens, an append-only audit log and a feed of status changes, kept in
// one go.etcd.io/bbolt file.
//
// # Basics
//
// Open a registry with Open and close it with DB.Close. Every mutation is one
// fsynced bbolt write transaction that also appends its audit event, so the
// log and the change it describes commit together or not at all. Reads are
// bbolt read transactions and run concurrently with each other and with the
// single writer.
//
// A device is registered once (CreateDevice) and its ID is never reused,
// even after revocation. SetDeviceStatus suspends, resumes and revokes it;
// revoking also revokes all of its certificates in the same transaction.
// The provisioning service takes serials from AllocateSerial and records
// what it issued with AddCertificate. The broker calls Lookup on every
// CONNECT (a read transaction, microseconds) and follows Watch to drop
// sessions as soon as a device or certificate is revoked.
//
// Failures callers branch on are the sentinel errors in errors.go, wrapped
// with the offending value; test them with errors.Is.
//
// # Enrollment
//
// A Group carries the enrollment policy of its devices: RequireTPM (only
// TPM-attested certificates admit them; the broker checks
// Certificate.Attestation at CONNECT) or AllowTokens (one-time tokens with
// software keys may enroll them), never both. A device whose group has no
// record gets the default policy: neither.
//
// The factory line pre-registers devices with ImportDevices, all rows or
// none, and may repeat an import safely. A device's EK hash (the TPM's
// identity) is unique across the registry; DeviceByEK finds the device a
// TPM belongs to.
//
// A TPM enrollment or rotation stores a Challenge at its start (PutChallenge)
// and consumes it at its end. A token enrollment consumes a Token made by
// CreateTokens; the registry stores only its SHA-256 (HashToken).
// CompleteEnrollment consumes the challenge or token, creates or updates the
// device and records the certificate and the audit event in one
// transaction: a crash leaves all of it or none, and of many concurrent
// uses of one token exactly one succeeds (the others get ErrReplayed).
//
// A rotation names the certificate it Supersedes and the new key's hash, so
// a retry after a lost reply finds the certificate already issued
// (FindRotation). The old certificate stays active until the device
// connects with the new one; the broker then calls MarkSuperseded, which
// publishes ChangeCert events for the certificates it retires.
//
// # Caveats
//
// A bbolt file has one writing process. Open takes an exclusive lock on the
// file and gives up with ErrLocked after Options.LockTimeout (1s by default)
// instead of hanging, so run the broker and the provisioning service in one
// process over one registry. While the server runs, no other process can
// open the file, not even read-only: take copies through the server.
//
// The change feed lives in memory. A Watch channel receives the changes
// committed after Watch returned, in commit order, and never skips one: each
// subscriber has an unbounded queue, so writers never wait for readers, and a
// subscriber that stops reading makes its queue grow. Cancel the context of a
// Watch that is no longer read. The channel closes when its context is done
// or the registry closes; queued changes are then dropped. Nothing is
// replayed after a restart: a watcher that starts up must read the current
// state (Devices, Certificates, Lookup) rather than rely on the feed.
//
// Each write costs an fsync (around half a millisecond to a few on common
// disks), so keep writes off hot paths such as the MQTT connect.
// CompleteEnrollment, AllocateSerial and PutChallenge are committed in
// groups: concurrent calls share one transaction and one fsync, each
// checked on its own so that a refused call does not affect the others.
// A lone call commits at once; under load a call may wait up to 2 ms for
// others to join its transaction.
//
// Consumed tokens stay in the registry as a record of which token enrolled
// which device; expired challenges are swept as new ones are stored.
package store
