package broker

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// This file applies ACL changes live: a group's templates or limits, or a
// device's grants, group or metadata changed in the registry
// (store.ChangeACL), and every session they concern is judged again within
// the feed's delay: its grants and limits are rebuilt from the device's
// current record and group, and a device moved into a group whose policy
// its certificate does not meet (RequireTPM) is dropped.
//
// What a session loses: publishing is checked per PUBLISH, so a lost right
// applies to the next one. A subscription that no longer fits is removed
// from the broker's topic tree and the client's subscription map, so the
// stream stops at once (every delivery is also checked against the new
// grants). The connection stays up: MQTT has no server-sent UNSUBSCRIBE,
// but a backend holds many subscriptions and a DISCONNECT would stop all of
// them, and a template change on a big group would make every backend
// reconnect at once. The client learns of the loss when it subscribes again
// (SUBACK "not authorized"); the broker logs each removal and counts it.

// grantsOf builds the ACL of dev: its own namespace, its own grants and its
// group's templates expanded for it; and its group's limits over the
// broker's defaults. A registry without groups (or a group without a
// record) adds no templates and keeps the defaults.
func grantsOf(ctx context.Context, reg Registry, dev store.Device, defaults Limits) (grants, Limits, []string, error) {
	pub, sub, lim := dev.Publish, dev.Subscribe, defaults
	if f, ok := reg.(groupFinder); ok && dev.Group != "" {
		g, err := f.Group(ctx, dev.Group)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return grants{}, lim, nil, err
		default:
			pub = append(append([]string(nil), pub...), store.ExpandACL(g.Publish, dev)...)
			sub = append(append([]string(nil), sub...), store.ExpandACL(g.Subscribe, dev)...)
			lim = lim.over(g.Limits)
		}
	}
	g, ignored := newGrants(dev.ID, pub, sub)
	return g, lim, ignored, nil
}

// rights returns the session's current ACL.
func (s *session) rights() *grants { return s.acl.Load() }

// applyACL re-judges the sessions a ChangeACL concerns: those of the
// device it names, or of every device of the group it names.
func (b *Broker) applyACL(ch store.Change) {
	live := func(s *session) bool { return !s.dropped.Load() }
	var hit []*session
	if ch.DeviceID != "" {
		hit = b.sessions.ofDevice(ch.DeviceID, live)
	} else {
		hit = b.sessions.matching(func(s *session) bool { return live(s) && *s.group.Load() == ch.Group })
	}
	for _, s := range hit {
		b.hook.rejudge(s, ch.Time)
	}
}

// rejudge rebuilds the ACL and limits of s from the registry (the device's
// record and its group as they are now) and removes the subscriptions it
// no longer allows; a group policy its certificate no longer meets drops
// it. When the registry cannot answer, the
// session keeps only its own namespace (fail closed) until the next change
// or reconnect.
func (h *hook) rejudge(s *session, since time.Time) {
	g, lim := grants{}, h.limits
	dev, cert, err := h.reg.Lookup(h.ctx, s.deviceID, s.serial)
	if err == nil {
		if reason, perr := checkPolicy(h.ctx, h.reg, dev, cert); reason != "" && perr == nil {
			h.drop(s, reason, since)
			return
		}
		s.group.Store(&dev.Group)
		var ignored []string
		g, lim, ignored, err = grantsOf(h.ctx, h.reg, dev, h.limits)
		if len(ignored) > 0 {
			h.log.Warn("malformed ACL grants ignored", "device", s.deviceID, "grants", ignored)
		}
	}
	if err != nil {
		h.log.Error("ACL lookup failed; session limited to its own namespace", "device", s.deviceID, "error", err.Error())
		g, _ = newGrants(s.deviceID, nil, nil)
	}
	s.acl.Store(&g)
	s.setLimits(lim)
	removed := h.pruneSubscriptions(s, &g)
	h.metrics.aclRejudged.Inc()
	h.metrics.subsRevoked.Add(float64(len(removed)))
	attrs := []any{"device", s.deviceID, "client_id", s.cl.ID, "removed", removed}
	if !since.IsZero() {
		attrs = append(attrs, "delay_ms", float64(time.Since(since).Microseconds())/1000)
	}
	h.log.Info("ACL changed; session re-judged", attrs...)
}

// pruneSubscriptions removes the subscriptions of s that g does not allow
// and returns their filters.
func (h *hook) pruneSubscriptions(s *session, g *grants) []string {
	removed := []string{}
	cl := s.cl
	for filter := range cl.State.Subscriptions.GetAll() {
		if g.canSubscribe(filter) {
			continue
		}
		cl.State.Subscriptions.Delete(filter)
		if h.server.Topics.Unsubscribe(filter, cl.ID) {
			atomic.AddInt64(&h.server.Info.Subscriptions, -1)
		}
		removed = append(removed, filter)
	}
	return removed
}
