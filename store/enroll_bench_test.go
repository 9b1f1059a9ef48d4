package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
)

// BenchmarkTokenEnrollment drives 10,000 token enrollments per iteration from
// 64 and from 512 goroutines, each doing what the enrollment API does per
// device: AllocateSerial, then CompleteEnrollment (token consumed, device
// created, certificate recorded, audited), on a bbolt file (every commit
// fsynced) and on a one-member etcd (its data where TMPDIR points: make
// bench-enrol puts it in /dev/shm). It reports enrollments/s and commits
// per iteration: group commit makes the second far smaller than the 20,000
// writes (a serial and an enrollment per device); on etcd also the round
// trips (reads and commits) per enrollment.
func BenchmarkTokenEnrollment(b *testing.B) {
	var cluster *etcdtest.Cluster
	var prefixes atomic.Int64
	for _, backend := range []string{"bolt", "etcd"} {
		if backend == "etcd" {
			cluster = etcdtest.Start(b, 1) // one for every run: a sub-benchmark runs more than once
		}
		open := func(b *testing.B) *DB {
			if backend == "bolt" {
				db, err := Open(filepath.Join(b.TempDir(), "registry.db"), Options{})
				if err != nil {
					b.Fatal(err)
				}
				return db
			}
			db, err := OpenEtcd(EtcdOptions{Endpoints: cluster.Endpoints(), Prefix: fmt.Sprintf("/bench%d", prefixes.Add(1))}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			return db
		}
		for _, workers := range []int{64, 512} {
			b.Run(fmt.Sprintf("%s/workers=%d", backend, workers), func(b *testing.B) {
				benchTokenEnrollment(b, open, workers)
			})
		}
	}
}

func benchTokenEnrollment(b *testing.B, open func(b *testing.B) *DB, workers int) {
	const total = 10000
	var elapsed time.Duration
	var commits, requests uint64
	iterations := 0
	for b.Loop() {
		b.StopTimer()
		db, enrollments := setupTokenEnrollments(b, open(b), total)
		commitsBefore, requestsBefore := db.batch.commits.Load(), db.Health().Requests
		b.StartTimer()

		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < total; i = next.Add(1) - 1 {
					e := enrollments[i]
					serial, err := db.AllocateSerial(b.Context())
					if err != nil {
						b.Error(err)
						return
					}
					e.Certificate.Serial = serial.Text(16)
					if err := db.CompleteEnrollment(b.Context(), e, system); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)

		b.StopTimer()
		commits += db.batch.commits.Load() - commitsBefore
		requests += db.Health().Requests - requestsBefore
		iterations++
		if n := certCount(b, db); n != total {
			b.Fatalf("%d certificates recorded, want %d", n, total)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total*iterations)/elapsed.Seconds(), "enrollments/s")
	b.ReportMetric(float64(commits)/float64(iterations), "commits/op")
	b.ReportMetric(float64(2*total*iterations)/float64(commits), "writes/commit")
	if requests > 0 {
		b.ReportMetric(float64(requests)/float64(total*iterations), "etcd-requests/enrollment")
	}
}

// setupTokenEnrollments gives db a token group and n tokens, and returns
// one enrollment per token, serial still to be filled in.
func setupTokenEnrollments(b *testing.B, db *DB, n int) (*DB, []Enrollment) {
	mustGroup(b, db, "sim", false, true)
	tokens := mustTokens(b, db, "sim", n)
	enrollments := make([]Enrollment, n)
	for i, token := range tokens {
		id := fmt.Sprintf("sim-%05d", i)
		enrollments[i] = tokenEnrollment(token, id, "")
		enrollments[i].Device.Group = "sim"                // as the API names the token's group
		enrollments[i].Certificate.DER = make([]byte, 600) // a P-256 device certificate is 500-700 bytes
	}
	return db, enrollments
}
