package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/console"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// consoleDevice is one row of the console's device list.
type consoleDevice struct {
	wire.Device
	// Connected is nil where this process cannot know (no broker here).
	Connected *bool `json:"connected,omitempty"`
	// LastSeen is when the device last had a session on this process's
	// broker since it started; nil when it has not, or cannot be known.
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// seenWindows are the console's "last seen" filter values.
var seenWindows = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// consoleDevicePage is one page of the console's device list.
type consoleDevicePage struct {
	Devices []consoleDevice `json:"devices"`
	Next    string          `json:"next,omitempty"` // cursor of the next page
	Scanned int             `json:"scanned"`        // devices read for this page
}

// consoleDevices serves GET /console/api/devices?q=&status=&group=&connected=yes|no&after=&limit=.
// It pages with the registry's cursor, so page n costs what page 1 does.
func (a *API) consoleDevices(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	q := r.URL.Query()
	query := store.DeviceQuery{
		DeviceFilter: store.DeviceFilter{Status: store.DeviceStatus(q.Get("status")), Group: q.Get("group")},
		Search:       q.Get("q"),
		After:        q.Get("after"),
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			a.fail(w, r, fmt.Errorf("%w: limit %q is not a number", errBadRequest, s))
			return
		}
		query.Limit = n
	}
	switch c := q.Get("connected"); c {
	case "":
	case "yes", "no":
		if a.cfg.Sessions == nil {
			a.fail(w, r, fmt.Errorf("%w: connected=%s: this API process has no broker, so it does not know who is connected", errBadRequest, c))
			return
		}
		want := c == "yes"
		query.Match = func(d store.Device) bool { return a.cfg.Sessions.Connected(d.ID) == want }
	default:
		a.fail(w, r, fmt.Errorf("%w: connected=%q: want yes or no", errBadRequest, c))
		return
	}
	if err := a.seenFilter(&query, q.Get("seen")); err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := a.db.DevicesPage(r.Context(), query)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := consoleDevicePage{Devices: make([]consoleDevice, len(page.Devices)), Next: page.Next, Scanned: page.Scanned}
	for i, d := range page.Devices {
		out.Devices[i] = consoleDevice{Device: wireDevice(d), Connected: a.connected(d.ID), LastSeen: a.lastSeen(d.ID)}
	}
	console.SecureHeaders(w.Header())
	writeJSON(w, http.StatusOK, out)
}

// connected is whether the device has a session here; nil when unknown.
func (a *API) connected(id string) *bool {
	if a.cfg.Sessions == nil {
		return nil
	}
	c := a.cfg.Sessions.Connected(id)
	return &c
}

// seenFilter adds the "last seen" condition: within 1h, 24h or 7d, or
// "never" (not since this process's broker started).
func (a *API) seenFilter(q *store.DeviceQuery, seen string) error {
	if seen == "" {
		return nil
	}
	ls, ok := a.cfg.Sessions.(LastSeer)
	if !ok {
		return fmt.Errorf("%w: seen=%s: this API process has no broker, so it does not know when devices were seen", errBadRequest, seen)
	}
	window, known := seenWindows[seen]
	if !known && seen != "never" {
		return fmt.Errorf("%w: seen=%q: want 1h, 24h, 7d or never", errBadRequest, seen)
	}
	since := a.now().Add(-window)
	prev := q.Match
	q.Match = func(d store.Device) bool {
		if prev != nil && !prev(d) {
			return false
		}
		at, ok := ls.LastSeen(d.ID)
		if seen == "never" {
			return !ok
		}
		return ok && !at.Before(since)
	}
	return nil
}

// lastSeen is when the device last had a session here; nil when unknown.
func (a *API) lastSeen(id string) *time.Time {
	ls, ok := a.cfg.Sessions.(LastSeer)
	if !ok {
		return nil
	}
	at, ok := ls.LastSeen(id)
	if !ok {
		return nil
	}
	return &at
}

// consoleSession is the current session of one device as the console
// shows it.
type consoleSession struct {
	DeviceID  string `json:"device_id"`
	Known     bool   `json:"known"`               // false: no broker in this process
	Connected bool   `json:"connected"`           // a live session on this process's broker
	Broker    string `json:"broker,omitempty"`    // the broker holding it
	Clustered bool   `json:"clustered,omitempty"` // several brokers share the registry
	// LastSeen: when the device last had a session on this broker.
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// consoleSession serves GET /console/api/devices/{id}/session.
func (a *API) consoleSession(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.db.Device(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	s := consoleSession{DeviceID: id, Clustered: a.db.Clustered(), LastSeen: a.lastSeen(id)}
	if c := a.connected(id); c != nil {
		s.Known, s.Connected = true, *c
		if *c {
			s.Broker = a.cfg.BrokerName
		}
	}
	console.SecureHeaders(w.Header())
	writeJSON(w, http.StatusOK, s)
}
