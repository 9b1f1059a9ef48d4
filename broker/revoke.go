package broker

import (
	"context"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/store"
)

// dropWriteTimeout bounds the DISCONNECT write when a session is dropped,
// so that a device that stopped reading cannot delay its own removal.
const dropWriteTimeout = time.Second

// watch applies the registry's change feed until it closes. Every device
// or certificate that leaves the active state loses its sessions at once.
// When the feed closes while the broker should still run, the broker can
// no longer revoke in time, so it stops serving (fail closed).
func (b *Broker) watch(ctx context.Context, changes <-chan store.Change) {
	for ch := range changes {
		if b.router != nil {
			b.router.registryChange(ch) // moved or revoked sessions leave the bus (route_session.go)
		}
		if ch.Kind == store.ChangeSession {
			b.hook.takenOver(ch)
			continue
		}
		if ch.Kind == store.ChangeBarrier {
			b.confirm(ch.Revision) // every change before it is applied
			continue
		}
		// Tick before the scan: a CONNECT that registers its session after
		// the scan sees the tick and decides again (changeClock).
		b.hook.changes.tick(ch.DeviceID)
		if ch.Kind == store.ChangeACL {
			b.applyACL(ch)
			continue
		}
		keep := func(s *session) bool { return affects(ch, s) }
		var hit []*session
		if ch.DeviceID != "" {
			hit = b.sessions.ofDevice(ch.DeviceID, keep)
		} else {
			hit = b.sessions.matching(keep)
		}
		for _, s := range hit {
			b.hook.drop(s, dropReason(ch), ch.Time)
		}
	}
	if ctx.Err() == nil {
		b.log.Error("registry change feed closed; stopping the broker because revocations can no longer be applied")
	}
	_ = b.Close()
}

// affects reports whether a change ends session s.
func affects(ch store.Change, s *session) bool {
	switch ch.Kind {
	case store.ChangeDevice:
		return ch.DeviceStatus != store.DeviceActive && ch.DeviceID == s.deviceID
	case store.ChangeCert:
		return ch.CertStatus != store.CertActive && ch.Serial == s.serial &&
			(ch.DeviceID == "" || ch.DeviceID == s.deviceID)
	}
	return false
}

// dropReason is the log reason for a change that ends sessions.
func dropReason(ch store.Change) string {
	switch {
	case ch.Kind == store.ChangeDevice && ch.DeviceStatus == store.DeviceSuspended:
		return reasonDeviceSuspended
	case ch.Kind == store.ChangeDevice && ch.DeviceStatus == store.DeviceRevoked:
		return reasonDeviceRevoked
	case ch.Kind == store.ChangeDevice:
		return reasonDeviceNotActive
	case ch.CertStatus == store.CertRevoked:
		return reasonCertRevoked
	}
	return reasonCertNotActive
}

// drop ends a session for a credential reason: from now on the session is
// denied everything, including its Will (a device whose credentials ended
// publishes nothing more, see OnWill), and the client is disconnected if it
// is connected. since is when the cause happened (the registry change, or
// the certificate's NotAfter); the log reports the delay from it.
//
// The first cause claims the session (revoking a device also revokes its
// certificates: the log names the device change, which comes first). The
// DISCONNECT is written in its own goroutine so that a device that stopped
// reading holds up neither the feed nor other drops. A connected session
// stays registered, marked dropped, until mochi reports the disconnect.
func (h *hook) drop(s *session, reason string, since time.Time) {
	if !s.dropped.CompareAndSwap(false, true) {
		return
	}
	s.dropReason.Store(&reason)
	if s.cl.Closed() {
		h.sessions.remove(s) // an offline persistent session: nothing to disconnect
		return
	}
	s.stopExpiry()
	if s.conn != nil {
		_ = s.conn.SetWriteDeadline(time.Now().Add(dropWriteTimeout))
	}
	h.drops.begin()
	go func() {
		defer h.drops.end()
		h.disconnect(s, reason, since)
	}()
}

// disconnect ends the session and logs the drop. MQTT 5 clients get a
// DISCONNECT "not authorized"; MQTT 3.1.1 has no server-sent DISCONNECT
// (clients such as mosquitto's treat one as a protocol error), so their
// connection is simply closed.
func (h *hook) disconnect(s *session, reason string, since time.Time) {
	cl := s.cl
	code := packets.ErrNotAuthorized
	if reason == reasonTakenOver {
		code = packets.ErrSessionTakenOver
	}
	if cl.Properties.ProtocolVersion >= 5 {
		_ = h.server.DisconnectClient(cl, code)
	} else {
		cl.Stop(code)
	}
	h.metrics.dropped(reason, since)
	attrs := []any{"device", s.deviceID, "serial", s.serial, "reason", reason, "remote", cl.Net.Remote}
	if !since.IsZero() {
		attrs = append(attrs, "delay_ms", float64(time.Since(since).Microseconds())/1000)
	}
	h.log.Info("device disconnected", attrs...)
}
