package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// deviceWhy serves GET /v1/devices/{id}/why: why the device cannot
// connect, from its registry record and the refusals any broker recorded
// for it (the refusal log is shared through the registry).
func (a *API) deviceWhy(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.diagnose(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// diagnose builds the Diagnosis of one device.
func (a *API) diagnose(ctx context.Context, id string) (wire.Diagnosis, error) {
	now := a.now()
	log, err := a.db.DeviceRefusals(ctx, id)
	if err != nil {
		return wire.Diagnosis{}, err
	}
	dev, err := a.db.Device(ctx, id)
	registered := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return wire.Diagnosis{}, err
	}
	superseded := func(serial string) (time.Time, bool) {
		ev, err := a.db.Audit(ctx, store.AuditFilter{Target: serial, Action: "cert.supersede", Limit: 1})
		if err != nil || len(ev) == 0 {
			return time.Time{}, false
		}
		return ev[0].Time, true
	}
	d := wire.Diagnosis{DeviceID: id, Status: "unregistered", Dropped: log.Dropped, Refusals: []wire.Refusal{}}
	if registered {
		d.Status = string(dev.Status)
	}
	for _, e := range log.Entries {
		d.Refusals = append(d.Refusals, wireRefusal(e, now, superseded))
	}
	switch {
	case registered && dev.Status != store.DeviceActive:
		d.Summary, d.NextStep = a.statusWords(ctx, dev)
	case len(log.Entries) > 0 && (registered || log.Entries[0].DeviceID != id):
		latest := log.Entries[0]
		what, next := refusalWords(latest, now, superseded)
		d.Summary = fmt.Sprintf("%s (refused %s, last at %s on %s)", what, times(latest.Count), clock(latest.Time), latest.Broker)
		d.NextStep = next
	case !registered:
		d.Summary = fmt.Sprintf("device %q is not registered", id)
		d.NextStep = fmt.Sprintf("register it (`fleetgate device register %s`) and enrol it; a certificate naming an unregistered device is refused", id)
	default:
		d.Summary = fmt.Sprintf("no broker has refused device %q", id)
		d.NextStep = "if it still cannot connect it does not reach a broker: check its network, the broker address and that it trusts the server CA"
	}
	return d, nil
}

// statusWords explains a suspended or revoked device: who, when, why.
func (a *API) statusWords(ctx context.Context, dev store.Device) (what, next string) {
	verb := "suspended"
	action := "device.suspend"
	if dev.Status == store.DeviceRevoked {
		verb, action = "revoked", "device.revoke"
	}
	what = "device " + verb
	if ev, err := a.db.Audit(ctx, store.AuditFilter{Target: dev.ID, Action: action, Limit: 1}); err == nil && len(ev) > 0 {
		what += " by " + ev[0].Actor
	}
	what += " at " + clock(dev.UpdatedAt)
	if dev.Reason != "" {
		what += fmt.Sprintf(", reason %q", dev.Reason)
	}
	if dev.Status == store.DeviceRevoked {
		return what, "revocation is final: register and enrol the device under a new ID"
	}
	return what, fmt.Sprintf("resume it once the reason is resolved (`fleetgate device resume %s`)", dev.ID)
}

// times says how often: once, 5 times.
func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

// listRefusals serves GET /v1/refusals?unregistered=true&limit=N: the
// newest refusals of the whole log (default 100), or only those of
// certificates naming no registered device.
func (a *API) listRefusals(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	q := r.URL.Query()
	unregistered, err := strconv.ParseBool(cmp.Or(q.Get("unregistered"), "false"))
	if err != nil {
		a.fail(w, r, fmt.Errorf("%w: unregistered=%q: want true or false", errBadRequest, q.Get("unregistered")))
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			a.fail(w, r, fmt.Errorf("%w: limit %q: want 1 to 10000", errBadRequest, v))
			return
		}
		limit = n
	}
	rs, stats, err := a.db.Refusals(r.Context(), store.RefusalQuery{Unregistered: unregistered, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	now := a.now()
	none := func(string) (time.Time, bool) { return time.Time{}, false }
	out := wire.RefusalList{Refusals: []wire.Refusal{}, Subjects: stats.Subjects, Dropped: stats.Dropped}
	for _, e := range rs {
		out.Refusals = append(out.Refusals, wireRefusal(e, now, none))
	}
	writeJSON(w, http.StatusOK, out)
}
