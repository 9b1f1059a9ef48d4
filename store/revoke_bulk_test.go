package store

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// bulkFleet imports n devices of group (IDs <group>-000 ...) and records
// one active certificate for each (serials told apart by the group name's
// last letter), returning the IDs.
func bulkFleet(t *testing.T, db *DB, group string, n int) []string {
	t.Helper()
	devs := make([]Device, n)
	ids := make([]string, n)
	for i := range devs {
		ids[i] = fmt.Sprintf("%s-%03d", group, i)
		devs[i] = Device{ID: ids[i], Group: group}
	}
	if _, err := db.PutGroup(t.Context(), Group{Name: group}, operator); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.ImportDevices(t.Context(), devs, operator); err != nil {
		t.Fatal(err)
	}
	per := n
	if limit := db.txnLimit(); limit > 0 {
		per = limit / 3
	}
	for start := 0; start < n; start += per {
		err := db.kv.Update(t.Context(), func(tx kv.Tx) error {
			for i := start; i < min(start+per, n); i++ {
				c := testCert(ids[i], fmt.Sprintf("%x", 0x100000+int(group[len(group)-1])*0x1000+i))
				c.Status = CertActive
				if err := putCertRaw(tx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// statuses counts the devices of ids by status, and their certificates.
func statuses(t *testing.T, db *DB, ids []string) (devices map[DeviceStatus]int, certs map[CertStatus]int) {
	t.Helper()
	devices, certs = map[DeviceStatus]int{}, map[CertStatus]int{}
	for _, id := range ids {
		d, err := db.Device(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		devices[d.Status]++
		cs, err := db.Certificates(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			certs[c.Status]++
		}
	}
	return devices, certs
}

func TestRevokeBulkGroup(t *testing.T) {
	db := openTestDB(t)
	ids := bulkFleet(t, db, "line-a", 5)
	others := bulkFleet(t, db, "line-b", 2)
	if _, err := db.SetDeviceStatus(t.Context(), ids[1], DeviceSuspended, "maintenance", operator); err != nil {
		t.Fatal(err)
	}
	feed := db.Watch(t.Context())
	before := auditLen(t, db)

	res, err := db.RevokeBulk(t.Context(), Selection{Group: "line-a"}, "batch compromised", operator)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkResult{Selected: 5, Revoked: 5, Certificates: 5}); res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	devs, certs := statuses(t, db, ids)
	if devs[DeviceRevoked] != 5 || certs[CertRevoked] != 5 {
		t.Fatalf("after the revocation: devices %v, certificates %v", devs, certs)
	}
	if devs, certs := statuses(t, db, others); devs[DeviceActive] != 2 || certs[CertActive] != 2 {
		t.Fatalf("other group touched: devices %v, certificates %v", devs, certs)
	}
	d, _ := db.Device(t.Context(), ids[0])
	if d.Reason != "batch compromised" {
		t.Fatalf("reason = %q", d.Reason)
	}
	if n := auditLen(t, db); n != before+1 {
		t.Fatalf("audit grew by %d events, want 1", n-before)
	}
	e := lastAudit(t, db)
	if e.Action != "devices.revoke_bulk" || e.Target != "line-a" || e.Actor != "alice" ||
		!strings.Contains(e.Detail, "selected=5 revoked=5 already_revoked=0") || !strings.Contains(e.Detail, `reason="batch compromised"`) {
		t.Fatalf("audit event = %+v", e)
	}
	got := map[ChangeKind]map[string]bool{ChangeDevice: {}, ChangeCert: {}}
	for range 10 {
		c := receive(t, feed)
		got[c.Kind][c.DeviceID] = true
	}
	for _, id := range ids {
		if !got[ChangeDevice][id] || !got[ChangeCert][id] {
			t.Fatalf("feed missed a change of %s: %v", id, got)
		}
	}

	// Again: nothing new, and the audit log says so.
	res, err = db.RevokeBulk(t.Context(), Selection{Group: "line-a"}, "batch compromised", operator)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkResult{Selected: 5, AlreadyRevoked: 5}); res != want {
		t.Fatalf("re-run result = %+v, want %+v", res, want)
	}
	if e := lastAudit(t, db); !strings.Contains(e.Detail, "revoked=0 already_revoked=5") {
		t.Fatalf("re-run audit event = %+v", e)
	}
}

func TestRevokeBulkList(t *testing.T) {
	db := openTestDB(t)
	ids := bulkFleet(t, db, "line-a", 4)
	res, err := db.RevokeBulk(t.Context(), Selection{Devices: []string{ids[2], ids[0], ids[2]}}, "returned", operator)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkResult{Selected: 2, Revoked: 2, Certificates: 2}); res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	if devs, _ := statuses(t, db, ids); devs[DeviceRevoked] != 2 || devs[DeviceActive] != 2 {
		t.Fatalf("devices %v", devs)
	}
	if e := lastAudit(t, db); e.Target != "devices" || !strings.Contains(e.Detail, "selector=devices:3") {
		t.Fatalf("audit event = %+v", e)
	}
}

func TestRevokeBulkRefused(t *testing.T) {
	db := openTestDB(t)
	ids := bulkFleet(t, db, "line-a", 3)
	if _, err := db.PutGroup(t.Context(), Group{Name: "empty"}, operator); err != nil {
		t.Fatal(err)
	}
	before := auditLen(t, db)
	for _, tc := range []struct {
		name   string
		sel    Selection
		reason string
		want   error
		says   string
	}{
		{"error/unknown group", Selection{Group: "nope"}, "r", ErrNotFound, `group "nope"`},
		{"error/unknown device", Selection{Devices: []string{ids[0], "ghost-1", ids[1], "ghost-2"}}, "r", ErrNotFound, "2 of 4 devices are not registered: ghost-1, ghost-2"},
		{"error/malformed ID", Selection{Devices: []string{ids[0], "a/b"}}, "r", ErrInvalid, "device 2 of the list"},
		{"error/two selectors", Selection{Group: "line-a", Devices: ids}, "r", ErrInvalid, "exactly one"},
		{"error/nothing selected", Selection{}, "r", ErrInvalid, "exactly one"},
		{"error/no reason", Selection{Group: "line-a"}, " ", ErrInvalid, "needs a reason"},
		{"error/issuer not hex", Selection{IssuerKeyID: "XYZ"}, "r", ErrInvalid, "not lower-case hex"},
		{"error/issuer unknown", Selection{IssuerKeyID: "abcd"}, "r", ErrNotFound, "no certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.RevokeBulk(t.Context(), tc.sel, tc.reason, operator)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	if devs, certs := statuses(t, db, ids); devs[DeviceActive] != 3 || certs[CertActive] != 3 {
		t.Fatalf("a refused revocation wrote: devices %v, certificates %v", devs, certs)
	}
	if n := auditLen(t, db); n != before {
		t.Fatalf("a refused revocation recorded %d audit events", n-before)
	}
	// A group with a record but no devices is known: nothing to revoke.
	res, err := db.RevokeBulk(t.Context(), Selection{Group: "empty"}, "r", operator)
	if err != nil || res != (BulkResult{}) {
		t.Fatalf("empty group: %+v, %v", res, err)
	}
}

// TestRevokeBulkParts revokes more devices than one etcd transaction holds,
// one of them with more certificates than fit a part: every one ends
// revoked and the feed reports each.
func TestRevokeBulkParts(t *testing.T) {
	db := openTestDB(t)
	ids := bulkFleet(t, db, "line-a", 90)
	many := addCertsRaw(t, db, ids[7], 300)
	feed := db.Watch(t.Context())
	res, err := db.RevokeBulk(t.Context(), Selection{Group: "line-a"}, "batch compromised", operator)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkResult{Selected: 90, Revoked: 90, Certificates: 390}); res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	if devs, certs := statuses(t, db, ids); devs[DeviceRevoked] != 90 || certs[CertRevoked] != 390 {
		t.Fatalf("devices %v, certificates %v", devs, certs)
	}
	seen := map[string]bool{}
	for range 90 + 390 {
		c := receive(t, feed)
		seen[string(c.Kind)+c.DeviceID+c.Serial] = true
	}
	if !seen["certificate"+ids[7]+many[299]] || !seen["device"+ids[89]] {
		t.Fatal("feed missed the last certificate or device")
	}
	e := lastAudit(t, db)
	if e.Action != "devices.revoke_bulk" || !strings.Contains(e.Detail, "selected=90 revoked=90") {
		t.Fatalf("audit event = %+v", e)
	}
	if parts := strings.Contains(e.Detail, "parts="); parts != (db.txnLimit() > 0) {
		t.Fatalf("audit event %q: parts named %t on a backend with transaction limit %d", e.Detail, parts, db.txnLimit())
	}
}

// issuerCA is a CA that signs test certificates with real DER.
type issuerCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newIssuerCA(t *testing.T, name string) issuerCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: testEpoch, NotAfter: testEpoch.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return issuerCA{cert: cert, key: key}
}

// record returns a certificate record for deviceID signed by ca.
func (ca issuerCA) record(t *testing.T, deviceID, serial string) Certificate {
	t.Helper()
	n, _ := new(big.Int).SetString(serial, 16)
	tmpl := &x509.Certificate{SerialNumber: n, NotBefore: testEpoch, NotAfter: testEpoch.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &ca.key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCert(deviceID, serial)
	c.DER = der
	return c
}

func TestRevokeBulkIssuer(t *testing.T) {
	db := openTestDB(t)
	bad, good := newIssuerCA(t, "factory 7"), newIssuerCA(t, "factory 8")
	for _, id := range []string{"dev-1", "dev-2", "dev-3"} {
		mustDevice(t, db, id)
	}
	for _, c := range []Certificate{bad.record(t, "dev-1", "b1"), good.record(t, "dev-2", "c1"), bad.record(t, "dev-3", "b3")} {
		if err := db.AddCertificate(t.Context(), c, operator); err != nil {
			t.Fatal(err)
		}
	}
	// A record from before the registry kept the issuer: found by its DER.
	old := bad.record(t, "dev-2", "b2")
	old.Status = CertActive
	if err := db.kv.Update(t.Context(), func(tx kv.Tx) error { return putCertRaw(tx, old) }); err != nil {
		t.Fatal(err)
	}
	keyID := hex.EncodeToString(bad.cert.SubjectKeyId)
	if c, err := db.Certificate(t.Context(), "b1"); err != nil || c.IssuerKeyID != keyID {
		t.Fatalf("recorded issuer key ID = %q, %v; want %s", c.IssuerKeyID, err, keyID)
	}
	feed := db.Watch(t.Context())

	res, err := db.RevokeBulk(t.Context(), Selection{IssuerKeyID: keyID}, "factory 7 key leaked", operator)
	if err != nil {
		t.Fatal(err)
	}
	if want := (BulkResult{Selected: 3, Revoked: 3, Certificates: 3}); res != want {
		t.Fatalf("result = %+v, want %+v", res, want)
	}
	want := map[string]CertStatus{"b1": CertRevoked, "b2": CertRevoked, "b3": CertRevoked, "c1": CertActive}
	for serial, status := range want {
		if c, err := db.Certificate(t.Context(), serial); err != nil || c.Status != status {
			t.Fatalf("certificate %s: %s, %v; want %s", serial, c.Status, err, status)
		}
	}
	if devs, _ := statuses(t, db, []string{"dev-1", "dev-2", "dev-3"}); devs[DeviceActive] != 3 {
		t.Fatalf("an issuer revocation changed devices: %v", devs)
	}
	for range 3 {
		if c := receive(t, feed); c.Kind != ChangeCert || want[c.Serial] != CertRevoked {
			t.Fatalf("feed: %+v", c)
		}
	}
	if e := lastAudit(t, db); e.Action != "certs.revoke_bulk" || e.Target != keyID || !strings.Contains(e.Detail, "selected=3 revoked=3") {
		t.Fatalf("audit event = %+v", e)
	}
	res, err = db.RevokeBulk(t.Context(), Selection{IssuerKeyID: keyID}, "factory 7 key leaked", operator)
	if want := (BulkResult{Selected: 3, AlreadyRevoked: 3}); err != nil || res != want {
		t.Fatalf("re-run = %+v, %v; want %+v", res, err, want)
	}
}
