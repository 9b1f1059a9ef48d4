// Package testkit is the root of the shared test code. It holds nothing
// itself; each concern is a subpackage named for what it provides:
//
//   - bins: the fleetgate binary and, through Build, any other main
//     package natively or cross-compiled, each built once per process.
//   - fleetserver: a running `fleetgate serve` with its operator CLI.
//   - logbuf: a log buffer tests can read and wait on.
//   - pki: test CAs and the good and bad certificates they sign.
//   - softtpm: the byte strings a TPM sends, and EK certificates, made in
//     software.
//   - tpmsim: the go-tpm simulator (build tag tpmsimulator) and key blobs.
//   - swtpm: a freshly manufactured Debian swtpm with EK certificates.
//   - etcdtest: a real etcd cluster of member processes on loopback.
//   - deptest: checks that a package links nothing it must not.
//   - natstest: real nats-server processes with JetStream, one or a
//     routed cluster.
//   - netcut: a loopback TCP proxy a test can cut and restore.
//
// Raw MQTT packets come from firmware-sim/mqttwire, which the load tools
// already share. Helpers take testing.TB, call t.Helper and clean up with
// t.Cleanup; no TestMain builds or starts anything.
package testkit
