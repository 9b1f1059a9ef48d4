package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// addCertsRaw records n active certificates for a device in one
// transaction, bypassing AddCertificate's fsync per certificate so that a
// test can build a large fleet quickly. Serials are "1" followed by five hex
// digits, so byte order equals numeric order.
func addCertsRaw(t *testing.T, db *DB, deviceID string, n int) []string {
	t.Helper()
	serials := make([]string, n)
	per := n
	if limit := db.txnLimit(); limit > 0 {
		per = limit / 3 // three keys per certificate
	}
	for start := 0; start < n; start += per {
		err := db.kv.Update(t.Context(), func(tx kv.Tx) error {
			for i := start; i < min(start+per, n); i++ {
				c := testCert(deviceID, fmt.Sprintf("1%05x", i))
				c.Status, c.IssuedAt = CertActive, testEpoch
				serials[i] = c.Serial
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
	return serials
}

// putCertRaw stores a certificate as AddCertificate does, without its checks.
func putCertRaw(tx kv.Tx, c Certificate) error {
	if err := putCert(tx, c); err != nil {
		return err
	}
	if err := tx.Bucket(bucketCertDER).Put([]byte(c.Serial), c.DER); err != nil {
		return err
	}
	return tx.Bucket(bucketCertsByDevice).Put(indexKey(c.DeviceID, c.Serial), []byte{})
}

func TestWatchSlowSubscriber(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	mustDevice(t, db, "dev-2")
	serials := addCertsRaw(t, db, "dev-1", 9999)
	early := db.Watch(t.Context())
	late := db.Watch(t.Context())

	// Nobody reads while 10,000 changes (one revocation) and then 20 more
	// commits are published: the writers must not wait for the readers.
	done := make(chan error, 1)
	go func() {
		if _, err := db.SetDeviceStatus(t.Context(), "dev-1", DeviceRevoked, "fleet retired", operator); err != nil {
			done <- err
			return
		}
		for i := range 20 {
			status := DeviceSuspended
			if i%2 == 1 {
				status = DeviceActive
			}
			if _, err := db.SetDeviceStatus(t.Context(), "dev-2", status, "", operator); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("writers blocked on subscribers that do not read")
	}

	want := []Change{{Kind: ChangeDevice, DeviceID: "dev-1", DeviceStatus: DeviceRevoked}}
	for _, s := range serials {
		want = append(want, Change{Kind: ChangeCert, DeviceID: "dev-1", Serial: s, CertStatus: CertRevoked})
	}
	for i := range 20 {
		status := DeviceSuspended
		if i%2 == 1 {
			status = DeviceActive
		}
		want = append(want, Change{Kind: ChangeDevice, DeviceID: "dev-2", DeviceStatus: status})
	}
	for name, w := range map[string]<-chan Change{"early": early, "late": late} {
		for i, wc := range want {
			c := receive(t, w)
			c.Time = time.Time{}
			if c != wc {
				t.Fatalf("%s subscriber: change %d = %+v, want %+v", name, i, c, wc)
			}
		}
	}
}

func TestWatchCommitOrder(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	serials := addCertsRaw(t, db, "dev-1", 100)
	w := db.Watch(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, len(serials))
	for worker := range 4 {
		wg.Go(func() {
			for i := worker; i < len(serials); i += 4 {
				if _, err := db.RevokeCertificate(t.Context(), serials[i], "", operator); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The audit log's sequence is the commit order.
	events, err := db.Audit(t.Context(), AuditFilter{Action: "cert.revoke"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(serials) {
		t.Fatalf("%d revocations audited, want %d", len(events), len(serials))
	}
	for i, e := range events {
		if c := receive(t, w); c.Serial != e.Target {
			t.Fatalf("change %d is about %s, but commit %d revoked %s", i, c.Serial, i, e.Target)
		}
	}
}

func TestWatchOnlyLaterChanges(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	if _, err := db.SetDeviceStatus(t.Context(), "dev-1", DeviceSuspended, "", operator); err != nil {
		t.Fatal(err)
	}
	assertNoChangeBeforeMarker(t, db, db.Watch(t.Context()))
}

func TestWatchCancel(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	ctx, cancel := context.WithCancel(context.Background())
	w := db.Watch(ctx)
	other := db.Watch(t.Context())
	if _, err := db.SetDeviceStatus(t.Context(), "dev-1", DeviceSuspended, "", operator); err != nil {
		t.Fatal(err)
	}
	cancel()
	waitClosed(t, w)
	db.feed.mu.Lock()
	n := len(db.feed.subs)
	db.feed.mu.Unlock()
	if n != 1 {
		t.Errorf("%d subscribers after one of two cancelled, want 1", n)
	}
	// The other subscriber is unaffected.
	if c := receive(t, other); c.DeviceID != "dev-1" {
		t.Errorf("change %+v", c)
	}
}

func TestWatchClose(t *testing.T) {
	db := openTestDB(t)
	mustDevice(t, db, "dev-1")
	mustDevice(t, db, "dev-2")
	reading := db.Watch(context.Background())
	pending := db.Watch(context.Background()) // never read: Close must not wait for it
	for _, id := range []string{"dev-1", "dev-2"} {
		if _, err := db.SetDeviceStatus(t.Context(), id, DeviceSuspended, "", operator); err != nil {
			t.Fatal(err)
		}
	}
	if c := receive(t, reading); c.DeviceID != "dev-1" {
		t.Errorf("change %+v", c)
	}
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on a subscriber that does not read")
	}
	// Close waited for the subscribers, so both channels are closed by now
	// and a receive is ready at once.
	for name, w := range map[string]<-chan Change{"reading": reading, "pending": pending} {
		select {
		case c, ok := <-w:
			if ok {
				t.Errorf("%s subscriber got %+v after Close", name, c)
			}
		default:
			t.Errorf("%s channel still open after Close returned", name)
		}
	}
}
