// Package client is the Go client of the fleetgate operator API.
//
// It has one method per operator route and speaks the types of package
// wire, which the server answers with. It depends on the standard library
// and wire only, so operator tools can use it without pulling in server
// code, the registry or its databases (a test enforces this).
//
// # Errors
//
// A refusal by the server comes back as an *APIError carrying the HTTP
// status and the stable wire.Code; IsNotFound, IsConflict, IsBadRequest and
// IsUnauthenticated branch on it. A request that never got an answer (no
// server listening, TLS handshake refused, timeout) wraps ErrUnreachable.
package client
