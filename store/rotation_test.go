package store

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
)

// rotation returns a software rotation of old to a new certificate with
// serial and the key named key.
func rotation(deviceID, old, serial, key string) Enrollment {
	c := enrollCert(deviceID, serial)
	c.KeyHash = hashOf(key)
	return Enrollment{Device: Device{ID: deviceID}, Certificate: c, Supersedes: old}
}

// tokenDevice enrolls device id by token with certificate serial.
func tokenDevice(t *testing.T, db *DB, id, serial string) {
	t.Helper()
	token := mustTokens(t, db, "sim", 1)[0]
	if err := db.CompleteEnrollment(t.Context(), tokenEnrollment(token, id, serial), system); err != nil {
		t.Fatal(err)
	}
}

func TestTPMRotation(t *testing.T) {
	db, clock := openClockedDB(t)
	mustDevice(t, db, "dev-1")
	enroll := mustChallenge(t, db, testChallenge(1, "dev-1", clock))
	if err := db.CompleteEnrollment(t.Context(), tpmEnrollment(enroll, "a1"), system); err != nil {
		t.Fatal(err)
	}
	rotate := func(n int, ak string) Challenge {
		c := testChallenge(n, "dev-1", clock)
		c.Purpose, c.EKHash, c.AKPublic = PurposeRotate, "", []byte(ak)
		return mustChallenge(t, db, c)
	}
	tests := []struct {
		name    string
		ak      string
		edit    func(e *Enrollment)
		wantErr error
	}{
		{name: "ok/with the enrollment AK", ak: "ak of dev-1"},
		{name: "error/retry with the same key", ak: "ak of dev-1", wantErr: ErrExists},
		{name: "error/another AK", ak: "ak of another TPM", edit: func(e *Enrollment) { e.Certificate.KeyHash = hashOf("k2") }, wantErr: ErrPolicy},
		{name: "error/rotate challenge without supersedes", ak: "ak of dev-1", edit: func(e *Enrollment) { e.Supersedes = "" }, wantErr: ErrInvalid},
		{name: "error/no key hash", ak: "ak of dev-1", edit: func(e *Enrollment) { e.Certificate.KeyHash = "" }, wantErr: ErrInvalid},
		{name: "error/unknown superseded certificate", ak: "ak of dev-1", edit: func(e *Enrollment) { e.Supersedes = "ff" }, wantErr: ErrNotFound},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := rotate(10+i, tt.ak)
			e := tpmEnrollment(ch, serialOf(0xb0+i))
			e.Supersedes, e.Certificate.KeyHash = "a1", hashOf("k1")
			if tt.edit != nil {
				tt.edit(&e)
			}
			err := db.CompleteEnrollment(t.Context(), e, operator)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CompleteEnrollment = %v, want %v", err, tt.wantErr)
			}
			found, err := db.FindRotation(t.Context(), "a1", hashOf("k1"))
			if err != nil || found.Serial != serialOf(0xb0) || found.Supersedes != "a1" || found.Attestation != AttestTPM {
				t.Errorf("FindRotation = %+v, %v; want the first rotation", found, err)
			}
			if old, _ := db.Certificate(t.Context(), "a1"); old.Status != CertActive {
				t.Errorf("rotated certificate is %s before the device connected with the new one", old.Status)
			}
			if tt.wantErr == nil && !strings.Contains(lastAudit(t, db).Detail, "supersedes=a1") {
				t.Errorf("audit event %+v does not name the superseded certificate", lastAudit(t, db))
			}
		})
	}
}

