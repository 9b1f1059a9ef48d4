package store

import (
	"context"
	"fmt"
	"maps"
	"reflect"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// SetGroupACL replaces the ACL templates of a group and records
// "group.acl"; a group without a record gets one with the default
// enrollment policy. Templates are topic filters that may use {id},
// {group} and {meta.KEY} (ExpandACL); a malformed one gives ErrInvalid
// and changes nothing. Setting the ACL exactly as stored changes and
// records nothing. Brokers apply the change to connected sessions at once
// (ChangeACL).
func (db *DB) SetGroupACL(ctx context.Context, name string, publish, subscribe []string, by Actor) (Group, error) {
	if err := identity.ValidateID(name); err != nil {
		return Group{}, fmt.Errorf("%w: group name: %w", ErrInvalid, err)
	}
	if err := validateTemplates("publish", publish); err != nil {
		return Group{}, fmt.Errorf("group %s: %w", name, err)
	}
	if err := validateTemplates("subscribe", subscribe); err != nil {
		return Group{}, fmt.Errorf("group %s: %w", name, err)
	}
	detail := fmt.Sprintf("publish=%q subscribe=%q", publish, subscribe)
	return db.editGroup(ctx, name, "group.acl", detail, by,
		func(g Group) bool { return sameACL(g.Publish, g.Subscribe, publish, subscribe) },
		func(g *Group) { g.Publish, g.Subscribe = publish, subscribe })
}

// editGroup applies edit to the group name (one without a record starts
// from the default policy) unless unchanged says it already holds the
// change; then it stores it, records action with detail and announces
// ChangeACL. It returns the group as stored.
func (db *DB) editGroup(ctx context.Context, name, action, detail string, by Actor, unchanged func(Group) bool, edit func(*Group)) (Group, error) {
	var out Group
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		b := tx.Bucket(bucketGroups)
		g := Group{Name: name}
		found, err := getJSON(b, []byte(name), &g)
		if err != nil {
			return nil, err
		}
		if found && unchanged(g) {
			out = g
			return nil, nil
		}
		now := db.clock()
		if !found {
			g.CreatedAt = now
		}
		edit(&g)
		if err := putJSON(b, []byte(name), g); err != nil {
			return nil, err
		}
		if err := db.appendAudit(tx, action, name, detail, by); err != nil {
			return nil, err
		}
		out = g
		return []Change{{Kind: ChangeACL, Group: name, Time: now}}, nil
	})
	if err != nil {
		return Group{}, err
	}
	return out, nil
}

// SetDeviceGrants replaces the ACL grants of a registered device (beyond
// its own namespace) and records "device.grants". Grants must be valid
// topic filters (ErrInvalid); an unknown device gives ErrNotFound.
// Brokers apply the change to the device's sessions at once (ChangeACL).
func (db *DB) SetDeviceGrants(ctx context.Context, id string, publish, subscribe []string, by Actor) (Device, error) {
	if err := validateFilters("publish", publish); err != nil {
		return Device{}, fmt.Errorf("device %s: %w", id, err)
	}
	if err := validateFilters("subscribe", subscribe); err != nil {
		return Device{}, fmt.Errorf("device %s: %w", id, err)
	}
	var out Device
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		d, err := getDevice(tx, id)
		if err != nil {
			return nil, err
		}
		if sameACL(d.Publish, d.Subscribe, publish, subscribe) {
			out = d
			return nil, nil
		}
		d.Publish, d.Subscribe, d.UpdatedAt = publish, subscribe, db.clock()
		if err := putJSON(tx.Bucket(bucketDevices), []byte(id), d); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("publish=%q subscribe=%q", publish, subscribe)
		if err := db.appendAudit(tx, "device.grants", id, detail, by); err != nil {
			return nil, err
		}
		out = d
		return []Change{{Kind: ChangeACL, DeviceID: id, Time: d.UpdatedAt}}, nil
	})
	if err != nil {
		return Device{}, err
	}
	return out, nil
}

// aclNews returns the ChangeACL of a raw change that rewrote a device's
// grants, group or metadata, or a group's templates or limits (etcd: from whichever host wrote it).
func aclNews(r kv.RawChange) (Change, bool) {
	switch r.Bucket {
	case string(bucketGroups):
		// A new group record is news too: devices may already name it.
		var was, cur Group
		if r.Old != nil && decode(r.Old, &was) != nil || decode(r.New, &cur) != nil ||
			sameACL(was.Publish, was.Subscribe, cur.Publish, cur.Subscribe) && reflect.DeepEqual(was.Limits, cur.Limits) {
			return Change{}, false
		}
		return Change{Kind: ChangeACL, Group: cur.Name, Time: r.Time}, true
	case string(bucketDevices):
		var was, cur Device
		if r.Old == nil {
			return Change{}, false // a new device: no session can hold it yet
		}
		if decode(r.Old, &was) != nil || decode(r.New, &cur) != nil ||
			sameACL(was.Publish, was.Subscribe, cur.Publish, cur.Subscribe) && was.Group == cur.Group && maps.Equal(was.Metadata, cur.Metadata) {
			return Change{}, false
		}
		return Change{Kind: ChangeACL, DeviceID: cur.ID, Time: cur.UpdatedAt}, true
	}
	return Change{}, false
}
