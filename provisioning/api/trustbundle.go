package api

import (
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"

	"github.com/fleetgate/fleetgate/store"
)

// getTrustBundle serves GET wire.PathTrustBundle to a device authenticated
// by its current certificate: the signed trust bundle as the CA wrote it
// (ca.TrustBundleFile). Devices verify it themselves; the server adds
// nothing and signs nothing here, so no root key is needed to serve it.
func (a *API) getTrustBundle(w http.ResponseWriter, _ *http.Request, _ store.Device, _ store.Certificate) {
	raw := a.authority().TrustBundle()
	if raw == nil {
		writeError(w, http.StatusNotFound, wire.CodeNotFound, "this server has no trust bundle (a broker bundle holds none)")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(raw)
}
