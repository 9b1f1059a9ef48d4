package api

import (
	"crypto/tls"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// TLSConfig returns the server side TLS settings of the API for one fixed
// CA. (API.Server applies the same policy to whichever CA SetCA gave it
// last, so that a reloaded CA directory takes effect without a restart.)
//
// A client certificate is optional at the handshake (GET /v1/ca and
// enrollment are open) and, when given, must chain to the operator CA or to
// a device intermediate, issuing or trusted (devices rotate with their
// current certificate). The handshake check alone is never trusted for
// authorisation: every operator route verifies the certificate again
// against the operator CA (operator), every rotation route against the
// device intermediates and the registry (device).
func TLSConfig(authority *ca.CA) *tls.Config {
	clientCAs := authority.OperatorPool() // a fresh pool, ours to extend
	clientCAs.AddCert(authority.DeviceCA())
	for _, c := range authority.TrustedDeviceCAs() {
		clientCAs.AddCert(c)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return authority.ServerCertificate(), nil
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  clientCAs,
	}
}
