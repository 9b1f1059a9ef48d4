package agent

import (
	"context"
	"crypto/x509"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
)

// endpoints are the roots the agent verifies the broker and the API with,
// and the API clients built on them. A trust bundle with new roots
// replaces the whole value; connections already up keep what they were
// verified with.
type endpoints struct {
	roots *x509.CertPool
	api   *enroll.Client // enrollment: server-authenticated TLS
	mtls  *enroll.Client // rotation, trust bundle: presents the current certificate
}

// setRoots makes roots the ones the agent trusts from the next
// connection on.
func (a *Agent) setRoots(roots *x509.CertPool) {
	api := a.newAPI(roots)
	old := a.ep.Swap(&endpoints{roots: roots, api: api, mtls: api.WithClientCertificate(a.apiCertificate)})
	if old != nil {
		if old.api != api {
			old.api.CloseIdleConnections()
		}
		old.mtls.CloseIdleConnections()
	}
}

func (a *Agent) roots() *x509.CertPool { return a.ep.Load().roots }
func (a *Agent) api() *enroll.Client   { return a.ep.Load().api }
func (a *Agent) mtls() *enroll.Client  { return a.ep.Load().mtls }

// RefreshTrust fetches and checks the trust bundle now, whatever the
// schedule says, and returns why it was refused, if it was. It waits
// while Run is still enrolling. ErrNotRunning: Run is not running.
func (a *Agent) RefreshTrust(ctx context.Context) error {
	return a.request(ctx, a.trustReq)
}
