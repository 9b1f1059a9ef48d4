package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store/kv"
)

// Group carries the enrollment policy of the devices whose Device.Group
// names it. A device whose group has no record (or no group at all) gets
// the default policy, the zero Group: no TPM requirement, no tokens.
type Group struct {
	Name string `json:"name"`
	// RequireTPM: only TPM-attested certificates admit devices of this
	// group; the broker enforces it at CONNECT via Certificate.Attestation.
	RequireTPM bool `json:"require_tpm"`
	// AllowTokens: one-time tokens with software keys may enroll devices
	// into this group.
	AllowTokens bool `json:"allow_tokens"`
	// Publish and Subscribe are ACL templates granted to every device of
	// the group on top of its own grants (SetGroupACL, ExpandACL).
	Publish   []string `json:"publish,omitempty"`
	Subscribe []string `json:"subscribe,omitempty"`
	// Limits override the broker's per-device limits for the group's
	// devices (SetGroupLimits); nil: the defaults.
	Limits    *Limits   `json:"limits,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// PutGroup creates or updates a group and records "group.put". The name
// must pass identity.ValidateID (groups appear in the same places as device
// IDs). RequireTPM together with AllowTokens is a contradiction and gives
// ErrInvalid. An update keeps CreatedAt; putting a group exactly as stored
// changes and records nothing. The group's ACL templates stay as stored
// (SetGroupACL changes them). It returns the group as stored.
func (db *DB) PutGroup(ctx context.Context, g Group, by Actor) (Group, error) {
	if err := identity.ValidateID(g.Name); err != nil {
		return Group{}, fmt.Errorf("%w: group name: %w", ErrInvalid, err)
	}
	if g.RequireTPM && g.AllowTokens {
		return Group{}, fmt.Errorf("%w: group %s: require_tpm and allow_tokens exclude each other (tokens enroll software keys)", ErrInvalid, g.Name)
	}
	var out Group
	changed := false
	err := db.update(ctx, func(tx kv.Tx) ([]Change, error) {
		b := tx.Bucket(bucketGroups)
		var old Group
		found, err := getJSON(b, []byte(g.Name), &old)
		if err != nil {
			return nil, err
		}
		if found && old.RequireTPM == g.RequireTPM && old.AllowTokens == g.AllowTokens {
			out = old
			return nil, nil
		}
		g.CreatedAt, g.Publish, g.Subscribe, g.Limits = db.clock(), nil, nil, nil
		if found {
			g.CreatedAt, g.Publish, g.Subscribe, g.Limits = old.CreatedAt, old.Publish, old.Subscribe, old.Limits
		}
		if err := putJSON(b, []byte(g.Name), g); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("require_tpm=%t allow_tokens=%t created=%t", g.RequireTPM, g.AllowTokens, !found)
		if err := db.appendAudit(tx, "group.put", g.Name, detail, by); err != nil {
			return nil, err
		}
		out, changed = g, true
		return nil, nil
	})
	if err != nil {
		return Group{}, err
	}
	if changed {
		db.log.Info("group put", "group", g.Name, "require_tpm", g.RequireTPM, "allow_tokens", g.AllowTokens, "actor", by.Name)
	}
	return out, nil
}

// Group returns the group with the given name, or ErrNotFound. The empty
// name is the group of devices without one and returns the default policy.
func (db *DB) Group(ctx context.Context, name string) (Group, error) {
	var g Group
	err := db.viewLocal(ctx, func(tx kv.Tx) error {
		var err error
		g, err = getGroup(tx, name)
		return err
	})
	return g, err
}

// Groups returns every group, sorted by name.
func (db *DB) Groups(ctx context.Context) ([]Group, error) {
	out := []Group{}
	err := db.view(ctx, func(tx kv.Tx) error {
		return tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
			var g Group
			if err := decode(v, &g); err != nil {
				return fmt.Errorf("group %q: %w", k, err)
			}
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// getGroup reads one group inside tx; "" is the default policy.
func getGroup(tx kv.Tx, name string) (Group, error) {
	if name == "" {
		return Group{}, nil
	}
	var g Group
	found, err := getJSON(tx.Bucket(bucketGroups), []byte(name), &g)
	if err != nil {
		return Group{}, err
	}
	if !found {
		return Group{}, fmt.Errorf("%w: group %q", ErrNotFound, name)
	}
	return g, nil
}

// policyOf returns the policy that applies to a device of the named group:
// the group's record, or the default policy when it has none (devices
// registered with a free-form group before groups had records).
func policyOf(tx kv.Tx, name string) (Group, error) {
	if name == "" {
		return Group{}, nil
	}
	var g Group
	found, err := getJSON(tx.Bucket(bucketGroups), []byte(name), &g)
	if err != nil || !found {
		return Group{Name: name}, err
	}
	return g, nil
}
