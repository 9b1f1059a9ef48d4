package store

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/identity"
)

func TestCreateDevice(t *testing.T) {
	tests := []struct {
		name    string
		in      Device
		want    DeviceStatus
		wantErr error
	}{
		{name: "ok/defaults to active", in: Device{ID: "sensor-0001"}, want: DeviceActive},
		{name: "ok/suspended with grants and metadata", in: Device{
			ID: "Gw_7.a:b-c", Status: DeviceSuspended, Reason: "awaiting QA", Group: "line-3",
			Metadata:  map[string]string{"model": "x1"},
			Publish:   []string{"telemetry/+/up", "fleet/#", "a//b"},
			Subscribe: []string{"+", "#", "cmd/+/+"},
		}, want: DeviceSuspended},
		{name: "error/empty id", in: Device{}, wantErr: identity.ErrInvalidID},
		{name: "error/id with slash", in: Device{ID: "a/b"}, wantErr: identity.ErrInvalidID},
		{name: "error/id with plus", in: Device{ID: "a+b"}, wantErr: identity.ErrInvalidID},
		{name: "error/id with hash", in: Device{ID: "a#"}, wantErr: identity.ErrInvalidID},
		{name: "error/id with dollar", in: Device{ID: "$SYS"}, wantErr: identity.ErrInvalidID},
		{name: "error/id with space", in: Device{ID: "a b"}, wantErr: identity.ErrInvalidID},
		{name: "error/id with NUL", in: Device{ID: "a\x00"}, wantErr: identity.ErrInvalidID},
		{name: "error/id too long", in: Device{ID: strings.Repeat("a", identity.MaxIDLength+1)}, wantErr: identity.ErrInvalidID},
		{name: "error/created revoked", in: Device{ID: "dev-1", Status: DeviceRevoked}, wantErr: ErrInvalid},
		{name: "error/unknown status", in: Device{ID: "dev-1", Status: "paused"}, wantErr: ErrInvalid},
		{name: "error/hash not last", in: Device{ID: "dev-1", Publish: []string{"a/#/b"}}, wantErr: ErrInvalid},
		{name: "error/wildcard inside level", in: Device{ID: "dev-1", Subscribe: []string{"a+/b"}}, wantErr: ErrInvalid},
		{name: "error/empty filter", in: Device{ID: "dev-1", Subscribe: []string{""}}, wantErr: ErrInvalid},
		{name: "error/NUL in filter", in: Device{ID: "dev-1", Publish: []string{"a/\x00"}}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			got, err := db.CreateDevice(t.Context(), tt.in, operator)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("CreateDevice = %v, want ErrInvalid wrapping %v", err, tt.wantErr)
				}
				if n := auditLen(t, db); n != 0 {
					t.Errorf("audit log holds %d events after a refused create", n)
				}
				if all, _ := db.Devices(t.Context(), DeviceFilter{}); len(all) != 0 {
					t.Errorf("refused create stored %v", all)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateDevice: %v", err)
			}
			if got.Status != tt.want || !got.CreatedAt.Equal(testEpoch) || !got.UpdatedAt.Equal(testEpoch) {
				t.Errorf("created %+v, want status %s and times %s", got, tt.want, testEpoch)
			}
			stored, err := db.Device(t.Context(), tt.in.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Group != tt.in.Group || stored.Reason != tt.in.Reason ||
				!slices.Equal(stored.Publish, tt.in.Publish) || !slices.Equal(stored.Subscribe, tt.in.Subscribe) ||
				stored.Metadata["model"] != tt.in.Metadata["model"] || !stored.CreatedAt.Equal(got.CreatedAt) {
				t.Errorf("stored %+v, returned %+v", stored, got)
			}
			e := lastAudit(t, db)
			if e.Action != "device.register" || e.Target != tt.in.ID || e.Actor != operator.Name || e.Remote != operator.Remote {
				t.Errorf("audit event %+v", e)
			}
		})
	}
}

