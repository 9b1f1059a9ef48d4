package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTPMEnrollment(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, db *DB, clock *testClock) // dev-1 is registered, active, without EK
		challenge string                                       // device the challenge names; default dev-1
		edit      func(e *Enrollment)
		wantErr   error
	}{
		{name: "ok/pre-registered without EK"},
		{name: "ok/pre-registered with the same EK", setup: func(t *testing.T, db *DB, _ *testClock) {
			if _, err := db.CreateDevice(t.Context(), Device{ID: "dev-ek", EKHash: hashOf("ek of dev-ek")}, operator); err != nil {
				t.Fatal(err)
			}
		}, challenge: "dev-ek"},
		{name: "ok/request repeats EK and AK", edit: func(e *Enrollment) {
			e.Device.EKHash, e.Device.AKPublic = hashOf("ek of dev-1"), []byte("ak of dev-1")
		}},
		{name: "error/replayed challenge", setup: func(t *testing.T, db *DB, clock *testClock) {
			if err := db.CompleteEnrollment(t.Context(), tpmEnrollment(testChallenge(1, "dev-1", clock), "f1"), system); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrReplayed},
		{name: "error/expired challenge", setup: func(_ *testing.T, _ *DB, clock *testClock) { clock.Advance(time.Minute) }, wantErr: ErrExpired},
		{name: "error/unknown challenge", edit: func(e *Enrollment) { e.ChallengeID = challengeID(99) }, wantErr: ErrNotFound},
		{name: "error/device not pre-registered", challenge: "dev-9", wantErr: ErrNotFound},
		{name: "error/suspended device", setup: func(t *testing.T, db *DB, _ *testClock) {
			if _, err := db.SetDeviceStatus(t.Context(), "dev-1", DeviceSuspended, "", operator); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrState},
		{name: "error/revoked device", setup: func(t *testing.T, db *DB, _ *testClock) {
			if _, err := db.SetDeviceStatus(t.Context(), "dev-1", DeviceRevoked, "", operator); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrState},
		{name: "error/challenge of another device", challenge: "dev-2", edit: func(e *Enrollment) {
			e.Device.ID, e.Certificate.DeviceID = "dev-1", "dev-1"
		}, wantErr: ErrInvalid},
		{name: "error/registered with another EK", setup: func(t *testing.T, db *DB, _ *testClock) {
			if _, err := db.CreateDevice(t.Context(), Device{ID: "dev-ek", EKHash: hashOf("another TPM")}, operator); err != nil {
				t.Fatal(err)
			}
		}, challenge: "dev-ek", wantErr: ErrPolicy},
		{name: "error/EK registered to another device", setup: func(t *testing.T, db *DB, _ *testClock) {
			if _, err := db.CreateDevice(t.Context(), Device{ID: "dev-3", EKHash: hashOf("ek of dev-1")}, operator); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrExists},
		{name: "error/request names another EK", edit: func(e *Enrollment) { e.Device.EKHash = hashOf("other") }, wantErr: ErrInvalid},
		{name: "error/request names another AK", edit: func(e *Enrollment) { e.Device.AKPublic = []byte("other") }, wantErr: ErrInvalid},
		{name: "error/enroll challenge used to rotate", edit: func(e *Enrollment) { e.Supersedes = "f0" }, wantErr: ErrInvalid},
		{name: "error/claims token attestation", edit: func(e *Enrollment) { e.Certificate.Attestation = AttestToken }, wantErr: ErrInvalid},
		{name: "error/serial exists", setup: func(t *testing.T, db *DB, _ *testClock) { mustCert(t, db, "dev-1", "a1") }, wantErr: ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, clock := openClockedDB(t)
			mustDevice(t, db, "dev-1")
			mustDevice(t, db, "dev-2")
			device := "dev-1"
			if tt.challenge != "" {
				device = tt.challenge
			}
			ch := mustChallenge(t, db, testChallenge(1, device, clock))
			if tt.setup != nil {
				tt.setup(t, db, clock)
			}
			e := tpmEnrollment(ch, "a1")
			if tt.edit != nil {
				tt.edit(&e)
			}
			before, _ := db.Device(t.Context(), e.Device.ID)
			certsBefore, auditBefore := certCount(t, db), auditLen(t, db)
			_, chErrBefore := db.Challenge(t.Context(), ch.ID)

			err := db.CompleteEnrollment(t.Context(), e, operator)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CompleteEnrollment = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				after, _ := db.Device(t.Context(), e.Device.ID)
				if after.EKHash != before.EKHash || !bytes.Equal(after.AKPublic, before.AKPublic) || !after.UpdatedAt.Equal(before.UpdatedAt) {
					t.Errorf("refused enrollment changed the device: %+v -> %+v", before, after)
				}
				if certCount(t, db) != certsBefore || auditLen(t, db) != auditBefore {
					t.Errorf("refused enrollment wrote a certificate or an audit event")
				}
				if _, err := db.Challenge(t.Context(), ch.ID); chErrBefore == nil && err != nil && tt.wantErr != ErrExpired {
					t.Errorf("refused enrollment consumed the challenge: %v", err)
				}
				return
			}
			d, c, err := db.Lookup(t.Context(), device, "a1")
			if err != nil {
				t.Fatal(err)
			}
			if d.EKHash != ch.EKHash || !bytes.Equal(d.AKPublic, ch.AKPublic) || !d.UpdatedAt.After(d.CreatedAt) {
				t.Errorf("device %+v, want EK and AK of the challenge", d)
			}
			if byEK, err := db.DeviceByEK(t.Context(), ch.EKHash); err != nil || byEK.ID != device {
				t.Errorf("DeviceByEK = %+v, %v", byEK, err)
			}
			if c.Attestation != AttestTPM || c.Status != CertActive || c.Supersedes != "" {
				t.Errorf("certificate %+v", c)
			}
			if _, err := db.Challenge(t.Context(), ch.ID); !errors.Is(err, ErrReplayed) {
				t.Errorf("challenge after enrollment: %v, want ErrReplayed", err)
			}
			again := tpmEnrollment(ch, "a2")
			if err := db.CompleteEnrollment(t.Context(), again, operator); !errors.Is(err, ErrReplayed) {
				t.Errorf("second use of the challenge = %v, want ErrReplayed", err)
			}
			ev := lastAudit(t, db)
			if ev.Action != "device.enroll" || ev.Target != device || !strings.Contains(ev.Detail, "attestation=tpm serial=a1") {
				t.Errorf("audit event %+v", ev)
			}
		})
	}
}
