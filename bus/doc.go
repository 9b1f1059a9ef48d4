// Package bus carries MQTT messages between brokers over NATS.
//
// # Subjects
//
// An MQTT topic becomes a NATS subject level by level. Each level is
// escaped on its own: bytes in [-_a-zA-Z0-9] stay, every other byte becomes
// "=XX" (upper-case hex), and an empty level becomes "=" alone. Levels are
// joined with "." under a fixed prefix: "fg.m." for ordinary topics and
// "fg.d." for topics starting with "$", so that a filter starting with a
// wildcard, which MQTT keeps away from "$" topics, cannot reach them on NATS
// either. So "devices/d1/temp" is "fg.m.devices.d1.temp" and "a//b.c" is
// "fg.m.a.=.b=2Ec". The escape is reversible (Topic(Subject(t)) == t for
// every valid MQTT topic), a level can never become a NATS wildcard, and the
// result is also a legal JetStream KV key.
//
// A filter maps the same way except for its wildcard levels: "+" becomes
// "*" and a trailing "#" becomes ">", plus a second subject for the parent
// level, because MQTT's "a/#" also matches "a" while NATS's "a.>" needs one
// more token. A filter's subjects match exactly the subjects of the topics
// the filter matches (the fuzz test checks both directions).
//
// A shared subscription "$share/<group>/<filter>" maps to a NATS queue
// subscription on the filter's subjects whose queue name holds the escaped
// group and filter (QueueName), so that NATS delivers one copy per group
// across all brokers and shares of one group on different filters stay
// apart.
//
// # Messages
//
// A Conn publishes every message with two headers: the publishing broker's
// instance ID (HeaderOrigin) and a message ID (HeaderID). A broker skips
// messages of its own origin on plain subscriptions (it delivered them
// locally already) but not on queue subscriptions (the group's member may
// be local), and drops a message ID it has delivered recently (Dedup), so
// that overlapping filters deliver once.
//
// Publish is core NATS: at most once, in order per publisher per broker
// pair, with nothing kept for a broker that is disconnected.
//
// # Durable messages and sessions
//
// StoreDurable sends a message to the JetStream stream StreamName, under
// DurableSubject (so the stream holds only durable messages), without
// waiting; the returned Pending's Await waits for the stream's
// acknowledgement within the publish timeout and then sends it on the
// message subject for live delivery with its stream sequence (HeaderSeq).
// PublishDurable does both. Replay reads the stored messages after a
// sequence that match a set of filters, with one short-lived consumer per
// filter subject. The session records of persistent MQTT sessions
// (SessionRecord: subscriptions and cursor) live in the key-value bucket
// SessionBucket and are written with compare-and-set (SaveSession), so
// that a broker that lost a session to another cannot overwrite it. The
// stream and the bucket are created on first use.
//
// # Retained messages
//
// Retained (retained.go) keeps the cluster's retained messages in the
// JetStream key-value bucket RetainedBucket: one key per topic, the
// topic's Subject; the value is the QoS byte followed by the payload; an
// empty payload deletes the key. Every broker watches the bucket from its
// start (the present keys first) and mirrors it into its own retained
// store, so the last change per topic by revision wins everywhere. Set
// fails at once with ErrDisconnected while NATS is unreachable rather than
// wait for it; WatchReachable (health.go) reports those outages.
package bus
