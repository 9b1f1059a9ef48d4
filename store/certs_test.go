package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAddCertificate(t *testing.T) {
	issued := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		edit    func(c *Certificate)
		device  string // device the certificate names; created as "dev-1" (active), "dev-s" (suspended), "dev-r" (revoked)
		wantErr error
	}{
		{name: "ok/defaults"},
		{name: "ok/explicit issue time and status", edit: func(c *Certificate) { c.IssuedAt, c.Status = issued, CertActive }},
		{name: "ok/no attestation", edit: func(c *Certificate) { c.Attestation = "" }},
		{name: "error/unknown device", device: "dev-x", wantErr: ErrNotFound},
		{name: "error/suspended device", device: "dev-s", wantErr: ErrState},
		{name: "error/revoked device", device: "dev-r", wantErr: ErrState},
		{name: "error/duplicate serial", edit: func(c *Certificate) { c.Serial = "abc" }, wantErr: ErrExists},
		{name: "error/missing serial", edit: func(c *Certificate) { c.Serial = "" }, wantErr: ErrInvalid},
		{name: "error/serial with leading zero", edit: func(c *Certificate) { c.Serial = "0abc" }, wantErr: ErrInvalid},
		{name: "error/upper-case serial", edit: func(c *Certificate) { c.Serial = "ABC" }, wantErr: ErrInvalid},
		{name: "error/missing fingerprint", edit: func(c *Certificate) { c.Fingerprint = "" }, wantErr: ErrInvalid},
		{name: "error/short fingerprint", edit: func(c *Certificate) { c.Fingerprint = "abcd" }, wantErr: ErrInvalid},
		{name: "error/upper-case fingerprint", edit: func(c *Certificate) { c.Fingerprint = strings.ToUpper(c.Fingerprint) }, wantErr: ErrInvalid},
		{name: "error/invalid device id", device: "a/b", wantErr: ErrInvalid},
		{name: "error/added revoked", edit: func(c *Certificate) { c.Status = CertRevoked }, wantErr: ErrInvalid},
		{name: "error/unknown attestation", edit: func(c *Certificate) { c.Attestation = "trust-me" }, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustDevice(t, db, "dev-1")
			mustDevice(t, db, "dev-s")
			mustDevice(t, db, "dev-r")
			for id, status := range map[string]DeviceStatus{"dev-s": DeviceSuspended, "dev-r": DeviceRevoked} {
				if _, err := db.SetDeviceStatus(t.Context(), id, status, "", system); err != nil {
					t.Fatal(err)
				}
			}
			mustCert(t, db, "dev-1", "abc")
			in := testCert("dev-1", "1f")
			if tt.device != "" {
				in.DeviceID = tt.device
			}
			if tt.edit != nil {
				tt.edit(&in)
			}
			auditBefore := auditLen(t, db)
			err := db.AddCertificate(t.Context(), in, operator)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("AddCertificate = %v, want %v", err, tt.wantErr)
				}
				if n := auditLen(t, db); n != auditBefore {
					t.Errorf("audit grew from %d to %d on a refused add", auditBefore, n)
				}
				if stored, err := db.Certificate(t.Context(), in.Serial); tt.wantErr == ErrExists {
					if stored.Fingerprint != testCert("dev-1", "abc").Fingerprint || err != nil {
						t.Errorf("duplicate overwrote the first certificate: %+v, %v", stored, err)
					}
				} else if !errors.Is(err, ErrNotFound) {
					t.Errorf("refused certificate is readable: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("AddCertificate: %v", err)
			}
			got, err := db.Certificate(t.Context(), in.Serial)
			if err != nil {
				t.Fatal(err)
			}
			wantIssued := in.IssuedAt
			if wantIssued.IsZero() {
				wantIssued = lastAudit(t, db).Time.Add(-time.Second) // the clock ticks once per reading
			}
			if got.Status != CertActive || got.Fingerprint != in.Fingerprint || got.DeviceID != "dev-1" ||
				!got.IssuedAt.Equal(wantIssued) || !got.NotAfter.Equal(in.NotAfter) || string(got.DER) != string(in.DER) {
				t.Errorf("stored %+v, want %+v issued at %s", got, in, wantIssued)
			}
			e := lastAudit(t, db)
			if e.Action != "cert.issue" || e.Target != in.Serial || !strings.Contains(e.Detail, in.Fingerprint) ||
				!strings.Contains(e.Detail, "not_after=2025-05-30T12:00:00Z") {
				t.Errorf("audit event %+v", e)
			}
		})
	}
	t.Run("error/duplicate serial of another device", func(t *testing.T) {
		db := openTestDB(t)
		mustDevice(t, db, "dev-1")
		mustDevice(t, db, "dev-2")
		mustCert(t, db, "dev-1", "abc")
		if err := db.AddCertificate(t.Context(), testCert("dev-2", "abc"), operator); !errors.Is(err, ErrExists) {
			t.Fatalf("AddCertificate(duplicate) = %v, want ErrExists", err)
		}
		if c, _ := db.Certificate(t.Context(), "abc"); c.DeviceID != "dev-1" {
			t.Errorf("duplicate overwrote the first certificate: %+v", c)
		}
		if certs, _ := db.Certificates(t.Context(), "dev-2"); len(certs) != 0 {
			t.Errorf("duplicate was indexed under dev-2: %+v", certs)
		}
	})
}

