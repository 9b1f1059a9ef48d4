package store

import (
	"context"
	"fmt"
	"reflect"

	"github.com/fleetgate/fleetgate/identity"
)

// Limits are a group's per-device limits. A zero field leaves the broker's
// default for it; the broker documents what exceeding each one does.
type Limits struct {
	PublishRate      float64 `json:"publish_rate,omitempty"`      // PUBLISH packets per second
	PublishBurst     int     `json:"publish_burst,omitempty"`     // 0: twice the rate
	ByteRate         float64 `json:"byte_rate,omitempty"`         // payload bytes per second
	MaxSubscriptions int     `json:"max_subscriptions,omitempty"` // per session
}

// SetGroupLimits replaces the per-device limits of a group (nil: the
// broker's defaults) and records "group.limits"; a group without a record
// gets one with the default policy. A negative field gives ErrInvalid.
// Brokers apply the change to connected sessions at once (ChangeACL).
func (db *DB) SetGroupLimits(ctx context.Context, name string, l *Limits, by Actor) (Group, error) {
	if err := identity.ValidateID(name); err != nil {
		return Group{}, fmt.Errorf("%w: group name: %w", ErrInvalid, err)
	}
	if l != nil && (l.PublishRate < 0 || l.PublishBurst < 0 || l.ByteRate < 0 || l.MaxSubscriptions < 0) {
		return Group{}, fmt.Errorf("%w: group %s: limits must not be negative", ErrInvalid, name)
	}
	if l != nil && *l == (Limits{}) {
		l = nil
	}
	return db.editGroup(ctx, name, "group.limits", fmt.Sprintf("%+v", l), by,
		func(g Group) bool { return reflect.DeepEqual(g.Limits, l) },
		func(g *Group) { g.Limits = l })
}
