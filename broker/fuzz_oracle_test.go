package broker

import "strings"

// An independent statement of the ACL of a device without grants, written
// level by level without the containment code under test, so that the
// fuzz targets can check the broker's answers and its ACL functions
// against it.

// oraclePublish reports whether device id may publish to topic: a
// well-formed topic name in devices/<id> or below.
func oraclePublish(id, topic string) bool {
	if topic == "" || strings.ContainsAny(topic, "+#\x00") {
		return false
	}
	lv := strings.Split(topic, "/")
	return len(lv) >= 2 && lv[0] == "devices" && lv[1] == id
}

// oracleSubscribe reports whether device id may subscribe to filter: a
// well-formed filter (after a well-formed $share/<group>/ prefix) whose
// first two levels are literally devices/<id>, so that every topic it
// matches lies in devices/<id> or below.
func oracleSubscribe(id, filter string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		group, f, found := strings.Cut(rest, "/")
		if !found || group == "" || strings.ContainsAny(group, "+#") || f == "" {
			return false
		}
		filter = f
	}
	if filter == "" || strings.ContainsRune(filter, 0) {
		return false
	}
	lv := strings.Split(filter, "/")
	for i, l := range lv {
		switch {
		case l == "#" && i != len(lv)-1:
			return false
		case l != "#" && l != "+" && strings.ContainsAny(l, "+#"):
			return false
		}
	}
	return len(lv) >= 2 && lv[0] == "devices" && lv[1] == id
}

// fuzzGrants is the ACL the broker builds for fz-a.
func fuzzGrants() grants {
	g, _ := newGrants(fuzzDevice, nil, nil)
	return g
}
