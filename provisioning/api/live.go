package api

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// material is the CA the API issues from and trusts, with the client CA
// pool derived from it; both are swapped together by SetCA.
type material struct {
	ca        *ca.CA
	clientCAs *x509.CertPool // operator CA and device intermediates
}

// SetCA makes authority the CA of every request and TLS handshake from now
// on: the issuing intermediate, the device and operator pools, the server
// certificate. Requests under way finish with the CA they started with,
// and open connections stay open. It is how a server reloads its CA
// directory; authority must not be nil.
func (a *API) SetCA(authority *ca.CA) {
	if authority == nil {
		panic("api: SetCA with a nil CA")
	}
	a.live.Store(&material{ca: authority, clientCAs: TLSConfig(authority).ClientCAs})
}

// authority is the current CA. A request reads it once and keeps it, so
// that a certificate and its chain come from the same CA.
func (a *API) authority() *ca.CA { return a.live.Load().ca }

// SetDefaultLifetime changes the lifetime of certificates issued without
// one in the request, from the next request on. It must be positive and at
// most Config.MaxLifetime (ErrConfig).
func (a *API) SetDefaultLifetime(d time.Duration) error {
	if d <= 0 || d > a.cfg.MaxLifetime {
		return fmt.Errorf("%w: default lifetime %s must be positive and at most %s", ErrConfig, d, a.cfg.MaxLifetime)
	}
	a.defaultLifetime.Store(int64(d))
	return nil
}

func (a *API) currentDefaultLifetime() time.Duration {
	return time.Duration(a.defaultLifetime.Load())
}

// tlsConfig is the listener's TLS configuration. It follows SetCA at every
// handshake: the server certificate comes from GetCertificate, and a
// client certificate, when given, is verified by VerifyConnection against
// the pools of the current CA, as TLSConfig's VerifyClientCertIfGiven
// would against fixed ones. VerifyConnection also runs on resumed
// sessions, so a ticket from before a reload is judged by today's pools.
// No CA list is announced (it would go stale), so clients present their
// certificate whoever issued it; every route verifies it again anyway.
//
// A single config (rather than one per CA from GetConfigForClient) lets
// http.Server's ALPN setup (HTTP/2) apply as before.
func (a *API) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return a.authority().ServerCertificate(), nil
		},
		ClientAuth:       tls.RequestClientCert,
		VerifyConnection: a.verifyClient,
	}
}

// verifyClient checks a presented client certificate chain against the
// current operator and device pools.
func (a *API) verifyClient(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	intermediates := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         a.live.Load().clientCAs,
		Intermediates: intermediates,
		CurrentTime:   a.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	return nil
}