func TestSoftwareRotation(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, db *DB)
		edit    func(e *Enrollment)
		wantErr error
	}{
		{name: "ok/token device"},
		{name: "ok/device of a group without a record", setup: func(t *testing.T, db *DB) {
			if _, err := db.CreateDevice(t.Context(), Device{ID: "free-1", Group: "no-record"}, operator); err != nil {
				t.Fatal(err)
			}
			mustCert(t, db, "free-1", "f1")
		}, edit: func(e *Enrollment) { *e = rotation("free-1", "f1", "f2", "k2") }},
		{name: "error/group requires tpm since", setup: func(t *testing.T, db *DB) { mustGroup(t, db, "sim", true, false) }, wantErr: ErrPolicy},
		{name: "error/device with an AK", setup: func(t *testing.T, db *DB) {
			if _, err := db.CreateDevice(t.Context(), Device{ID: "tpm-1", AKPublic: []byte("ak")}, operator); err != nil {
				t.Fatal(err)
			}
			mustCert(t, db, "tpm-1", "f1")
		}, edit: func(e *Enrollment) { *e = rotation("tpm-1", "f1", "f2", "k2") }, wantErr: ErrPolicy},
		{name: "error/claims tpm attestation", edit: func(e *Enrollment) { e.Certificate.Attestation = AttestTPM }, wantErr: ErrInvalid},
		{name: "error/superseded certificate revoked", setup: func(t *testing.T, db *DB) {
			if _, err := db.RevokeCertificate(t.Context(), "a1", "", operator); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrState},
		{name: "error/certificate of another device", edit: func(e *Enrollment) { e.Supersedes = "c1" }, wantErr: ErrNotFound},
		{name: "error/suspended device", setup: func(t *testing.T, db *DB) {
			if _, err := db.SetDeviceStatus(t.Context(), "sim-1", DeviceSuspended, "", operator); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrState},
		{name: "error/unknown device", edit: func(e *Enrollment) { *e = rotation("nope", "a1", "b1", "k2") }, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustGroup(t, db, "sim", false, true)
			tokenDevice(t, db, "sim-1", "a1")
			tokenDevice(t, db, "sim-2", "c1")
			if tt.setup != nil {
				tt.setup(t, db)
			}
			e := rotation("sim-1", "a1", "b1", "k2")
			if tt.edit != nil {
				tt.edit(&e)
			}
			certsBefore := certCount(t, db)
			err := db.CompleteEnrollment(t.Context(), e, operator)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CompleteEnrollment = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if n := certCount(t, db); n != certsBefore {
					t.Errorf("refused rotation recorded a certificate (%d -> %d)", certsBefore, n)
				}
				return
			}
			c, err := db.FindRotation(t.Context(), e.Supersedes, hashOf("k2"))
			if err != nil || c.Serial != e.Certificate.Serial || c.Attestation != AttestToken || c.DeviceID != e.Device.ID {
				t.Errorf("FindRotation = %+v, %v", c, err)
			}
		})
	}
}

func TestFindRotation(t *testing.T) {
	db := openTestDB(t)
	mustGroup(t, db, "sim", false, true)
	tokenDevice(t, db, "sim-1", "a1")
	if err := db.CompleteEnrollment(t.Context(), rotation("sim-1", "a1", "b1", "k1"), system); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, key string
		wantErr        error
	}{
		{name: "ok/retry finds the issued certificate", old: "a1", key: hashOf("k1")},
		{name: "error/another key", old: "a1", key: hashOf("k2"), wantErr: ErrNotFound},
		{name: "error/another old serial", old: "b1", key: hashOf("k1"), wantErr: ErrNotFound},
		{name: "error/empty", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := db.FindRotation(t.Context(), tt.old, tt.key)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FindRotation = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && (c.Serial != "b1" || c.KeyHash != hashOf("k1") || len(c.DER) == 0) {
				t.Errorf("FindRotation = %+v", c)
			}
		})
	}
	t.Run("error/second issue for the same key", func(t *testing.T) {
		if err := db.CompleteEnrollment(t.Context(), rotation("sim-1", "a1", "b2", "k1"), system); !errors.Is(err, ErrExists) {
			t.Fatalf("second rotation with the same key = %v, want ErrExists", err)
		}
	})
}

