package broker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// hook is the broker's only mochi hook: it admits devices and enforces the
// ACL. mochi ORs the answers of all hooks providing OnConnectAuthenticate
// or OnACLCheck, so the broker never adds another one (mochi's auth.AllowHook
// least of all); with no hook saying yes, mochi refuses.
type hook struct {
	mqtt.HookBase
	// ctx is the broker's run context, done once the broker closes: the
	// registry calls of a CONNECT and the background writes it starts
	// take it, since mochi's hooks carry no context of their own.
	ctx      context.Context
	server   *mqtt.Server
	reg      Registry
	sessions *sessions
	drops    inflight // disconnects of drop in flight (enforce.go)
	seen     *seenLog
	log      *slog.Logger
	now      func() time.Time
	metrics  *Metrics
	limits   Limits
	// throttleWait bounds one message's wait for its tokens
	// (maxThrottleWait; limits_throttle.go).
	throttleWait time.Duration
	// connectRate holds the per-identity CONNECT buckets.
	connectRate *connectLimiter

	// idLocks serialises takeovers per client ID.
	idLocks idLocks

	// refusals buffers refused CONNECTs for the registry's refusal log
	// (refusals.go); nil when the registry keeps none.
	refusals *refusalBuffer

	// changes counts the registry changes applied, for CONNECTs that
	// race them (changeClock).
	changes *changeClock

	// superseded holds the serials of rotated certificates whose
	// predecessors were already retired (see markSuperseded).
	superseded sync.Map

	// events publishes lifecycle events (events.go).
	events *events

	// owner names this broker in session claims; claims bounds the claims
	// in flight (cluster.go).
	owner  string
	claims chan struct{}
	// foreign holds, per device, the latest revision of another broker's
	// claim: a claim of ours that commits below it has already lost. owned
	// holds the latest of this broker's claims.
	foreign, owned sync.Map

	// foreignCAs are the registered foreign device CAs (foreign.go); nil
	// when the registry keeps none.
	foreignCAs *foreignTrust
}

var _ mqtt.Hook = (*hook)(nil)

// ID names the hook in mochi's logs.
func (h *hook) ID() string { return "fleetgate-auth" }

// Provides declares exactly the events the hook handles.
func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect,
		mqtt.OnConnectAuthenticate,
		mqtt.OnACLCheck,
		mqtt.OnSessionEstablish,
		mqtt.OnSessionEstablished,
		mqtt.OnDisconnect,
		mqtt.OnWill,
		mqtt.OnClientExpired,
		mqtt.OnPublish,
		mqtt.OnSubscribe,
		mqtt.OnSubscribed,
		mqtt.OnPacketEncode,
	}, []byte{b})
}

// OnConnect decides on the CONNECT first (decide changes nothing), then
// registers the admitted device's session once. It runs before mochi looks
// at any existing session with the same client ID, so a refused attempt
// leaves a connected device untouched. On refusal it sends CONNACK "not
// authorized" itself (v3.1.1 code 5, v5 0x87) and returns an error, which
// makes mochi close the socket.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	a := h.checkConnectRate(h.decide(cl, pk))
	if a.reason == "" {
		a = h.register(cl, pk, a)
	}
	if a.reason != "" {
		return h.refuseConnect(cl, pk, a)
	}
	h.markSuperseded(a.cert)
	return nil
}

