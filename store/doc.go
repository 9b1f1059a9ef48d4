// Package store is fleetgate's device registry: devices, their certificates,
// certificate serial numbers, enrollment groups, challenges and one-time
// tokens, an append-only audit log and a feed of status changes. It keeps
// them in one go.etcd.io/bbolt file (Open) or in an etcd cluster shared by
// several hosts (OpenEtcd).
//
// # Basics
//
// Open a registry with Open or OpenEtcd and close it with DB.Close. Every
// mutation is one durable write transaction that also appends its audit
// event, so the log and the change it describes commit together or not at
// all. Reads run concurrently with each other and with writes.
//
// A device is registered once (CreateDevice) and its ID is never reused,
// even after revocation. SetDeviceStatus suspends, resumes and revokes it;
// revoking also revokes all of its certificates in the same transaction.
// The provisioning service takes serials from AllocateSerial and records
// what it issued with AddCertificate. The broker calls Lookup on every
// CONNECT (a read transaction, microseconds) and follows Watch to drop
// sessions as soon as a device or certificate is revoked.
//
// Every method that reads or writes the registry takes a context.Context
// first: on etcd each request waits at most the earlier of the context's
// end and EtcdOptions.Timeout, and a transaction retried after a conflict
// stops once the context is done; on bbolt a context already done refuses
// the transaction before it starts. A transaction refused or cut short that
// way returns an error wrapping ctx.Err(). Close, Path, Check, Health and
// Clustered do not wait on the network and take none.
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
// # Backends
//
// The domain code here runs over the transaction interface of store/kv:
// buckets of ordered keys, read-only and read-write transactions. Each
// backend lives in its own package and adds optional capabilities (kv.Checker,
// kv.Limits, kv.ChangeSource, kv.LocalViewer, kv.SessionClaimer,
// kv.HealthReporter) that the registry finds by type assertion;
// store/storetest is the conformance suite every backend passes.
//
// store/boltkv keeps one file, written by one process: Open takes an
// exclusive lock on it, every write transaction is an fsynced commit, and
// the process that commits publishes the change feed. Check verifies the
// file's pages.
//
// store/etcdkv keeps each bucket as a key range under a prefix. A
// transaction reads at one revision and buffers its writes; it commits with
// one etcd transaction guarded by the mod revisions of every key it read
// and every range it scanned, and runs again on fresh reads when another
// host wrote any of them meanwhile (up to 50 times), or when the cluster
// was between leaders. An etcd transaction holds at most --max-txn-ops
// operations (EtcdOptions.MaxTxnOps, 128 by default): group commits take 8
// enrollments, bulk writes (token batches, factory imports) are split to
// fit after a check of the whole, and revoking a device with many
// certificates continues in further transactions. Each host keeps
// a local copy of devices, certificates and groups, fed by one etcd watch:
// Lookup, Device and Group read it, so a broker's CONNECT does not wait on
// the network; a record missing from the copy is looked for in the cluster
// before ErrNotFound stands, and a host reads its own writes. The watch is
// the source of the change feed on every host, whoever wrote the change; a
// watch that fell behind etcd's compaction resyncs from a fresh read and
// reports every status that differs. When the cluster stops answering, the
// copy still judges devices for EtcdOptions.Grace (5 minutes by default);
// past it Lookup fails with ErrUnavailable, and Health reports the state.
// ClaimSession records which broker admitted a device last, in batches of
// claims that arrive together; every broker sees the claim on its feed and
// ends its own older session of the device.
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
// Each write costs an fsync on bbolt (around half a millisecond to a few on
// common disks), a round trip to the cluster's quorum on etcd, so keep
// writes off hot paths such as the MQTT connect.
// CompleteEnrollment, AllocateSerial and PutChallenge are committed in
// groups: concurrent calls share one transaction and one fsync, each
// checked on its own so that a refused call does not affect the others.
// A lone call commits at once; under load a call may wait up to 2 ms for
// others to join its transaction. A call's context bounds its wait for a
// place in a group; once its transaction is being committed the call waits
// for the outcome, so that it never returns unsure whether it took effect.
//
// Consumed tokens stay in the registry as a record of which token enrolled
// which device; expired challenges are swept as new ones are stored.
package store
