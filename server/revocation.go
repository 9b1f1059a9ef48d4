package server

import (
	"context"

	"github.com/fleetgate/fleetgate/provisioning/revocation"
)

// startRevocation starts the plain-HTTP listener where relying parties
// fetch the device intermediate's CRL and ask its OCSP responder; both are
// signed objects, so TLS adds nothing to trust. The responder follows the
// registry's change feed until ctx ends.
func (s *Server) startRevocation(ctx context.Context, addr string) error {
	rsp, err := revocation.New(revocation.Config{
		Authority: s.rl.current,
		Registry:  s.db,
		Logger:    s.log.With("component", "revocation"),
	})
	if err != nil {
		return err
	}
	s.goBackground(rsp.Follow(ctx))
	srv, at, err := listenOps(addr, rsp, s.log)
	if err != nil {
		return err
	}
	s.rev = srv
	s.at.Revocation = "http://" + at.String()
	return nil
}
