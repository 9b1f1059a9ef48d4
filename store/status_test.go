package store

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetgate/fleetgate/store/kv"
)

func TestSetDeviceStatus(t *testing.T) {
	tests := []struct {
		name       string
		from       DeviceStatus
		to         DeviceStatus
		wantAction string // "" means no change and no audit event
		wantErr    error
	}{
		{name: "ok/suspend", from: DeviceActive, to: DeviceSuspended, wantAction: "device.suspend"},
		{name: "ok/resume", from: DeviceSuspended, to: DeviceActive, wantAction: "device.resume"},
		{name: "ok/revoke active", from: DeviceActive, to: DeviceRevoked, wantAction: "device.revoke"},
		{name: "ok/revoke suspended", from: DeviceSuspended, to: DeviceRevoked, wantAction: "device.revoke"},
		{name: "ok/repeat active", from: DeviceActive, to: DeviceActive},
		{name: "ok/repeat suspended", from: DeviceSuspended, to: DeviceSuspended},
		{name: "ok/repeat revoked", from: DeviceRevoked, to: DeviceRevoked},
		{name: "error/resume revoked", from: DeviceRevoked, to: DeviceActive, wantErr: ErrState},
		{name: "error/suspend revoked", from: DeviceRevoked, to: DeviceSuspended, wantErr: ErrState},
		{name: "error/unknown status", from: DeviceActive, to: "paused", wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustDevice(t, db, "dev-1")
			if tt.from != DeviceActive {
				if _, err := db.SetDeviceStatus(t.Context(), "dev-1", tt.from, "setup", system); err != nil {
					t.Fatal(err)
				}
			}
			before, err := db.Device(t.Context(), "dev-1")
			if err != nil {
				t.Fatal(err)
			}
			auditBefore := auditLen(t, db)
			w := db.Watch(t.Context())

			got, err := db.SetDeviceStatus(t.Context(), "dev-1", tt.to, "because", operator)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SetDeviceStatus = %v, want %v", err, tt.wantErr)
			}
			stored, _ := db.Device(t.Context(), "dev-1")
			if tt.wantErr != nil || tt.wantAction == "" {
				if stored.Status != before.Status || !stored.UpdatedAt.Equal(before.UpdatedAt) {
					t.Errorf("device changed from %+v to %+v", before, stored)
				}
				if n := auditLen(t, db); n != auditBefore {
					t.Errorf("audit grew from %d to %d", auditBefore, n)
				}
				if tt.wantErr == nil && got.Status != before.Status {
					t.Errorf("repeat returned %+v, want the device", got)
				}
				assertNoChangeBeforeMarker(t, db, w)
				return
			}
			if got.Status != tt.to || stored.Status != tt.to || !stored.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("returned %+v, stored %+v, want status %s", got, stored, tt.to)
			}
			wantReason := "because"
			if tt.to == DeviceActive {
				wantReason = ""
			}
			if stored.Reason != wantReason {
				t.Errorf("reason = %q, want %q", stored.Reason, wantReason)
			}
			e := lastAudit(t, db)
			if e.Action != tt.wantAction || e.Target != "dev-1" || e.Actor != operator.Name {
				t.Errorf("audit event %+v, want %s", e, tt.wantAction)
			}
			c := receive(t, w)
			if c.Kind != ChangeDevice || c.DeviceID != "dev-1" || c.DeviceStatus != tt.to || !c.Time.Equal(stored.UpdatedAt) {
				t.Errorf("change %+v", c)
			}
		})
	}
	t.Run("error/unknown device", func(t *testing.T) {
		db := openTestDB(t)
		if _, err := db.SetDeviceStatus(t.Context(), "nope", DeviceSuspended, "", operator); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetDeviceStatus(unknown) = %v, want ErrNotFound", err)
		}
	})
}

// assertNoChangeBeforeMarker fails if w delivers anything before the change
// of a marker device registered and suspended now. Waiting for a later event
// proves the absence of an earlier one without sleeping.
func assertNoChangeBeforeMarker(t *testing.T, db *DB, w <-chan Change) {
	t.Helper()
	mustDevice(t, db, "marker")
	if _, err := db.SetDeviceStatus(t.Context(), "marker", DeviceSuspended, "", system); err != nil {
		t.Fatal(err)
	}
	if c := receive(t, w); c.DeviceID != "marker" {
		t.Errorf("unexpected change %+v", c)
	}
}

