package store

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// TestForeignCA covers a foreign CA record and the registration of its
// devices on first connect, on the selected backend.
func TestForeignCA(t *testing.T) {
	db := openTestDB(t)
	ctx := t.Context()
	root := pki.NewCA(t, "vendor root")
	leaf := root.Device(t, "se-1", nil).Leaf
	other := root.Device(t, "se-1", nil).Leaf
	rec := ForeignCA{Name: "chipco", Group: "sensors", Certs: [][]byte{root.Cert.Raw}, IDFrom: IDFromCN, FirstConnect: true}

	for name, bad := range map[string]func(f *ForeignCA){
		"error/bad name":           func(f *ForeignCA) { f.Name = "a/b" },
		"error/bad id_from":        func(f *ForeignCA) { f.IDFrom = "subject" },
		"error/no certificate":     func(f *ForeignCA) { f.Certs = nil },
		"error/leaf as CA":         func(f *ForeignCA) { f.Certs = [][]byte{leaf.Raw} },
		"error/list and first":     func(f *ForeignCA) { f.Allowed = []string{"ab"} },
		"error/allow-list not hex": func(f *ForeignCA) { f.FirstConnect, f.Allowed = false, []string{"AB:CD"} },
	} {
		t.Run(name, func(t *testing.T) {
			f := rec
			bad(&f)
			if _, err := db.PutForeignCA(ctx, f, operator); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := db.PutForeignCA(ctx, rec, operator); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ForeignCAs(ctx); err != nil || len(got) != 1 || got[0].Name != "chipco" {
		t.Fatalf("ForeignCAs = %+v, %v", got, err)
	}

	d, c, err := db.RegisterForeign(ctx, rec, "se-1", leaf, system)
	if err != nil || d.Group != "sensors" || c.Attestation != AttestForeign || c.Serial != leaf.SerialNumber.Text(16) {
		t.Fatalf("RegisterForeign = %+v %+v %v", d, c, err)
	}
	if ev := lastAudit(t, db); ev.Action != "device.register_foreign" || ev.Target != "se-1" {
		t.Fatalf("audit = %+v", ev)
	}
	before := auditLen(t, db)
	if _, _, err := db.RegisterForeign(ctx, rec, "se-1", leaf, system); err != nil || auditLen(t, db) != before {
		t.Fatalf("same certificate again: %v, %d audit events added", err, auditLen(t, db)-before)
	}
	refusals := []struct {
		name string
		rec  ForeignCA
		id   string
		leaf *x509.Certificate
		want error
	}{
		{"error/bound to another certificate", rec, "se-1", other, ErrPolicy},
		{"error/device of another group", func() ForeignCA { f := rec; f.Group = "meters"; return f }(), "se-1", leaf, ErrPolicy},
		{"error/not on the allow-list", func() ForeignCA { f := rec; f.FirstConnect, f.Allowed = false, []string{"ab"}; return f }(), "se-2", other, ErrNotFound},
		{"error/serial of another device", rec, "se-3", leaf, ErrExists},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			n := auditLen(t, db)
			if _, _, err := db.RegisterForeign(ctx, r.rec, r.id, r.leaf, system); !errors.Is(err, r.want) {
				t.Fatalf("err = %v, want %v", err, r.want)
			}
			if auditLen(t, db) != n {
				t.Fatal("a refusal wrote to the audit log")
			}
		})
	}
	allowed := rec
	allowed.FirstConnect, allowed.Allowed = false, []string{other.SerialNumber.Text(16)}
	if _, _, err := db.RegisterForeign(ctx, allowed, "se-2", other, system); err != nil {
		t.Fatalf("listed by serial: %v", err)
	}
}
