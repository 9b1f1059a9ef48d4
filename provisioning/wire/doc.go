// Package wire holds what the fleetgate HTTPS API exchanges: the JSON
// request and response bodies of every route, the stable error codes and
// the route paths.
//
// # Basics
//
// The server (package api) answers with these types and the two clients
// (package client for operators, package enroll for devices) decode them,
// so the three cannot drift apart. Operator routes carry the registry's
// records (Device, Certificate, Group, Token, AuditEvent) as the server
// chooses to show them: a certificate's DER, for example, is never part of
// a listing.
//
// Every refusal has one shape, ErrorBody, whose Code names what went wrong.
// Clients branch on the Code, never on the message, which is for people and
// may change.
//
// # Caveats
//
// The package imports only the standard library, so the device agent
// cross-built for small boards links no server code by linking it; a test
// enforces this. The JSON encoding is the API's contract: renaming a field
// or a constant's value breaks devices in the field. Byte-slice fields carry
// TPM structures as the TPM produced them and encode as standard base64;
// times encode as RFC 3339.
package wire
