// Package cli holds the operator commands of the fleetgate binary: device
// (including the factory import), cert, audit, group (enrollment policies)
// and token (one-time enrollment tokens). They talk to the operator API with
// package client over mutual TLS, print tables for people or the API's
// JSON for scripts (--json), and end with an exit code scripts can branch
// on (see ExitCode).
//
// The ca group works offline on the CA files of a data directory instead:
// it lists, rotates and retires device intermediates and renews the server
// certificate; a running server picks the change up at its next reload.
//
// # Basics
//
// Commands returns the command groups; the binary's main attaches them to
// its root command and either calls Execute or prints the returned error
// once and exits with ExitCode(err). The commands silence cobra's own error
// printing so that an error is never printed twice.
//
// Connection settings come from flags, falling back to environment
// variables and then to the files a freshly started server writes:
//
//	--server  FLEETGATE_SERVER  https://127.0.0.1:8443
//	--cert    FLEETGATE_CERT    data/ca/admin.crt
//	--key     FLEETGATE_KEY     data/ca/admin.key
//	--cacert  FLEETGATE_CACERT  data/ca/root.crt
package cli
