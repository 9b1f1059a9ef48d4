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
	wait := time.Duration(wire.DefaultEnforceWaitMS) * time.Millisecond
	if req.WaitMS != nil {
		if *req.WaitMS < 0 || *req.WaitMS > wire.MaxEnforceWaitMS {
			a.fail(w, r, fmt.Errorf("%w: wait_ms must be between 0 and %d", errBadRequest, wire.MaxEnforceWaitMS))
			return
		}
		wait = time.Duration(*req.WaitMS) * time.Millisecond
	}
	sel := store.Selection{Group: req.Group, Devices: req.Devices, IssuerKeyID: strings.ToLower(req.IssuerKeyID)}
	// Ten thousand devices on a busy etcd outlast the server's one-minute
	// write timeout, which would reset the answer mid-way; and once the
	// request is checked, the revocation runs to its end even if the
	// operator's connection drops: a revocation cut off half-way would
	// leave compromised devices admitted while the operator believes the
	// command failed as a whole.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(BulkWriteTimeout))
	ctx := context.WithoutCancel(r.Context())
	res, err := a.db.RevokeBulk(ctx, sel, req.Reason, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.BulkRevokeResult{
		Selector: sel.String(), Selected: res.Selected, Revoked: res.Revoked,
		AlreadyRevoked: res.AlreadyRevoked, Certificates: res.Certificates,
		Enforcement: a.awaitEnforced(ctx, sel.String(), wait),
	})
}

// awaitEnforced waits until every broker has applied what was just
// written, for at most wait; nil when it did not wait (wait 0). A wait
// that failed says so in Error (the change stands either way).
func (a *API) awaitEnforced(ctx context.Context, what string, wait time.Duration) *wire.Enforcement {
	if wait <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	e, err := a.db.AwaitEnforced(ctx)
	if err != nil {
		a.log.Warn("could not learn whether the brokers applied a revocation", "selection", what, "err", err)
		return &wire.Enforcement{Error: err.Error()}
	}
	if !e.InForce() {
		a.log.Warn("brokers did not confirm a revocation in time: they may still hold its sessions",
			"selection", what, "missing", e.Missing, "brokers", len(e.Brokers), "waited", e.Waited)
	}
	return &wire.Enforcement{Brokers: len(e.Brokers), Confirmed: len(e.Brokers) - len(e.Missing),
		Missing: e.Missing, WaitedMS: float64(e.Waited.Microseconds()) / 1000}
}