// register adds the session of an admitted CONNECT. A registry change
// applied while decide ran may have been missed both by the lookup and by
// the feed's scan of the sessions, so then it decides again, now that any
// later change finds the session; the admission comes back refused
// (revoked_during_connect) when the answer changed.
func (h *hook) register(cl *mqtt.Client, pk packets.Packet, a admission) admission {
	s := &session{cl: cl, deviceID: a.deviceID, serial: a.serial, notAfter: a.notAfter}
	s.group.Store(&a.group)
	s.acl.Store(&a.grants)
	s.setLimits(a.limits)
	s.conn, _ = cl.Net.Conn.(*conn)
	s.gone = make(chan struct{})
	if s.conn != nil {
		s.conn.afterClose(func() { close(s.gone) })
	}
	h.sessions.add(s)
	if h.changes.read(a.deviceID) != a.clock {
		if again := h.decide(cl, pk); again.reason != "" {
			a.reason, a.err, a.failed = reasonRevokedDuringConnect, again.err, again.failed
		} else {
			s.acl.Store(&again.grants) // an ACL change may have raced, too
			s.setLimits(again.limits)
		}
	}
	if a.reason == "" {
		s.approved.Store(true)
		if s.dropped.Load() {
			a.reason = reasonRevokedDuringConnect
		}
	}
	if a.reason != "" {
		h.sessions.remove(s)
	}
	return a
}

// refuseConnect logs a refused CONNECT with what is known of it, answers
// "not authorized" and returns the error that makes mochi close the socket.
func (h *hook) refuseConnect(cl *mqtt.Client, pk packets.Packet, a admission) error {
	attrs := []any{"remote", cl.Net.Remote, "client_id", pk.Connect.ClientIdentifier}
	if a.serial != "" {
		attrs = append(attrs, "serial", a.serial)
	}
	if a.deviceID != "" {
		attrs = append(attrs, "device", a.deviceID)
	}
	attrs = append(attrs, "reason", a.reason)
	h.refuse(cl, a.reason)
	h.events.refused(cl, pk, a, h.now())
	h.noteConnect(cl, pk, a)
	if a.err != nil {
		h.log.Error(a.failed+" failed; connect refused", append(attrs, "error", a.err.Error())...)
		return fmt.Errorf("%w: %s: %w", ErrRefused, a.reason, a.err)
	}
	h.log.Info("connect refused", attrs...)
	return fmt.Errorf("%w: %s", ErrRefused, a.reason)
}

// refuse sends CONNACK "not authorized". mochi's SendConnack maps only some
// v5 codes to v3.1.1 return codes, and not 0x87, which a v3.1.1 client
// would not understand (paho.mqtt.golang even takes it for success); so a
// v3.1.1 client gets return code 5 explicitly.
func (h *hook) refuse(cl *mqtt.Client, reason string) {
	h.metrics.refusals.WithLabelValues(reason).Inc()
	_ = h.server.SendConnack(cl, refusalCode(cl, reason), false, nil)
}

// reasonRevokedDuringConnect: the registry changed while the CONNECT was
// being checked.
const reasonRevokedDuringConnect = "revoked_during_connect"

// OnConnectAuthenticate admits exactly the clients OnConnect approved. By
// now mochi has read the CONNECT and moved the socket to its keepalive
// deadline, so the connection no longer counts as pending. It also arms
// the drop at certificate expiry.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	s := h.sessions.get(cl)
	if s == nil || !s.approved.Load() || s.dropped.Load() {
		if s != nil {
			h.sessions.remove(s)
		}
		return false
	}
	if s.conn != nil {
		s.conn.authenticated()
		s.conn.afterClose(s.stopExpiry)
	}
	s.startExpiry(func() { h.drop(s, reasonExpired, s.notAfter) })
	h.metrics.connects.Inc()
	h.seen.mark(s.deviceID, h.now())
	return true
}

// OnACLCheck allows what the session's grants allow and denies everything
// else, including clients without a session. mochi calls it with
// write=true for a PUBLISH topic, and with write=false both for a SUBSCRIBE
// filter and for every message it is about to deliver (live, retained, or
// queued for an offline persistent session).
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	s := h.sessions.get(cl)
	if s == nil || !s.approved.Load() || s.dropped.Load() || s.replaced.Load() {
		return false
	}
	if write {
		return s.rights().canPublish(topic)
	}
	if s.quota.denies(topic) {
		return false // over MaxSubscriptions (limits.go)
	}
	return s.rights().canSubscribe(topic)
}

