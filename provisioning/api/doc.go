// Package api serves the fleetgate operator API: versioned JSON routes over
// HTTPS with mutual TLS, for registering devices, issuing and revoking
// their certificates and reading the audit log.
//
// # Basics
//
// New ties the registry (store) and the CA together; Handler returns the
// routes and TLSConfig the server side TLS settings. Every route but
// GET /v1/ca needs a verified operator client certificate; the operator's
// name and the remote address become the store.Actor of every change, so
// the audit log says who did what from where.
//
// Request and response bodies are the wire types of package client. Errors
// have one shape, {"error":{"code":...,"message":...}}, and one mapping from
// the registry's and the CA's sentinel errors to HTTP status and code (see
// errors.go).
//
// # Caveats
//
// A request refused for bad input changes nothing in the registry: a
// certificate request is checked in full (CSR, lifetime, device state)
// before a serial number is allocated.
//
// Run the handler behind an http.Server whose TLSConfig is TLSConfig and
// whose certificate comes from it (leave Certificates empty), so that the
// server certificate is read from the CA on every handshake.
package api
