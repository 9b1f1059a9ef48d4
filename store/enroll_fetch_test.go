package store

import (
	"fmt"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
)

// A group commit of token enrollments on etcd reads what all of them need
// in one request and commits in one more, rather than reading three or four
// keys per enrollment one request at a time.
func TestEnrollmentBatchRoundTrips(t *testing.T) {
	c := etcdtest.Start(t, 1)
	db := openEtcdDB(t, c, "/round-trips", EtcdOptions{})
	mustGroup(t, db, "sim", false, true)
	n := db.batchLimit()
	tokens := mustTokens(t, db, "sim", n)
	es := make([]Enrollment, n)
	for i, token := range tokens {
		es[i] = tokenEnrollment(token, fmt.Sprintf("dev-%d", i), fmt.Sprintf("1%x", i))
		es[i].Device.Group = "sim" // the API names the token's group
	}
	before := db.Health()
	for i, err := range db.CompleteEnrollments(t.Context(), es, system) {
		if err != nil {
			t.Fatalf("enrollment %d: %v", i, err)
		}
	}
	after := db.Health()
	if got := after.Requests - before.Requests; got > 2 {
		t.Errorf("%d enrollments took %d etcd requests, want 2 (one read of all, one commit)", n, got)
	}
	if got := after.Commits - before.Commits; got != 1 {
		t.Errorf("%d enrollments took %d commits, want 1", n, got)
	}
	if n < 10 {
		t.Errorf("batch limit %d under etcd's default --max-txn-ops: want at least 10 enrollments per commit", n)
	}
}
