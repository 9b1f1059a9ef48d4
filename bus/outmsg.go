package bus

import (
	"sync"

	"github.com/nats-io/nats.go"
)

// outMsgs recycles the messages Publish sends: a message and its header
// map are several allocations, made once per message a broker forwards,
// and nats.Conn.PublishMsg copies what it sends before it returns.
type outMsgs struct {
	pool sync.Pool // of *outMsg
}

// outMsg is a reusable message with the origin set and the message ID's
// header value in id, which the header map holds.
type outMsg struct {
	m  *nats.Msg
	id []string
}

// get returns a message for subject, payload and message ID id, from
// origin.
func (o *outMsgs) get(origin, subject string, payload []byte, id string) *outMsg {
	om, _ := o.pool.Get().(*outMsg)
	if om == nil {
		om = &outMsg{m: nats.NewMsg(""), id: []string{""}}
		om.m.Header[HeaderOrigin] = []string{origin}
		om.m.Header[HeaderID] = om.id
	}
	om.m.Subject, om.m.Data, om.id[0] = subject, payload, id
	return om
}

// put takes back a message once it is sent, without its payload.
func (o *outMsgs) put(om *outMsg) {
	om.m.Data = nil
	o.pool.Put(om)
}
