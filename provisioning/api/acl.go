package api

import (
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// putGroupACL serves PUT /v1/groups/{name}/acl: replace the group's ACL
// templates. Repeating the same request changes nothing.
func (a *API) putGroupACL(w http.ResponseWriter, r *http.Request, by store.Actor) {
	var req wire.ACLRequest
	if err := a.decode(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	g, err := a.db.SetGroupACL(r.Context(), r.PathValue("name"), req.Publish, req.Subscribe, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireGroup(g))
}

// putDeviceGrants serves PUT /v1/devices/{id}/grants: replace a device's
// own ACL grants.
func (a *API) putDeviceGrants(w http.ResponseWriter, r *http.Request, by store.Actor) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.ACLRequest
	if err := a.decode(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.db.SetDeviceGrants(r.Context(), id, req.Publish, req.Subscribe, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireDevice(d))
}

// putGroupLimits serves PUT /v1/groups/{name}/limits: replace the group's
// per-device limits (all zero: the broker's defaults).
func (a *API) putGroupLimits(w http.ResponseWriter, r *http.Request, by store.Actor) {
	var req wire.Limits
	if err := a.decode(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	l := store.Limits(req)
	g, err := a.db.SetGroupLimits(r.Context(), r.PathValue("name"), &l, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireGroup(g))
}

// putDeviceProfile serves PUT /v1/devices/{id}/profile: replace a
// device's group and metadata.
func (a *API) putDeviceProfile(w http.ResponseWriter, r *http.Request, by store.Actor) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.ProfileRequest
	if err := a.decode(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.db.SetDeviceProfile(r.Context(), id, req.Group, req.Metadata, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireDevice(d))
}
