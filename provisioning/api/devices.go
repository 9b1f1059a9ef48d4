package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// registerDevice serves POST /v1/devices.
func (a *API) registerDevice(w http.ResponseWriter, r *http.Request, by store.Actor) {
	var req wire.RegisterRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	// Checked here as well as in the registry so that the operator hears
	// the exact rule the ID broke.
	if err := identity.ValidateID(req.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.db.CreateDevice(r.Context(), store.Device{
		ID:        req.ID,
		Group:     req.Group,
		Metadata:  req.Metadata,
		Publish:   req.Publish,
		Subscribe: req.Subscribe,
	}, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wireDevice(d))
}

// listDevices serves GET /v1/devices?status=&group=.
func (a *API) listDevices(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	q := r.URL.Query()
	status := store.DeviceStatus(q.Get("status"))
	switch status {
	case "", store.DeviceActive, store.DeviceSuspended, store.DeviceRevoked:
	default:
		a.fail(w, r, fmt.Errorf("%w: status %q: want active, suspended or revoked", errBadRequest, status))
		return
	}
	devices, err := a.db.Devices(r.Context(), store.DeviceFilter{Status: status, Group: q.Get("group")})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.DeviceList{Devices: wireList(devices, wireDevice)})
}

// showDevice serves GET /v1/devices/{id}.
func (a *API) showDevice(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.db.Device(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	certs, err := a.db.Certificates(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.DeviceDetail{Device: wireDevice(d), Certificates: wireList(certs, wireCertificate)})
}

// suspendDevice serves POST /v1/devices/{id}/suspend.
func (a *API) suspendDevice(w http.ResponseWriter, r *http.Request, by store.Actor) {
	a.setStatus(w, r, by, store.DeviceSuspended)
}

// resumeDevice serves POST /v1/devices/{id}/resume.
func (a *API) resumeDevice(w http.ResponseWriter, r *http.Request, by store.Actor) {
	a.setStatus(w, r, by, store.DeviceActive)
}

// revokeDevice serves POST /v1/devices/{id}/revoke.
func (a *API) revokeDevice(w http.ResponseWriter, r *http.Request, by store.Actor) {
	a.setStatus(w, r, by, store.DeviceRevoked)
}

// setStatus moves a device to status. A revocation is final, so it must say
// why: the reason is what a later reader of the audit log has to go on.
func (a *API) setStatus(w http.ResponseWriter, r *http.Request, by store.Actor, status store.DeviceStatus) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.ReasonRequest
	if err := a.decode(w, r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if status == store.DeviceRevoked && req.Reason == "" {
		a.fail(w, r, fmt.Errorf("%w: revoking a device needs a reason", errBadRequest))
		return
	}
	d, err := a.db.SetDeviceStatus(r.Context(), id, status, req.Reason, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireDevice(d))
}

// pathID returns the {id} path value, refusing IDs that no device can have.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if err := identity.ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}