// OnSessionEstablish runs after authentication and just before mochi lets
// the new client inherit the session of a previous one with the same
// client ID. mochi resends inherited in-flight messages without asking the
// ACL, and the grants may have shrunk since, so inherited messages and
// subscriptions the new grants do not allow are dropped here.
//
// The old client's session is marked replaced, so that OnDisconnect
// forgets it; if the old client is already gone, it is forgotten here. (In
// that order: mochi may report the old disconnect at any moment.)
func (h *hook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	// Serialise takeovers of this identity until OnSessionEstablished, or
	// the connection's end if mochi never gets there (see idLocks).
	unlock := h.idLocks.lock(cl.ID)
	if s := h.sessions.get(cl); s != nil {
		s.unlockID = unlock
		if s.conn != nil {
			s.conn.afterClose(unlock)
		}
	} else {
		unlock() // not ours: OnConnectAuthenticate refused it already
	}
	old, ok := h.server.Clients.Get(cl.ID)
	if !ok || old == cl {
		return
	}
	if prev := h.sessions.get(old); prev != nil {
		prev.replaced.Store(true)
		if old.Closed() {
			h.sessions.remove(prev)
		}
	}
	s := h.sessions.get(cl)
	if s == nil {
		return
	}
	for _, pk := range old.State.Inflight.GetAll(false) {
		if pk.FixedHeader.Type == packets.Publish && !s.rights().canSubscribe(pk.TopicName) {
			if old.State.Inflight.Delete(pk.PacketID) {
				atomic.AddInt64(&h.server.Info.Inflight, -1)
			}
		}
	}
	for filter := range old.State.Subscriptions.GetAll() {
		if !s.rights().canSubscribe(filter) {
			old.State.Subscriptions.Delete(filter)
			if h.server.Topics.Unsubscribe(filter, old.ID) {
				atomic.AddInt64(&h.server.Info.Subscriptions, -1)
			}
		}
	}
}

// OnSessionEstablished runs once mochi has added the client and sent its
// CONNACK: the takeover is complete, so the identity's lock is released.
func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	s := h.sessions.get(cl)
	if s == nil {
		return
	}
	if s.unlockID != nil {
		s.unlockID()
	}
	h.claimSession(s)
	s.connectedAt = h.now()
	h.events.connected(cl, s, s.connectedAt)
	// Logged once the CONNACK is out, so that every "device connected"
	// has its "session ended" (OnDisconnect follows on every path from here).
	h.log.Info("device connected", "device", s.deviceID, "serial", s.serial, "remote", cl.Net.Remote)
}

// OnDisconnect forgets the session when mochi forgets the client (a clean
// session ends here, a taken-over one was replaced) or when it was
// dropped. A persistent session stays, so that mochi may keep queueing
// what its grants allow.
func (h *hook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	s := h.sessions.get(cl)
	if s == nil {
		return
	}
	s.stopExpiry()
	h.seen.mark(s.deviceID, h.now())
	if !s.connectedAt.IsZero() {
		reason, detail := disconnectReason(cl, s, err)
		h.events.disconnected(cl, s, reason, detail, h.now())
		// The counterpart of "device connected": with the two, the logs
		// alone say which sessions a broker held at any moment.
		h.log.Info("session ended", "device", s.deviceID, "serial", s.serial, "reason", reason, "detail", detail, "remote", cl.Net.Remote)
	}
	if expire || cl.IsTakenOver() || s.replaced.Load() || s.dropped.Load() {
		h.sessions.remove(s)
	}
}

// OnWill empties the Will of a dropped session (and of a client without a
// session, which cannot happen). mochi calls it from the client's own
// goroutine just before publishing the Will; a Will without a topic
// reaches nobody, because no ACL allows the empty topic. mochi offers no
// cleaner veto: an error from OnWill keeps the original Will. A session
// taken over by the same device keeps its Will, as MQTT prescribes.
func (h *hook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if s := h.sessions.get(cl); s == nil || s.dropped.Load() {
		return mqtt.Will{}, nil
	}
	return will, nil
}

// OnClientExpired forgets a persistent session mochi has expired.
func (h *hook) OnClientExpired(cl *mqtt.Client) {
	h.sessions.removeClient(cl)
}
