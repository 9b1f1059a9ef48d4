// Package client is the Go client of the fleetgate operator API.
//
// It holds the wire types of every route (the api package reuses them, so
// the two cannot drift apart) and one method per route. It depends only on
// the standard library and the registry record types, so operator tools can
// use it without pulling in server code.
//
// # Errors
//
// A refusal by the server comes back as an *APIError carrying the HTTP
// status and the stable error code; IsNotFound, IsConflict, IsBadRequest and
// IsUnauthenticated branch on it. A request that never got an answer (no
// server listening, TLS handshake refused, timeout) wraps ErrUnreachable.
package client
