package api

import (
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// putGroup serves PUT /v1/groups/{name}: create a group or change its
// enrollment policy. Repeating the same request changes nothing.
func (a *API) putGroup(w http.ResponseWriter, r *http.Request, by store.Actor) {
	var req wire.GroupRequest
	if err := a.decode(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	g, err := a.db.PutGroup(r.Context(), store.Group{Name: r.PathValue("name"), RequireTPM: req.RequireTPM, AllowTokens: req.AllowTokens}, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireGroup(g))
}

// listGroups serves GET /v1/groups.
func (a *API) listGroups(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	groups, err := a.db.Groups(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.GroupList{Groups: wireList(groups, wireGroup)})
}
