package store

import (
	"errors"
	"slices"
	"testing"
)

func TestExpandACL(t *testing.T) {
	d := Device{ID: "be-1", Group: "backends", Metadata: map[string]string{"site": "berlin", "bad": "a/#", "plus": "+"}}
	tests := []struct {
		name      string
		templates []string
		want      []string
	}{
		{name: "ok/no variables", templates: []string{"devices/+/telemetry"}, want: []string{"devices/+/telemetry"}},
		{name: "ok/id and group", templates: []string{"svc/{group}/{id}/#"}, want: []string{"svc/backends/be-1/#"}},
		{name: "ok/metadata", templates: []string{"sites/{meta.site}/+/alerts"}, want: []string{"sites/berlin/+/alerts"}},
		{name: "ok/missing metadata grants nothing", templates: []string{"sites/{meta.region}/#", "a"}, want: []string{"a"}},
		{name: "ok/a value with a level separator or wildcard grants nothing", templates: []string{"sites/{meta.bad}", "x/{meta.plus}/y"}, want: []string{}},
		{name: "ok/unknown variable grants nothing", templates: []string{"{serial}/#"}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExpandACL(tt.templates, d); !slices.Equal(got, tt.want) {
				t.Errorf("ExpandACL(%q) = %q, want %q", tt.templates, got, tt.want)
			}
		})
	}
}

// SetGroupACL, SetDeviceGrants, SetGroupLimits and SetDeviceProfile store, audit and announce a change, and
// refuse a malformed list without changing anything.
func TestSetACL(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "be-1")
	feed := db.Watch(t.Context())
	tests := []struct {
		name       string
		set        func() error
		wantErr    error
		wantAction string // "": no audit, no change
		want       Change
	}{
		{name: "ok/new group", set: func() error {
			_, err := db.SetGroupACL(t.Context(), "backends", []string{"devices/+/cmd/#"}, []string{"devices/+/telemetry", "sites/{meta.site}/#"}, operator)
			return err
		}, wantAction: "group.acl", want: Change{Kind: ChangeACL, Group: "backends"}},
		{name: "ok/same again changes nothing", set: func() error {
			_, err := db.SetGroupACL(t.Context(), "backends", []string{"devices/+/cmd/#"}, []string{"devices/+/telemetry", "sites/{meta.site}/#"}, operator)
			return err
		}},
		{name: "ok/narrowed", set: func() error {
			_, err := db.SetGroupACL(t.Context(), "backends", nil, []string{"devices/+/telemetry"}, operator)
			return err
		}, wantAction: "group.acl", want: Change{Kind: ChangeACL, Group: "backends"}},
		{name: "ok/device grants", set: func() error {
			_, err := db.SetDeviceGrants(t.Context(), "be-1", nil, []string{"fleet/alerts"}, operator)
			return err
		}, wantAction: "device.grants", want: Change{Kind: ChangeACL, DeviceID: "be-1"}},
		{name: "ok/group limits", set: func() error {
			_, err := db.SetGroupLimits(t.Context(), "backends", &Limits{PublishRate: 5}, operator)
			return err
		}, wantAction: "group.limits", want: Change{Kind: ChangeACL, Group: "backends"}},
		{name: "ok/device profile", set: func() error {
			_, err := db.SetDeviceProfile(t.Context(), "be-1", "backends", map[string]string{"site": "b"}, operator)
			return err
		}, wantAction: "device.profile", want: Change{Kind: ChangeACL, DeviceID: "be-1"}},
		{name: "ok/same profile changes nothing", set: func() error {
			_, err := db.SetDeviceProfile(t.Context(), "be-1", "backends", map[string]string{"site": "b"}, operator)
			return err
		}},
		{name: "error/profile group name", set: func() error {
			_, err := db.SetDeviceProfile(t.Context(), "be-1", "no/slash", nil, operator)
			return err
		}, wantErr: ErrInvalid},
		{name: "error/profile of unknown device", set: func() error {
			_, err := db.SetDeviceProfile(t.Context(), "nope", "", nil, operator)
			return err
		}, wantErr: ErrNotFound},
		{name: "error/unknown rate action", set: func() error {
			_, err := db.SetGroupLimits(t.Context(), "backends", &Limits{RateAction: "ignore"}, operator)
			return err
		}, wantErr: ErrInvalid},
		{name: "error/negative limit", set: func() error {
			_, err := db.SetGroupLimits(t.Context(), "backends", &Limits{MaxSubscriptions: -1}, operator)
			return err
		}, wantErr: ErrInvalid},
		{name: "error/unknown variable", set: func() error {
			_, err := db.SetGroupACL(t.Context(), "backends", nil, []string{"x/{serial}"}, operator)
			return err
		}, wantErr: ErrInvalid},
		{name: "error/unbalanced brace", set: func() error {
			_, err := db.SetGroupACL(t.Context(), "backends", nil, []string{"x/{id"}, operator)
			return err
		}, wantErr: ErrInvalid},
		{name: "error/template not a filter", set: func() error {
			_, err := db.SetGroupACL(t.Context(), "backends", []string{"a/#/{id}"}, nil, operator)
			return err
		}, wantErr: ErrInvalid},
		{name: "error/bad group name", set: func() error {
			_, err := db.SetGroupACL(t.Context(), "no/slash", nil, nil, operator)
			return err
		}, wantErr: ErrInvalid},
		{name: "error/device grant not a filter", set: func() error {
			_, err := db.SetDeviceGrants(t.Context(), "be-1", []string{"a/b#"}, nil, operator)
			return err
		}, wantErr: ErrInvalid},
		{name: "error/unknown device", set: func() error {
			_, err := db.SetDeviceGrants(t.Context(), "nope", nil, nil, operator)
			return err
		}, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := auditLen(t, db)
			if err := tt.set(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantAction == "" {
				if n := auditLen(t, db); n != before {
					t.Fatalf("audit grew from %d to %d", before, n)
				}
				return
			}
			if e := lastAudit(t, db); e.Action != tt.wantAction || e.Actor != operator.Name {
				t.Errorf("audit event %+v, want %s", e, tt.wantAction)
			}
			ch := receive(t, feed)
			if ch.Kind != tt.want.Kind || ch.Group != tt.want.Group || ch.DeviceID != tt.want.DeviceID {
				t.Errorf("change %+v, want %+v", ch, tt.want)
			}
		})
	}
	g, err := db.Group(t.Context(), "backends")
	if err != nil || len(g.Publish) != 0 || !slices.Equal(g.Subscribe, []string{"devices/+/telemetry"}) {
		t.Fatalf("group after the refusals: %+v %v", g, err)
	}
	// Putting the group's enrollment policy keeps its ACL and limits.
	if g, err = db.PutGroup(t.Context(), Group{Name: "backends", AllowTokens: true}, operator); err != nil || !slices.Equal(g.Subscribe, []string{"devices/+/telemetry"}) || g.Limits == nil || g.Limits.PublishRate != 5 {
		t.Fatalf("PutGroup dropped the ACL or limits: %+v %v", g, err)
	}
}
