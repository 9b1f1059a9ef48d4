package broker

import (
	"crypto/tls"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/store"
)

// admission is the outcome of every CONNECT check: either a refusal
// (reason set; err set too when the registry failed) or what the session
// of an admitted device needs.
type admission struct {
	reason string
	err    error  // a registry failure, logged at Error
	failed string // with err: which lookup failed

	deviceID string
	serial   string
	notAfter time.Time // the earlier of the certificate's and the record's
	group    string
	limits   Limits // the group's over the broker's defaults
	grants   grants
	cert     store.Certificate
	// clock is the change clock's reading taken before the registry was
	// read (see changeClock).
	clock uint64
}

// decide runs every CONNECT check, in order, and changes nothing: the
// certificate from the TLS handshake, the registry records, the group
// policy, then the packet (client ID and Will).
func (h *hook) decide(cl *mqtt.Client, pk packets.Packet) admission {
	cs, ok := cl.Net.Conn.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return admission{reason: reasonNoClientCert}
	}
	leaf, ok := peerLeaf(cs.ConnectionState())
	if !ok {
		return admission{reason: reasonNoClientCert}
	}
	a := admission{serial: serialHex(leaf), notAfter: leaf.NotAfter}
	if fc, chain, ok := h.foreignCAs.match(cs.ConnectionState()); ok {
		// A chain to a registered foreign CA: its own checks and the
		// registration on first connect, then the same checks as ours.
		if a.deviceID, a.reason, a.err = h.admitForeign(fc, leaf, chain); a.reason != "" || a.err != nil {
			a.failed = "foreign device registration"
			return a
		}
	} else if a.deviceID, a.reason = checkLeaf(leaf, h.now()); a.reason != "" {
		return a
	}
	a.clock = h.changes.read(a.deviceID)
	dev, cert, reason, err := checkRegistry(h.ctx, h.reg, a.deviceID, leaf)
	a.failed = "registry lookup"
	if reason == "" && err == nil {
		reason, err = checkPolicy(h.ctx, h.reg, dev, cert)
		a.failed = "group policy lookup"
	}
	if reason != "" || err != nil {
		a.reason, a.err = reason, err
		return a
	}
	g, lim, ignored, err := grantsOf(h.ctx, h.reg, dev, h.limits)
	if err != nil {
		a.reason, a.err, a.failed = reasonRegistryError, err, "group ACL lookup"
		return a
	}
	if len(ignored) > 0 {
		h.log.Warn("malformed ACL grants ignored", "device", a.deviceID, "grants", ignored)
	}
	if a.reason = checkPacket(pk, a.deviceID, g); a.reason != "" {
		return a
	}
	if !cert.NotAfter.IsZero() && cert.NotAfter.Before(a.notAfter) {
		a.notAfter = cert.NotAfter
	}
	a.grants, a.cert, a.group, a.limits = g, cert, dev.Group, lim
	return a
}
