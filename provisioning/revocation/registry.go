package revocation

import (
	"context"

	"github.com/fleetgate/fleetgate/store"
)

// Registry is what the responder reads: a certificate by serial, every
// certificate (for the CRL), and the change feed that tells it when its
// caches went stale.
type Registry interface {
	// Certificate returns the certificate with a serial (lower-case hex),
	// or an error wrapping store.ErrNotFound.
	Certificate(ctx context.Context, serial string) (store.Certificate, error)
	// Certificates with an empty device ID returns every certificate.
	Certificates(ctx context.Context, deviceID string) ([]store.Certificate, error)
	// Watch reports every change committed after it returned.
	Watch(ctx context.Context) <-chan store.Change
}

var _ Registry = (*store.DB)(nil)
