package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTokenEnrolment drives 10,000 token enrolments per iteration from
// 64 goroutines, each doing what the enrolment API does per device:
// AllocateSerial, then CompleteEnrolment (token consumed, device created,
// certificate recorded, audited), every commit fsynced. It reports
// enrolments/s and commits per iteration: group commit makes the second far
// smaller than the 20,000 writes (a serial and an enrolment per device).
func BenchmarkTokenEnrolment(b *testing.B) {
	const total, workers = 10000, 64
	var elapsed time.Duration
	var commits uint64
	iterations := 0
	for b.Loop() {
		b.StopTimer()
		db, enrolments := setupTokenEnrolments(b, total)
		commitsBefore := db.batch.commits.Load()
		b.StartTimer()

		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < total; i = next.Add(1) - 1 {
					e := enrolments[i]
					serial, err := db.AllocateSerial()
					if err != nil {
						b.Error(err)
						return
					}
					e.Certificate.Serial = serial.Text(16)
					if err := db.CompleteEnrolment(e, system); err != nil {
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
	b.ReportMetric(float64(total*iterations)/elapsed.Seconds(), "enrolments/s")
	b.ReportMetric(float64(commits)/float64(iterations), "commits/op")
	b.ReportMetric(float64(2*total*iterations)/float64(commits), "writes/commit")
}

// setupTokenEnrolments opens a fresh registry with a token group and n
// tokens, and returns one enrolment per token, serial still to be filled in.
func setupTokenEnrolments(b *testing.B, n int) (*DB, []Enrolment) {
	db, err := Open(filepath.Join(b.TempDir(), "registry.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	mustGroup(b, db, "sim", false, true)
	tokens := mustTokens(b, db, "sim", n)
	enrolments := make([]Enrolment, n)
	for i, token := range tokens {
		id := fmt.Sprintf("sim-%05d", i)
		enrolments[i] = tokenEnrolment(token, id, "")
		enrolments[i].Certificate.DER = make([]byte, 600) // a P-256 device certificate is 500-700 bytes
	}
	return db, enrolments
}
