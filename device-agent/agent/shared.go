package agent

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/trustbundle"
)

// Shared is what the agents of one process can hold once instead of once
// each: the trust bundles they accepted with the root pools made of them,
// and the server-authenticated enrollment clients over those pools. A
// device runs one agent and needs none of it; a process running thousands
// (the fleet simulator) gives them all one Shared through Config.Shared.
//
// Every agent still fetches and verifies each trust bundle itself (a
// bundle the API serves to one device is checked for that device); only
// the result of a verification that succeeded is shared, when an equal
// bundle was accepted before. TLS session caches and the clients that
// present a device's certificate are never shared: a resumed session or
// a kept-alive connection would carry another device's identity.
//
// A Shared is safe for concurrent use. The zero value is not usable:
// make one with NewShared.
type Shared struct {
	mu      sync.Mutex
	bundles map[[sha256.Size]byte]sharedBundle
	apis    map[apiKey]*enroll.Client
}

// sharedBundle is an accepted trust bundle and the pool of its roots.
type sharedBundle struct {
	b    *trustbundle.Bundle
	pool *x509.CertPool
}

// apiKey names an enrollment client: the API's URL and the roots it
// verifies the API with.
type apiKey struct {
	url   string
	roots *x509.CertPool
}

// NewShared returns an empty Shared.
func NewShared() *Shared {
	return &Shared{bundles: make(map[[sha256.Size]byte]sharedBundle), apis: make(map[apiKey]*enroll.Client)}
}

// bundle returns the held bundle equal to b (the same JSON) and its
// pool, holding b first if there is none. b must have been verified.
func (s *Shared) bundle(b *trustbundle.Bundle) (*trustbundle.Bundle, *x509.CertPool) {
	sum := sha256.Sum256(b.Raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.bundles[sum]; ok {
		return h.b, h.pool
	}
	h := sharedBundle{b: b, pool: b.Pool()}
	s.bundles[sum] = h
	return h.b, h.pool
}

// api returns the enrollment client for url verified with roots.
func (s *Shared) api(url string, roots *x509.CertPool) *enroll.Client {
	k := apiKey{url: url, roots: roots}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.apis[k]
	if !ok {
		c = enroll.New(url, roots)
		s.apis[k] = c
	}
	return c
}

// acceptBundle returns the bundle to hold and the pool to verify with for
// a verified bundle b: b and a new pool, or the equal ones of Shared.
func (a *Agent) acceptBundle(b *trustbundle.Bundle) (*trustbundle.Bundle, *x509.CertPool) {
	if a.cfg.Shared == nil {
		return b, b.Pool()
	}
	return a.cfg.Shared.bundle(b)
}

// newAPI returns the enrollment client over roots: the agent's own, or
// the one of Shared.
func (a *Agent) newAPI(roots *x509.CertPool) *enroll.Client {
	if a.cfg.Shared == nil {
		return enroll.New(a.cfg.ProvisioningURL, roots)
	}
	return a.cfg.Shared.api(a.cfg.ProvisioningURL, roots)
}
