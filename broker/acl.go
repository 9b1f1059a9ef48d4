package broker

import (
	"strings"

	"github.com/fleetgate/fleetgate/identity"
)

// This file holds the ACL as pure functions over strings; doc.go states the
// rules. Nothing here allocates on the check path: mochi calls the ACL once
// per subscription and once per delivered message.

// sharePrefix starts an MQTT 5 shared subscription: $share/<group>/<filter>.
const sharePrefix = "$share/"

// grants is the ACL of one device, fixed at CONNECT. The first entry of each
// list is the device's own namespace devices/<id>/#.
type grants struct {
	publish   []string // topic filters the device may publish to
	subscribe []string // topic filters the device may subscribe within
}

// newGrants builds the ACL of a device from its ID and its registry grants.
// Grants that are not well-formed topic filters can match nothing safely, so
// they are left out and returned for the caller to log.
func newGrants(deviceID string, publish, subscribe []string) (g grants, ignored []string) {
	own := identity.Namespace(deviceID) + "#"
	g.publish = append(g.publish, own)
	g.subscribe = append(g.subscribe, own)
	for _, f := range publish {
		if validFilter(f) {
			g.publish = append(g.publish, f)
		} else {
			ignored = append(ignored, f)
		}
	}
	for _, f := range subscribe {
		if validFilter(f) {
			g.subscribe = append(g.subscribe, f)
		} else {
			ignored = append(ignored, f)
		}
	}
	return g, ignored
}

// canPublish reports whether the device may publish to topic (also used for
// the Will topic, which mochi publishes on the device's behalf).
func (g grants) canPublish(topic string) bool {
	if !validTopic(topic) || strings.HasPrefix(topic, "$") {
		return false
	}
	return anyContains(g.publish, topic)
}

// canSubscribe reports whether the device may subscribe to filter, or
// receive a message published to a topic (a topic is a filter without
// wildcards). A filter is allowed only if every topic it can match is
// matched by one allowed filter; $share/<group>/ is stripped first.
func (g grants) canSubscribe(filter string) bool {
	f, ok := stripShare(filter)
	if !ok || !validFilter(f) {
		return false
	}
	if strings.HasPrefix(f, "$") {
		return strings.HasPrefix(f, EventsRoot) && anyReserved(g.subscribe, f)
	}
	return anyContains(g.subscribe, f)
}

// anyReserved reports whether a grant naming the events tree itself
// contains f. Only such a grant opens a '$' topic: a catch-all grant
// ("#", "+/events/#") never does, so the events reach exactly the
// identities granted them.
func anyReserved(allowed []string, f string) bool {
	for _, a := range allowed {
		if strings.HasPrefix(a, EventsRoot) && contains(a, f) {
			return true
		}
	}
	return false
}

// anyContains reports whether one of the allowed filters contains f.
func anyContains(allowed []string, f string) bool {
	for _, a := range allowed {
		if contains(a, f) {
			return true
		}
	}
	return false
}

// stripShare removes a leading $share/<group>/ from a subscription filter.
// ok is false for a malformed shared subscription: an empty group, a group
// holding a wildcard, or no filter after the group.
func stripShare(filter string) (f string, ok bool) {
	rest, shared := strings.CutPrefix(filter, sharePrefix)
	if !shared {
		return filter, true
	}
	group, f, found := strings.Cut(rest, "/")
	if !found || group == "" || strings.ContainsAny(group, "+#") || f == "" {
		return "", false
	}
	return f, true
}

// contains reports whether every topic that inner matches is also matched
// by outer. Both must be valid filters. Because a topic is a filter without
// wildcards, contains(filter, topic) is also plain topic matching.
//
// Level by level: '#' in outer covers the rest, including no level at all
// ("a/#" matches "a"); '+' in outer covers one level of any kind except '#';
// a literal in outer covers only the same literal. One corner: a topic has
// at least one level, so "+/#" covers everything "#" does.
func contains(outer, inner string) bool {
	o, i := levels{rest: outer}, levels{rest: inner}
	for first := true; ; first = false {
		ol, oOK := o.next()
		il, iOK := i.next()
		switch {
		case oOK && ol == "#":
			return true
		case !oOK || !iOK:
			return !oOK && !iOK
		case il == "#":
			return first && ol == "+" && !o.done && o.rest == "#"
		case ol == "+":
			continue
		case il != ol:
			return false // also covers il == "+" under a literal
		}
	}
}

// levels walks the '/'-separated levels of a topic or filter without
// allocating. An empty string has one empty level, as in MQTT.
type levels struct {
	rest string
	done bool
}

// next returns the next level, or ok false when none is left.
func (l *levels) next() (level string, ok bool) {
	if l.done {
		return "", false
	}
	level, rest, more := strings.Cut(l.rest, "/")
	l.rest, l.done = rest, !more
	return level, true
}

// validFilter reports whether f is a well-formed MQTT topic filter:
// non-empty, no NUL, '+' only as a whole level, '#' only as the whole last
// level.
func validFilter(f string) bool {
	if f == "" || strings.IndexByte(f, 0) >= 0 {
		return false
	}
	l := levels{rest: f}
	for {
		level, ok := l.next()
		switch {
		case !ok:
			return true
		case level == "#":
			if !l.done {
				return false
			}
		case level == "+":
		case strings.ContainsAny(level, "+#"):
			return false
		}
	}
}

// validTopic reports whether t is a well-formed MQTT topic name: non-empty,
// no NUL and no wildcard.
func validTopic(t string) bool {
	return t != "" && !strings.ContainsAny(t, "+#\x00")
}
