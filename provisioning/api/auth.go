package api

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// operatorHandler is a route that runs only for an authenticated operator,
// who is handed in as the actor of the changes it makes.
type operatorHandler func(w http.ResponseWriter, r *http.Request, by store.Actor)

// operator wraps h so that it runs only for a request carrying a valid
// operator client certificate.
func (a *API) operator(h operatorHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, err := a.authenticate(r)
		if err != nil {
			// Which check failed goes to the log only.
			a.log.Warn("operator request refused", "method", r.Method, "path", r.URL.Path,
				"remote", r.RemoteAddr, "reason", err)
			a.fail(w, r, err)
			return
		}
		leaf := r.TLS.PeerCertificates[0]
		role, err := ca.OperatorRoleOf(leaf)
		if err != nil {
			err = fmt.Errorf("%w: %w", errUnauthenticated, err)
		} else {
			err = a.authorize(r, leaf.Raw, role)
		}
		if err != nil {
			a.log.Warn("operator request refused", "method", r.Method, "path", r.URL.Path,
				"remote", r.RemoteAddr, "operator", name, "reason", err)
			a.fail(w, r, err)
			return
		}
		h(w, r, store.Actor{Name: name, Remote: r.RemoteAddr})
	})
}

// authenticate returns the operator name of the request's client
// certificate. It verifies the certificate again instead of trusting the
// handshake: the listener's client CA pool may also hold the device CA, a
// resumed TLS session is not verified again by crypto/tls, and Go accepts a
// leaf without EKU or with CA:TRUE, which we do not.
func (a *API) authenticate(r *http.Request) (string, error) {
	if r.TLS == nil {
		return "", fmt.Errorf("%w: request did not arrive over TLS", errUnauthenticated)
	}
	if len(r.TLS.PeerCertificates) == 0 {
		return "", fmt.Errorf("%w: no client certificate", errUnauthenticated)
	}
	leaf := r.TLS.PeerCertificates[0]
	if leaf.IsCA {
		return "", fmt.Errorf("%w: client certificate %s is a CA certificate", errUnauthenticated, leaf.Subject)
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return "", fmt.Errorf("%w: client certificate %s lacks the clientAuth extended key usage", errUnauthenticated, leaf.Subject)
	}
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.authority().OperatorPool(),
		Intermediates: intermediates,
		CurrentTime:   a.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return "", fmt.Errorf("%w: client certificate %s does not chain to the operator CA: %w", errUnauthenticated, leaf.Subject, err)
	}
	name, err := ca.OperatorName(leaf)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errUnauthenticated, err)
	}
	return name, nil
}
