package store

import (
	"fmt"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/store/kv"
)

// BenchmarkRevokeBulk revokes a group of 2000 devices with one certificate
// each on a 3-member etcd cluster, each iteration on a fresh registry.
// Without etcd it is skipped (the bbolt file takes one transaction).
func BenchmarkRevokeBulk(b *testing.B) {
	const devices = 2000
	c := etcdtest.Start(b, 3)
	run := 0
	for b.Loop() {
		b.StopTimer()
		run++
		db := openEtcdDB(b, c, fmt.Sprintf("/bulk-bench-%d", run), EtcdOptions{})
		for start := 0; start < devices; start += 30 { // within the op limit
			err := db.kv.Update(b.Context(), func(tx kv.Tx) error {
				for i := start; i < min(start+30, devices); i++ {
					d := Device{ID: fmt.Sprintf("bench-%05d", i), Status: DeviceActive, Group: "bench",
						CreatedAt: testEpoch, UpdatedAt: testEpoch}
					if err := putJSON(tx.Bucket(bucketDevices), []byte(d.ID), d); err != nil {
						return err
					}
					cert := testCert(d.ID, fmt.Sprintf("1%05x", i))
					cert.Status, cert.IssuedAt = CertActive, testEpoch
					if err := putCertRaw(tx, cert); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		res, err := db.RevokeBulk(b.Context(), Selection{Group: "bench"}, "bench", Actor{Name: "bench"})
		if err != nil || res.Revoked != devices || res.Certificates != devices {
			b.Fatalf("RevokeBulk: %+v %v", res, err)
		}
	}
}