func TestCreateDeviceDuplicate(t *testing.T) {
	tests := []struct {
		name  string
		state DeviceStatus
	}{
		{name: "error/active", state: DeviceActive},
		{name: "error/suspended", state: DeviceSuspended},
		{name: "error/revoked", state: DeviceRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustDevice(t, db, "dev-1")
			if _, err := db.SetDeviceStatus(t.Context(), "dev-1", tt.state, "test", operator); err != nil {
				t.Fatal(err)
			}
			before := auditLen(t, db)
			_, err := db.CreateDevice(t.Context(), Device{ID: "dev-1", Group: "other"}, operator)
			if !errors.Is(err, ErrExists) {
				t.Fatalf("CreateDevice of a used ID = %v, want ErrExists", err)
			}
			d, err := db.Device(t.Context(), "dev-1")
			if err != nil || d.Status != tt.state || d.Group != "" {
				t.Errorf("existing device changed: %+v, %v", d, err)
			}
			if n := auditLen(t, db); n != before {
				t.Errorf("audit grew from %d to %d on a refused create", before, n)
			}
		})
	}
}

func TestDevices(t *testing.T) {
	db := openTestDB(t)
	for _, d := range []Device{
		{ID: "c-3", Group: "east"},
		{ID: "a-1", Group: "west"},
		{ID: "b-2", Group: "east", Status: DeviceSuspended},
		{ID: "d-4"},
	} {
		if _, err := db.CreateDevice(t.Context(), d, operator); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SetDeviceStatus(t.Context(), "d-4", DeviceRevoked, "lost", operator); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		filter  DeviceFilter
		want    []string
		wantErr error
	}{
		{name: "ok/all sorted by id", want: []string{"a-1", "b-2", "c-3", "d-4"}},
		{name: "ok/active", filter: DeviceFilter{Status: DeviceActive}, want: []string{"a-1", "c-3"}},
		{name: "ok/suspended", filter: DeviceFilter{Status: DeviceSuspended}, want: []string{"b-2"}},
		{name: "ok/revoked", filter: DeviceFilter{Status: DeviceRevoked}, want: []string{"d-4"}},
		{name: "ok/group", filter: DeviceFilter{Group: "east"}, want: []string{"b-2", "c-3"}},
		{name: "ok/group and status", filter: DeviceFilter{Group: "east", Status: DeviceActive}, want: []string{"c-3"}},
		{name: "ok/no match is empty", filter: DeviceFilter{Group: "north"}, want: []string{}},
		{name: "error/unknown status", filter: DeviceFilter{Status: "paused"}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Devices(t.Context(), tt.filter)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Devices = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got == nil {
				t.Error("Devices returned nil, want a non-nil slice")
			}
			ids := []string{}
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("Devices(%+v) = %v, want %v", tt.filter, ids, tt.want)
			}
		})
	}
}

func TestDeviceNotFound(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	if _, err := db.Device(t.Context(), "dev-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Device(unknown) = %v, want ErrNotFound", err)
	}
}

func TestValidateFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		ok     bool
	}{
		{name: "ok/plain", filter: "devices/a/telemetry", ok: true},
		{name: "ok/hash alone", filter: "#", ok: true},
		{name: "ok/plus alone", filter: "+", ok: true},
		{name: "ok/hash last", filter: "a/+/#", ok: true},
		{name: "ok/empty levels", filter: "/a//b/", ok: true},
		{name: "ok/unicode", filter: "häuser/+", ok: true},
		{name: "error/empty", filter: ""},
		{name: "error/hash not last", filter: "#/a"},
		{name: "error/hash inside level", filter: "a/b#"},
		{name: "error/plus inside level", filter: "a/+b/c"},
		{name: "error/plus and hash in a level", filter: "a/+#"},
		{name: "error/NUL", filter: "a\x00b"},
		{name: "error/invalid UTF-8", filter: "a/\xff"},
		{name: "error/too long", filter: strings.Repeat("a", maxFilterLength+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateFilter(tt.filter)
			if tt.ok && err != nil {
				t.Errorf("validateFilter(%q) = %v, want nil", tt.filter, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Errorf("validateFilter(%q) = %v, want ErrInvalid", tt.filter, err)
			}
		})
	}
}
