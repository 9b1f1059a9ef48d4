package store

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/fleetgate/fleetgate/store/kv"
)

// setupLookup returns a registry holding 1000 devices with one certificate
// each, carrying a DER of typical size, and the pair to look up. The records
// are written in one transaction (an fsync per record would dominate the
// run) with the same encoding the API uses.
func setupLookup(b *testing.B) (*DB, string, string) {
	db := openTestDB(b)
	der := make([]byte, 600) // a P-256 device certificate is 500-700 bytes
	if _, err := rand.Read(der); err != nil {
		b.Fatal(err)
	}
	err := db.kv.Update(b.Context(), func(tx kv.Tx) error {
		for i := range 1000 {
			d := Device{ID: fmt.Sprintf("bench-%04d", i), Status: DeviceActive, Group: "bench",
				CreatedAt: testEpoch, UpdatedAt: testEpoch, Publish: []string{"fleet/+/status"}}
			c := testCert(d.ID, fmt.Sprintf("1%05x", i))
			c.DER, c.Status, c.IssuedAt = der, CertActive, testEpoch
			if err := putJSON(tx.Bucket(bucketDevices), []byte(d.ID), d); err != nil {
				return err
			}
			if err := putCertRaw(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return db, "bench-0500", fmt.Sprintf("1%05x", 500)
}

// BenchmarkLookup measures the read the broker does on every CONNECT.
func BenchmarkLookup(b *testing.B) {
	db, id, serial := setupLookup(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := db.Lookup(b.Context(), id, serial); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupParallel measures Lookup under concurrent connects.
func BenchmarkLookupParallel(b *testing.B) {
	db, id, serial := setupLookup(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := db.Lookup(b.Context(), id, serial); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
