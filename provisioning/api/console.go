package api

import (
	"net/http"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/console"
	"github.com/fleetgate/fleetgate/store"
)

// Console routes. The page and its API answer only operators, exactly as
// the /v1 routes do; the console changes things through the /v1 routes,
// with its CSRF token (authorize.go).
const (
	PathConsole         = "/console"
	pathConsoleMe       = "/console/api/me"
	pathConsoleEvents   = "/console/api/events"
	pathConsoleDevices  = "/console/api/devices"
	pathConsoleSession  = "/console/api/devices/{id}/session"
	DefaultConsoleTick  = 2 * time.Second
	consoleOverviewName = "overview"
)

// Sessions tells the console whether a device has a live MQTT session.
// In the server it is the broker of the same process.
type Sessions interface {
	Connected(deviceID string) bool
}

// LastSeer is what a Sessions may also tell: when a device last had a
// session (the broker keeps it in memory since it started).
type LastSeer interface {
	LastSeen(deviceID string) (time.Time, bool)
}

// consoleState is what the console keeps between requests: the hub that
// feeds every open overview from one sampler.
type consoleState struct {
	hub *console.Hub
}

func newConsoleState(a *API) *consoleState {
	tick := a.cfg.ConsoleTick
	if tick <= 0 {
		tick = DefaultConsoleTick
	}
	return &consoleState{hub: console.NewHub(tick, newOverviewSampler(a), a.log)}
}

// ConsoleListeners is the number of consoles watching the live overview.
func (a *API) ConsoleListeners() int { return a.console.hub.Listeners() }

// mountConsole adds the console's routes to mux.
func (a *API) mountConsole(mux *http.ServeMux) {
	files := console.Assets(PathConsole)
	page := a.operator(func(w http.ResponseWriter, r *http.Request, _ store.Actor) { files.ServeHTTP(w, r) })
	mux.Handle("GET "+PathConsole, page)
	mux.Handle("GET "+PathConsole+"/{$}", page)
	mux.Handle("GET "+PathConsole+"/assets/", page)
	mux.Handle("GET "+pathConsoleMe, a.operator(a.consoleMe))
	mux.Handle("GET "+pathConsoleEvents, a.operator(func(w http.ResponseWriter, r *http.Request, _ store.Actor) {
		a.console.hub.ServeEvents(w, r, consoleOverviewName)
	}))
	mux.Handle("GET "+pathConsoleDevices, a.operator(a.consoleDevices))
	mux.Handle("GET "+pathConsoleSession, a.operator(a.consoleSession))
}

// consoleMe is who the console's operator is, what they may do, and the
// CSRF token their browser sends with every change.
type consoleMe struct {
	Name      string          `json:"name"`
	Role      ca.OperatorRole `json:"role"`
	CSRF      string          `json:"csrf,omitempty"`
	CSRFField string          `json:"csrf_header"`
	Sessions  bool            `json:"sessions_known"` // whether "connected" is known here
	Clustered bool            `json:"clustered"`
}

func (a *API) consoleMe(w http.ResponseWriter, r *http.Request, by store.Actor) {
	leaf := r.TLS.PeerCertificates[0]
	role, _ := ca.OperatorRoleOf(leaf) // checked by operator()
	me := consoleMe{Name: by.Name, Role: role, CSRFField: CSRFHeader, Sessions: a.cfg.Sessions != nil, Clustered: a.db.Clustered()}
	if role == ca.RoleAdmin {
		me.CSRF = a.csrf.token(leaf.Raw) // a read-only operator has nothing to send it with
	}
	console.SecureHeaders(w.Header())
	writeJSON(w, http.StatusOK, me)
}
