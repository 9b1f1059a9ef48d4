package api

import (
	"crypto/tls"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// TLSConfig returns the server side TLS settings of the API. The server
// certificate is fetched from the CA at every handshake, so a renewed one
// is served without a restart.
//
// A client certificate is optional at the handshake (GET /v1/ca is public)
// and, when given, must chain to the operator CA. The handshake check alone
// is not trusted for authorisation: device certificates will share this
// listener for rotation, so every operator route verifies the certificate
// again (see operator).
func TLSConfig(authority *ca.CA) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return authority.ServerCertificate(), nil
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  authority.OperatorPool(),
	}
}