func TestCertificates(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	mustDevice(t, db, "dev-2")
	same := testEpoch.Add(time.Hour)
	for _, c := range []struct {
		device, serial string
		issued         time.Time
	}{
		{"dev-1", "10", same},
		{"dev-2", "5", same.Add(-time.Minute)},
		{"dev-1", "f", same},
		{"dev-1", "2", same.Add(time.Minute)},
		{"dev-1", "1", same.Add(-time.Hour)},
	} {
		in := testCert(c.device, c.serial)
		in.IssuedAt = c.issued
		if err := db.AddCertificate(t.Context(), in, operator); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		device string
		want   []string
	}{
		{name: "ok/one device by issue time then serial", device: "dev-1", want: []string{"1", "f", "10", "2"}},
		{name: "ok/all devices", device: "", want: []string{"1", "5", "f", "10", "2"}},
		{name: "ok/other device", device: "dev-2", want: []string{"5"}},
		{name: "ok/unknown device is empty", device: "dev-9", want: []string{}},
		{name: "ok/prefix of a device id is not a device", device: "dev-", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Certificates(t.Context(), tt.device)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Error("Certificates returned nil, want a non-nil slice")
			}
			serials := []string{}
			for _, c := range got {
				serials = append(serials, c.Serial)
			}
			if !slices.Equal(serials, tt.want) {
				t.Errorf("Certificates(%q) = %v, want %v", tt.device, serials, tt.want)
			}
		})
	}
}

func TestRevokeCertificate(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	mustCert(t, db, "dev-1", "abc")
	mustCert(t, db, "dev-1", "def")
	w := db.Watch(t.Context())

	got, err := db.RevokeCertificate(t.Context(), "abc", "key leaked", operator)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != CertRevoked || got.Reason != "key leaked" || got.RevokedAt.IsZero() {
		t.Errorf("revoked %+v", got)
	}
	if c, _ := db.Certificate(t.Context(), "abc"); c.Status != CertRevoked || !c.RevokedAt.Equal(got.RevokedAt) {
		t.Errorf("stored %+v", c)
	}
	if c, _ := db.Certificate(t.Context(), "def"); c.Status != CertActive {
		t.Errorf("other certificate changed: %+v", c)
	}
	if d, _ := db.Device(t.Context(), "dev-1"); d.Status != DeviceActive {
		t.Errorf("device changed: %+v", d)
	}
	e := lastAudit(t, db)
	if e.Action != "cert.revoke" || e.Target != "abc" || !strings.Contains(e.Detail, "key leaked") {
		t.Errorf("audit event %+v", e)
	}
	if c := receive(t, w); c.Kind != ChangeCert || c.Serial != "abc" || c.DeviceID != "dev-1" || c.CertStatus != CertRevoked {
		t.Errorf("change %+v", c)
	}

	t.Run("ok/repeat changes nothing", func(t *testing.T) {
		before := auditLen(t, db)
		again, err := db.RevokeCertificate(t.Context(), "abc", "other reason", operator)
		if err != nil {
			t.Fatal(err)
		}
		if again.Reason != "key leaked" || !again.RevokedAt.Equal(got.RevokedAt) {
			t.Errorf("repeat returned %+v, want the first revocation", again)
		}
		if n := auditLen(t, db); n != before {
			t.Errorf("audit grew from %d to %d", before, n)
		}
		assertNoChangeBeforeMarker(t, db, w)
	})
	t.Run("error/unknown serial", func(t *testing.T) {
		if _, err := db.RevokeCertificate(t.Context(), "999", "", operator); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeCertificate(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestLookup(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	mustDevice(t, db, "dev-2")
	want := mustCert(t, db, "dev-1", "abc")
	mustCert(t, db, "dev-2", "def")
	tests := []struct {
		name, device, serial string
		wantErr              error
	}{
		{name: "ok/match", device: "dev-1", serial: "abc"},
		{name: "error/unknown device", device: "dev-9", serial: "abc", wantErr: ErrNotFound},
		{name: "error/unknown serial", device: "dev-1", serial: "999", wantErr: ErrNotFound},
		{name: "error/certificate of another device", device: "dev-1", serial: "def", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c, err := db.Lookup(t.Context(), tt.device, tt.serial)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Lookup = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if d.ID != "" || c.Serial != "" {
					t.Errorf("Lookup returned records with an error: %+v %+v", d, c)
				}
				return
			}
			if d.ID != "dev-1" || c.Serial != "abc" || c.Fingerprint != want.Fingerprint || !sameDER(c.DER, want.DER) {
				t.Errorf("Lookup = %+v, %+v", d, c)
			}
		})
	}
}
