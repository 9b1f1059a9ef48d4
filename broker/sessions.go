package broker

import (
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// session is what the broker knows about one mochi client: who it is, with
// which certificate, and what it may do. It is created once a CONNECT has
// passed every check (hook.register; a revocation racing the checks is
// caught by the change clock, changeclock.go).
type session struct {
	cl       *mqtt.Client
	conn     *conn // the connection it arrived on; nil if not ours
	deviceID string
	serial   string
	notAfter time.Time                     // when the certificate stops being valid
	group    atomic.Pointer[string]        // the device's group: at CONNECT, then as re-judged (policy_live.go)
	acl      atomic.Pointer[grants]        // set at CONNECT, replaced by ACL changes (policy_live.go)
	limiter  atomic.Pointer[deviceLimiter] // publish buckets and quota (limits.go)
	quota    subQuota                      // filters over MaxSubscriptions (limits.go)

	approved atomic.Bool  // every CONNECT check passed
	dropped  atomic.Bool  // revoked, suspended or expired: deny everything
	replaced atomic.Bool  // a newer connection took the session over
	claimRev atomic.Int64 // registry revision of this broker's claim (cluster.go); 0: none yet

	dropReason  atomic.Pointer[string] // the cause that dropped it (drop), for the disconnected event
	overLimit   atomic.Pointer[string] // the publish limit that ended it (OnPublish), for the disconnected event
	connectedAt time.Time              // set once established; read on the same client goroutine (events.go)

	gone chan struct{} // closed when conn closes; never when conn is nil

	mu     sync.Mutex
	expiry *time.Timer // drops the session at notAfter

	// unlockID releases the identity's takeover lock (see idLocks); set
	// in OnSessionEstablish, read by OnSessionEstablished on the same
	// client goroutine.
	unlockID func()
}

// stopExpiry cancels the expiry timer, if any.
func (s *session) stopExpiry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
}

// startExpiry arms the timer that calls drop when the certificate expires.
func (s *session) startExpiry(drop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry == nil {
		s.expiry = time.AfterFunc(time.Until(s.notAfter), drop)
	}
}

// sessions indexes sessions by mochi client. A session outlives its
// connection while mochi keeps the client as a persistent (clean=false)
// session, because mochi asks the ACL before queueing messages for it.
type sessions struct {
	mu       sync.RWMutex
	m        map[*mqtt.Client]*session
	byDevice map[string]map[*session]struct{} // index for revocations
}

func newSessions() *sessions {
	return &sessions{m: make(map[*mqtt.Client]*session), byDevice: make(map[string]map[*session]struct{})}
}

// add registers s for its client, replacing nothing: a *mqtt.Client
// connects once.
func (ss *sessions) add(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.m[s.cl] = s
	set := ss.byDevice[s.deviceID]
	if set == nil {
		set = make(map[*session]struct{})
		ss.byDevice[s.deviceID] = set
	}
	set[s] = struct{}{}
}

// get returns the session of cl, or nil.
func (ss *sessions) get(cl *mqtt.Client) *session {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return ss.m[cl]
}

// remove forgets s and stops its timer. It is safe to call more than once.
func (ss *sessions) remove(s *session) {
	s.stopExpiry()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m[s.cl] == s {
		delete(ss.m, s.cl)
	}
	if set := ss.byDevice[s.deviceID]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(ss.byDevice, s.deviceID)
		}
	}
}

// removeClient forgets the session of cl, if any.
func (ss *sessions) removeClient(cl *mqtt.Client) {
	if s := ss.get(cl); s != nil {
		ss.remove(s)
	}
}

// ofDevice returns the sessions of one device for which keep is true. A
// registry change names its device, so a revocation costs a lookup, not a
// scan of every session (a fleet-wide scan per change made revocation
// delays grow to seconds at 19,000 sessions under a burst of revocations).
func (ss *sessions) ofDevice(id string, keep func(*session) bool) []*session {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	var out []*session
	for s := range ss.byDevice[id] {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// matching returns the sessions for which keep is true, scanning them all.
func (ss *sessions) matching(keep func(*session) bool) []*session {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	var out []*session
	for _, s := range ss.m {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// all returns every session.
func (ss *sessions) all() []*session {
	return ss.matching(func(*session) bool { return true })
}
