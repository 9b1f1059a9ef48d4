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
	// RateAction is what a device over its publish or byte rate gets:
	// "throttle" (its reads paused until the rate allows) or "disconnect".
	RateAction        string `json:"rate_action,omitempty"`
	MaxInflight       int    `json:"max_inflight,omitempty"`        // unacknowledged QoS 1/2 messages each way
	ConnectsPerMinute int    `json:"connects_per_minute,omitempty"` // CONNECTs per device identity
}

// Rate actions of Limits.RateAction.
const (
	RateThrottle   = "throttle"
	RateDisconnect = "disconnect"
)

// validate names the first bad field of l.
func (l *Limits) validate() error {
	switch {
	case l.PublishRate < 0 || l.PublishBurst < 0 || l.ByteRate < 0 || l.MaxSubscriptions < 0 || l.MaxInflight < 0 || l.ConnectsPerMinute < 0:
		return fmt.Errorf("limits must not be negative")
	case l.MaxInflight > 65535:
		return fmt.Errorf("max_inflight %d is over 65535 (MQTT's Receive Maximum)", l.MaxInflight)
	case l.RateAction != "" && l.RateAction != RateThrottle && l.RateAction != RateDisconnect:
		return fmt.Errorf("rate_action %q is neither %q nor %q", l.RateAction, RateThrottle, RateDisconnect)
	}
	return nil
}

// SetGroupLimits replaces the per-device limits of a group (nil: the
// broker's defaults) and records "group.limits"; a group without a record
// gets one with the default policy. A negative field or an unknown RateAction gives ErrInvalid.
// Brokers apply the change to connected sessions at once (ChangeACL).
func (db *DB) SetGroupLimits(ctx context.Context, name string, l *Limits, by Actor) (Group, error) {
	if err := identity.ValidateID(name); err != nil {
		return Group{}, fmt.Errorf("%w: group name: %w", ErrInvalid, err)
	}
	if l != nil {
		if err := l.validate(); err != nil {
			return Group{}, fmt.Errorf("%w: group %s: %w", ErrInvalid, name, err)
		}
	}
	if l != nil && *l == (Limits{}) {
		l = nil
	}
	return db.editGroup(ctx, name, "group.limits", fmt.Sprintf("%+v", l), by,
		func(g Group) bool { return reflect.DeepEqual(g.Limits, l) },
		func(g *Group) { g.Limits = l })
}
