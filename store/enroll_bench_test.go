package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTokenEnrollment drives 10,000 token enrollments per iteration from
// 64 goroutines, each doing what the enrollment API does per device:
// AllocateSerial, then CompleteEnrollment (token consumed, device created,
// certificate recorded, audited), every commit fsynced. It reports
// enrollments/s and commits per iteration: group commit makes the second far
// smaller than the 20,000 writes (a serial and an enrollment per device).
func BenchmarkTokenEnrollment(b *testing.B) {
	const total, workers = 10000, 64
	var elapsed time.Duration
	var commits uint64
	iterations := 0
	for b.Loop() {
		b.StopTimer()
		db, enrollments := setupTokenEnrollments(b, total)
		commitsBefore := db.batch.commits.Load()
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
}

// setupTokenEnrollments opens a fresh registry with a token group and n
// tokens, and returns one enrollment per token, serial still to be filled in.
func setupTokenEnrollments(b *testing.B, n int) (*DB, []Enrollment) {
	db, err := Open(filepath.Join(b.TempDir(), "registry.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	mustGroup(b, db, "sim", false, true)
	tokens := mustTokens(b, db, "sim", n)
	enrollments := make([]Enrollment, n)
	for i, token := range tokens {
		id := fmt.Sprintf("sim-%05d", i)
		enrollments[i] = tokenEnrollment(token, id, "")
		enrollments[i].Certificate.DER = make([]byte, 600) // a P-256 device certificate is 500-700 bytes
	}
	return db, enrollments
}
