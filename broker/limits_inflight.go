package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Limits.MaxInflight per session. mochi keeps two quotas per client: the
// receive quota (QoS 1/2 PUBLISHes from the device not yet completed;
// mochi disconnects a device that exceeds it with 0x93 "receive maximum
// exceeded") and the send quota (QoS 1/2 deliveries not yet acknowledged;
// beyond it mochi holds deliveries until an acknowledgement frees a slot).
// It sets both at CONNECT from the server-wide ReceiveMaximum and the
// client's own Receive Maximum, and sets them again when the client
// inherits a session's in-flight messages; so the group's value is put in
// place at the one point after both: the CONNACK, which also tells an
// MQTT 5 device its Receive Maximum. A live limit change applies from the
// next CONNECT, because the device was told its Receive Maximum then.

// OnPacketEncode puts the session's MaxInflight in place as it writes the
// successful CONNACK. It returns every other packet as it is, before any
// lookup: it runs for every packet the broker writes.
func (h *hook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != packets.CodeSuccess.Code {
		return pk
	}
	s := h.sessions.get(cl)
	if s == nil {
		return pk
	}
	n := s.limiter.Load().maxInflight
	if n <= 0 {
		return pk
	}
	send := n
	if rm := int(cl.Properties.Props.ReceiveMaximum); rm > 0 && rm < send {
		send = rm // the device's own Receive Maximum is smaller
	}
	cl.State.Inflight.ResetReceiveQuota(int32(n))
	cl.State.Inflight.ResetSendQuota(int32(send))
	pk.Properties.ReceiveMaximum = uint16(n)
	return pk
}