func TestMarkSuperseded(t *testing.T) {
	tests := []struct {
		name      string
		rotations [][3]string // old, new, key: applied in order after sim-1 got a1
		before    string      // MarkSuperseded(sim-1, before) first, when set
		revoke    string      // revoked before the call, when set
		device    string      // default sim-1
		current   string
		want      []string // serials superseded by the call
		wantErr   error
	}{
		{name: "ok/direct", rotations: [][3]string{{"a1", "b1", "k1"}}, current: "b1", want: []string{"a1"}},
		{name: "ok/chain", rotations: [][3]string{{"a1", "b1", "k1"}, {"b1", "c1", "k2"}}, current: "c1", want: []string{"a1", "b1"}},
		{name: "ok/retry left a sibling", rotations: [][3]string{{"a1", "b1", "k1"}, {"a1", "b2", "k2"}}, current: "b2", want: []string{"a1", "b1"}},
		{name: "ok/predecessor superseded earlier", rotations: [][3]string{{"a1", "b1", "k1"}, {"b1", "c1", "k2"}}, before: "b1", current: "c1", want: []string{"b1"}},
		{name: "ok/revoked predecessor stays revoked", rotations: [][3]string{{"a1", "b1", "k1"}}, revoke: "a1", current: "b1"},
		{name: "ok/not a rotation", current: "a1"},
		{name: "error/current revoked", rotations: [][3]string{{"a1", "b1", "k1"}}, revoke: "b1", current: "b1", wantErr: ErrState},
		{name: "error/certificate of another device", rotations: [][3]string{{"a1", "b1", "k1"}}, device: "sim-2", current: "b1", wantErr: ErrNotFound},
		{name: "error/unknown certificate", current: "ff", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustGroup(t, db, "sim", false, true)
			tokenDevice(t, db, "sim-1", "a1")
			tokenDevice(t, db, "sim-2", "d1")
			for _, r := range tt.rotations {
				if err := db.CompleteEnrollment(t.Context(), rotation("sim-1", r[0], r[1], r[2]), system); err != nil {
					t.Fatal(err)
				}
			}
			if tt.before != "" {
				if _, err := db.MarkSuperseded(t.Context(), "sim-1", tt.before); err != nil {
					t.Fatal(err)
				}
			}
			if tt.revoke != "" {
				if _, err := db.RevokeCertificate(t.Context(), tt.revoke, "test", operator); err != nil {
					t.Fatal(err)
				}
			}
			device := cmp.Or(tt.device, "sim-1")
			statusBefore := certStatuses(t, db)
			auditBefore := auditLen(t, db)
			w := db.Watch(t.Context())

			n, err := db.MarkSuperseded(t.Context(), device, tt.current)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("MarkSuperseded = %d, %v; want %v", n, err, tt.wantErr)
			}
			if n != len(tt.want) {
				t.Errorf("MarkSuperseded = %d, want %d", n, len(tt.want))
			}
			after := certStatuses(t, db)
			for serial, st := range after {
				want := statusBefore[serial]
				if slices.Contains(tt.want, serial) {
					want = CertSuperseded
				}
				if st != want {
					t.Errorf("certificate %s is %s, want %s", serial, st, want)
				}
			}
			var got []string
			for range tt.want {
				c := receive(t, w)
				if c.Kind != ChangeCert || c.CertStatus != CertSuperseded || c.DeviceID != "sim-1" {
					t.Errorf("change %+v", c)
				}
				got = append(got, c.Serial)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("changes for %v, want %v", got, tt.want)
			}
			if n := auditLen(t, db) - auditBefore; n != len(tt.want) {
				t.Errorf("%d audit events, want %d", n, len(tt.want))
			}
			if len(tt.want) > 0 {
				if e := lastAudit(t, db); e.Action != "cert.supersede" || !strings.Contains(e.Detail, "by="+tt.current) {
					t.Errorf("audit event %+v", e)
				}
			}
			if tt.wantErr == nil { // a repeat changes nothing
				if n, err := db.MarkSuperseded(t.Context(), device, tt.current); n != 0 || err != nil {
					t.Errorf("repeated MarkSuperseded = %d, %v; want 0, nil", n, err)
				}
			}
			assertNoChangeBeforeMarker(t, db, w)
		})
	}
}

// certStatuses maps every certificate's serial to its status.
func certStatuses(t *testing.T, db *DB) map[string]CertStatus {
	t.Helper()
	all, err := db.Certificates(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]CertStatus{}
	for _, c := range all {
		out[c.Serial] = c.Status
	}
	return out
}
