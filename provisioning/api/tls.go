package api

import (
	"crypto/tls"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// TLSConfig returns the server side TLS settings of the API. The server
// certificate is fetched from the CA at every handshake, so a renewed one
// is served without a restart.
//
// A client certificate is optional at the handshake (GET /v1/ca and
// enrolment are open) and, when given, must chain to the operator CA or to
// the device CA (devices rotate with their current certificate). The
// handshake check alone is never trusted for authorisation: every operator
// route verifies the certificate again against the operator CA (operator),
// every rotation route against the device CA and the registry (device).
func TLSConfig(authority *ca.CA) *tls.Config {
	clientCAs := authority.OperatorPool() // a fresh pool, ours to extend
	clientCAs.AddCert(authority.DeviceCA())
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return authority.ServerCertificate(), nil
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  clientCAs,
	}
}
