package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// OnWillSent forwards a Will mochi has just published here to the other
// brokers. mochi's Wills skip OnPublish and the ACL, so the ACL is asked
// here: a Will goes out only to a topic its device may publish to now
// (the CONNECT checked it too, and OnWill empties the Will of a dropped
// device). mochi calls it before OnDisconnect, while the session is known.
func (r *router) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if pk.TopicName == "" || !r.acl(cl, pk.TopicName, true) {
		return
	}
	r.forward(cl, pk)
}
