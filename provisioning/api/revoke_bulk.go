package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// revokeBulk serves POST /v1/revocations: a group, a device list or every
// certificate of one issuing key, revoked with one reason, all or nothing
// (store.RevokeBulk). The body may be as large as an import, so that a
// whole factory batch fits one request.
func (a *API) revokeBulk(w http.ResponseWriter, r *http.Request, by store.Actor) {
	var req wire.BulkRevokeRequest
	if err := decodeUpTo(w, r, &req, false, a.cfg.MaxImportBytes); err != nil {
		a.fail(w, r, err)
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		a.fail(w, r, fmt.Errorf("%w: a bulk revocation needs a reason", errBadRequest))
		return
	}
	sel := store.Selection{Group: req.Group, Devices: req.Devices, IssuerKeyID: strings.ToLower(req.IssuerKeyID)}
	// Ten thousand devices on a busy etcd outlast the server's one-minute
	// write timeout, which would reset the answer mid-way; and once the
	// request is checked, the revocation runs to its end even if the
	// operator's connection drops: a revocation cut off half-way would
	// leave compromised devices admitted while the operator believes the
	// command failed as a whole.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(BulkWriteTimeout))
	res, err := a.db.RevokeBulk(context.WithoutCancel(r.Context()), sel, req.Reason, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.BulkRevokeResult{
		Selector: sel.String(), Selected: res.Selected, Revoked: res.Revoked,
		AlreadyRevoked: res.AlreadyRevoked, Certificates: res.Certificates,
	})
}
