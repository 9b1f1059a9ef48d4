package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/identity"
)

// factoryRows returns n pre-registration rows of group "line-3", each with
// its own EK hash.
func factoryRows(n int) []Device {
	rows := make([]Device, n)
	for i := range rows {
		id := fmt.Sprintf("gw-%03d", i)
		rows[i] = Device{ID: id, Group: "line-3", EKHash: hashOf("ek of " + id),
			Metadata: map[string]string{"batch": "b7"}, Publish: []string{"fleet/+/status"}}
	}
	return rows
}

func TestImportDevices(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "line-3", true, false)
	rows := factoryRows(5)
	rows[4].Status = DeviceSuspended // awaiting QA

	created, unchanged, err := db.ImportDevices(t.Context(), rows, operator)
	if err != nil || created != 5 || unchanged != 0 {
		t.Fatalf("ImportDevices = %d, %d, %v; want 5, 0, nil", created, unchanged, err)
	}
	for _, row := range rows {
		d, err := db.DeviceByEK(t.Context(), row.EKHash)
		if err != nil || d.ID != row.ID || d.Group != "line-3" || d.Metadata["batch"] != "b7" || d.CreatedAt.IsZero() {
			t.Errorf("DeviceByEK(%s) = %+v, %v; want device %s", row.EKHash, d, err, row.ID)
		}
	}
	if d, _ := db.Device(t.Context(), "gw-004"); d.Status != DeviceSuspended {
		t.Errorf("gw-004 = %+v, want suspended", d)
	}
	e := lastAudit(t, db)
	if e.Action != "device.import" || !strings.Contains(e.Detail, "created=5") || e.Actor != operator.Name {
		t.Errorf("audit event %+v", e)
	}

	t.Run("ok/re-import changes nothing", func(t *testing.T) {
		auditBefore := auditLen(t, db)
		before, _ := db.Device(t.Context(), "gw-000")
		created, unchanged, err := db.ImportDevices(t.Context(), factoryRows(5), operator)
		if err != nil || created != 0 || unchanged != 5 {
			t.Fatalf("re-import = %d, %d, %v; want 0, 5, nil", created, unchanged, err)
		}
		if n := auditLen(t, db); n != auditBefore {
			t.Errorf("audit grew from %d to %d on a re-import", auditBefore, n)
		}
		if after, _ := db.Device(t.Context(), "gw-000"); !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("re-import rewrote gw-000: %+v", after)
		}
	})
	t.Run("ok/extended file creates only the new rows", func(t *testing.T) {
		created, unchanged, err := db.ImportDevices(t.Context(), factoryRows(7), operator)
		if err != nil || created != 2 || unchanged != 5 {
			t.Fatalf("ImportDevices = %d, %d, %v; want 2, 5, nil", created, unchanged, err)
		}
		if e := lastAudit(t, db); !strings.Contains(e.Detail, "rows=7 created=2 unchanged=5") {
			t.Errorf("audit detail %q", e.Detail)
		}
	})
	t.Run("ok/empty batch", func(t *testing.T) {
		if created, unchanged, err := db.ImportDevices(t.Context(), nil, operator); err != nil || created != 0 || unchanged != 0 {
			t.Errorf("ImportDevices(nil) = %d, %d, %v", created, unchanged, err)
		}
	})
}

