package api

import (
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// getCA serves GET /v1/ca. The roots and the device CA are public:
// devices and operators fetch them to pin the server and to build chains.
// Roots lists the roots in force, the current one first (as in the trust
// bundle); Root stays the current root alone for older clients.
func (a *API) getCA(w http.ResponseWriter, _ *http.Request) {
	authority := a.authority()
	roots := authority.RootPEM()
	if p := authority.PreviousRoot(); p != nil {
		roots = append(roots, ca.EncodeCertPEM(p)...)
	}
	writeJSON(w, http.StatusOK, wire.CABundle{
		Root:     string(authority.RootPEM()),
		Roots:    string(roots),
		DeviceCA: string(authority.DeviceChainPEM()),
	})
}