func TestRevokeDeviceCascades(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	mustDevice(t, db, "dev-10") // shares the prefix "dev-1" but not "dev-1/"
	mustCert(t, db, "dev-1", "a1")
	mustCert(t, db, "dev-1", "a2")
	mustCert(t, db, "dev-1", "a3")
	mustCert(t, db, "dev-10", "b1")
	earlier, err := db.RevokeCertificate(t.Context(), "a3", "key leaked", operator)
	if err != nil {
		t.Fatal(err)
	}
	setCertStatus(t, db, "a2", CertSuperseded)
	w := db.Watch(t.Context())
	auditBefore := auditLen(t, db)

	d, err := db.SetDeviceStatus(t.Context(), "dev-1", DeviceRevoked, "stolen", operator)
	if err != nil {
		t.Fatal(err)
	}
	for _, serial := range []string{"a1", "a2"} {
		c, err := db.Certificate(t.Context(), serial)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != CertRevoked || c.Reason != "stolen" || !c.RevokedAt.Equal(d.UpdatedAt) {
			t.Errorf("certificate %s = %+v, want revoked with the device", serial, c)
		}
	}
	if c, _ := db.Certificate(t.Context(), "a3"); c.Reason != "key leaked" || !c.RevokedAt.Equal(earlier.RevokedAt) {
		t.Errorf("already revoked certificate rewritten: %+v", c)
	}
	if c, _ := db.Certificate(t.Context(), "b1"); c.Status != CertActive {
		t.Errorf("certificate of another device revoked: %+v", c)
	}
	events, err := db.Audit(t.Context(), AuditFilter{AfterSeq: uint64(auditBefore)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Action+" "+e.Target)
	}
	want := []string{"device.revoke dev-1", "cert.revoke a1", "cert.revoke a2"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("audit = %v, want %v", got, want)
	}
	for i, wantSerial := range []string{"", "a1", "a2"} {
		c := receive(t, w)
		if c.DeviceID != "dev-1" || c.Serial != wantSerial || (i == 0) != (c.Kind == ChangeDevice) {
			t.Errorf("change %d = %+v, want serial %q", i, c, wantSerial)
		}
	}
}

// TestRevokeDeviceAtomic breaks the certificate index so that the cascade
// fails after it revoked some certificates, and checks that nothing of the
// revocation stays: device and certificates change in one transaction.
func TestRevokeDeviceAtomic(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	mustCert(t, db, "dev-1", "a1")
	if err := db.kv.Update(t.Context(), func(tx kv.Tx) error {
		return tx.Bucket(bucketCertsByDevice).Put(indexKey("dev-1", "ff"), []byte{})
	}); err != nil {
		t.Fatal(err)
	}
	w := db.Watch(context.Background())
	auditBefore := auditLen(t, db)

	if _, err := db.SetDeviceStatus(t.Context(), "dev-1", DeviceRevoked, "stolen", operator); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetDeviceStatus with a dangling index entry = %v, want ErrNotFound", err)
	}
	if d, _ := db.Device(t.Context(), "dev-1"); d.Status != DeviceActive {
		t.Errorf("device = %+v, want still active", d)
	}
	if c, _ := db.Certificate(t.Context(), "a1"); c.Status != CertActive {
		t.Errorf("certificate = %+v, want still active", c)
	}
	if n := auditLen(t, db); n != auditBefore {
		t.Errorf("audit grew from %d to %d", auditBefore, n)
	}
	assertNoChangeBeforeMarker(t, db, w)
}

// setCertStatus rewrites a certificate's status directly, standing in for
// rotation, which no API of this package performs yet.
func setCertStatus(t *testing.T, db *DB, serial string, status CertStatus) {
	t.Helper()
	err := db.kv.Update(t.Context(), func(tx kv.Tx) error {
		c, err := getCert(tx, serial)
		if err != nil {
			return err
		}
		c.Status = status
		return putCert(tx, c)
	})
	if err != nil {
		t.Fatal(err)
	}
}