func TestImportDevicesRefused(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(rows []Device) // the bad row is rows[2] unless said otherwise
		wantIndex int
		wantErr   error
	}{
		{name: "error/invalid id", edit: func(r []Device) { r[2].ID = "gw/2" }, wantIndex: 2, wantErr: identity.ErrInvalidID},
		{name: "error/revoked status", edit: func(r []Device) { r[2].Status = DeviceRevoked }, wantIndex: 2, wantErr: ErrInvalid},
		{name: "error/bad grant", edit: func(r []Device) { r[2].Subscribe = []string{"a/#/b"} }, wantIndex: 2, wantErr: ErrInvalid},
		{name: "error/short EK hash", edit: func(r []Device) { r[2].EKHash = "abcd" }, wantIndex: 2, wantErr: ErrInvalid},
		{name: "error/upper-case EK hash", edit: func(r []Device) { r[2].EKHash = strings.ToUpper(r[2].EKHash) }, wantIndex: 2, wantErr: ErrInvalid},
		{name: "error/EK hash twice in the file", edit: func(r []Device) { r[3].EKHash = r[1].EKHash }, wantIndex: 3, wantErr: ErrExists},
		{name: "error/id twice in the file", edit: func(r []Device) { r[3].ID = r[0].ID }, wantIndex: 3, wantErr: ErrExists},
		{name: "error/EK hash of a registered device", edit: func(r []Device) { r[2].EKHash = hashOf("ek of old-1") }, wantIndex: 2, wantErr: ErrExists},
		{name: "error/unknown group", edit: func(r []Device) { r[2].Group = "line-9" }, wantIndex: 2, wantErr: ErrNotFound},
		{name: "error/registered with another group", edit: func(r []Device) { r[2].ID, r[2].Group = "old-1", "" }, wantIndex: 2, wantErr: ErrExists},
		{name: "error/registered with other metadata", edit: func(r []Device) {
			r[2].ID, r[2].EKHash, r[2].Metadata = "old-1", hashOf("ek of old-1"), map[string]string{"batch": "b8"}
		}, wantIndex: 2, wantErr: ErrExists},
		{name: "error/registered with other grants", edit: func(r []Device) {
			r[2].ID, r[2].EKHash, r[2].Publish = "old-1", hashOf("ek of old-1"), nil
		}, wantIndex: 2, wantErr: ErrExists},
		{name: "error/first bad row wins over a later malformed one", edit: func(r []Device) {
			r[1].ID, r[1].Group = "old-1", ""
			r[3].ID = "x/y"
		}, wantIndex: 1, wantErr: ErrExists},
		{name: "error/registered without an EK", edit: func(r []Device) { r[2].ID, r[2].EKHash = "old-1", "" }, wantIndex: 2, wantErr: ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustGroup(t, db, "line-3", true, false)
			old := factoryRows(1)[0]
			old.ID, old.EKHash = "old-1", hashOf("ek of old-1")
			if _, _, err := db.ImportDevices(t.Context(), []Device{old}, operator); err != nil {
				t.Fatal(err)
			}
			auditBefore := auditLen(t, db)
			rows := factoryRows(5)
			tt.edit(rows)

			created, unchanged, err := db.ImportDevices(t.Context(), rows, operator)
			var ie *ImportError
			if !errors.As(err, &ie) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("ImportDevices = %v, want an *ImportError wrapping %v", err, tt.wantErr)
			}
			if ie.Index != tt.wantIndex || ie.ID != rows[tt.wantIndex].ID || !strings.Contains(err.Error(), fmt.Sprintf("%q", ie.ID)) {
				t.Errorf("ImportError = %+v (%q), want row %d of device %s", ie, err, tt.wantIndex, rows[tt.wantIndex].ID)
			}
			if created != 0 || unchanged != 0 {
				t.Errorf("counts %d, %d returned with an error", created, unchanged)
			}
			if n := deviceCount(t, db); n != 1 {
				t.Errorf("registry holds %d devices after a refused import, want 1", n)
			}
			if _, err := db.DeviceByEK(t.Context(), hashOf("ek of gw-000")); !errors.Is(err, ErrNotFound) {
				t.Errorf("EK index written by a refused import: %v", err)
			}
			if n := auditLen(t, db); n != auditBefore {
				t.Errorf("audit grew from %d to %d", auditBefore, n)
			}
			if err := db.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestDeviceByEK(t *testing.T) {
	db := openTestDB(t)
	ek := hashOf("ek of dev-1")
	if _, err := db.CreateDevice(t.Context(), Device{ID: "dev-1", EKHash: ek}, operator); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ek      string
		wantErr error
	}{
		{name: "ok/registered by CreateDevice", ek: ek},
		{name: "error/unknown", ek: hashOf("other"), wantErr: ErrNotFound},
		{name: "error/empty", ek: "", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := db.DeviceByEK(t.Context(), tt.ek)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DeviceByEK = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && d.ID != "dev-1" {
				t.Errorf("DeviceByEK = %+v", d)
			}
		})
	}
	t.Run("error/CreateDevice with a taken EK", func(t *testing.T) {
		if _, err := db.CreateDevice(t.Context(), Device{ID: "dev-2", EKHash: ek}, operator); !errors.Is(err, ErrExists) {
			t.Fatalf("CreateDevice = %v, want ErrExists", err)
		}
		if _, err := db.Device(t.Context(), "dev-2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("refused device stored: %v", err)
		}
	})
	t.Run("error/CreateDevice with a malformed EK", func(t *testing.T) {
		if _, err := db.CreateDevice(t.Context(), Device{ID: "dev-3", EKHash: "xyz"}, operator); !errors.Is(err, ErrInvalid) {
			t.Fatalf("CreateDevice = %v, want ErrInvalid", err)
		}
	})
}
