package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/store/etcdkv"
)

// openEtcdDB opens a registry on the cluster under a prefix of its own and
// closes it at the end of the test.
func openEtcdDB(t testing.TB, c *etcdtest.Cluster, prefix string, eo EtcdOptions) *DB {
	t.Helper()
	eo.Endpoints, eo.Prefix = c.Endpoints(), prefix
	db, err := OpenEtcd(eo, Options{})
	if err != nil {
		t.Fatalf("OpenEtcd: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not the case after %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Two handles on one prefix stand for two hosts: what one writes, the
// other's change feed reports and its local copy serves.
func TestEtcdTwoHosts(t *testing.T) {
	c := etcdtest.Start(t, 1)
	a := openEtcdDB(t, c, "/two-hosts", EtcdOptions{})
	b := openEtcdDB(t, c, "/two-hosts", EtcdOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := b.Watch(ctx)

	mustDevice(t, a, "dev-1")
	mustCert(t, a, "dev-1", "1a")
	// Read-your-writes on the writing host, through its local copy.
	if d, cert, err := a.Lookup(t.Context(), "dev-1", "1a"); err != nil || d.Status != DeviceActive || cert.Status != CertActive {
		t.Fatalf("Lookup on the writer: %+v %+v %v", d, cert, err)
	}
	if _, err := a.SetDeviceStatus(t.Context(), "dev-1", DeviceSuspended, "test", operator); err != nil {
		t.Fatal(err)
	}
	ch := receive(t, feed)
	if ch.Kind != ChangeDevice || ch.DeviceID != "dev-1" || ch.DeviceStatus != DeviceSuspended {
		t.Fatalf("change on the other host: %+v", ch)
	}
	// The change is published after the copy holds it.
	d, _, err := b.Lookup(t.Context(), "dev-1", "1a")
	if err != nil || d.Status != DeviceSuspended {
		t.Fatalf("Lookup on the other host after the change: %+v %v", d, err)
	}
	if _, err := b.RevokeCertificate(t.Context(), "1a", "key leaked", operator); err != nil {
		t.Fatal(err)
	}
	if ch := receive(t, feed); ch.Kind != ChangeCert || ch.Serial != "1a" || ch.CertStatus != CertRevoked {
		t.Fatalf("certificate change: %+v", ch)
	}
	// Both hosts append to one audit log, in one sequence.
	events, err := a.Audit(t.Context(), AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i, e := range events {
		if e.Seq != uint64(i+1) {
			t.Errorf("audit event %d has seq %d", i, e.Seq)
		}
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "device.register cert.issue device.suspend cert.revoke" {
		t.Errorf("audit actions: %s", got)
	}
	if h := b.Health(); h.Backend != "etcd" || !h.Reachable || h.PastGrace {
		t.Errorf("health: %+v", h)
	}
}

// Serials handed out by several hosts at once never repeat.
func TestEtcdSerialsUniqueAcrossHosts(t *testing.T) {
	c := etcdtest.Start(t, 1)
	hosts := []*DB{
		openEtcdDB(t, c, "/serials", EtcdOptions{}),
		openEtcdDB(t, c, "/serials", EtcdOptions{}),
		openEtcdDB(t, c, "/serials", EtcdOptions{}),
	}
	const each = 200
	var mu sync.Mutex
	seen := make(map[string]int)
	var wg sync.WaitGroup
	for h, db := range hosts {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each / 4 {
					s, err := db.AllocateSerial(t.Context())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, dup := seen[s.String()]; dup {
						t.Errorf("serial %s handed out by host %d and host %d", s, prev, h)
					}
					seen[s.String()] = h
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(seen) != len(hosts)*each {
		t.Errorf("%d distinct serials, want %d", len(seen), len(hosts)*each)
	}
}

// One token, presented to two provisioning hosts at the same moment,
// enrolls exactly one device.
func TestEtcdTokenRace(t *testing.T) {
	c := etcdtest.Start(t, 1)
	a := openEtcdDB(t, c, "/token-race", EtcdOptions{})
	b := openEtcdDB(t, c, "/token-race", EtcdOptions{})
	mustGroup(t, a, "sensors", false, true)
	for round := range 10 {
		tok := mustTokens(t, a, "sensors", 1)[0]
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			db := []*DB{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("race-%d-%d", round, i)
				errs[i] = db.CompleteEnrollment(t.Context(), tokenEnrollment(tok, id, fmt.Sprintf("%x%02x", round+1, i+1)), system)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrReplayed):
				t.Errorf("round %d: loser got %v, want ErrReplayed", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d enrollments with one token (errors %v)", round, won, errs)
		}
	}
	if n := deviceCount(t, b); n != 10 {
		t.Errorf("%d devices after 10 tokens", n)
	}
}

// A watch that fell behind compaction resyncs from a fresh read and still
// reports the revocation it missed.
func TestEtcdResyncAfterCompaction(t *testing.T) {
	c := etcdtest.Start(t, 1)
	writer := openEtcdDB(t, c, "/compaction", EtcdOptions{})
	broker := openEtcdDB(t, c, "/compaction", EtcdOptions{})
	mustDevice(t, writer, "dev-1")
	mustCert(t, writer, "dev-1", "1a")
	mustDevice(t, writer, "dev-2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := broker.Watch(ctx)

	// The broker's watch stops (a long partition), the registry moves on
	// and etcd compacts the history the watch would resume from.
	w := broker.kv.(*etcdkv.Backend)
	w.StopWatch()
	if _, err := writer.SetDeviceStatus(t.Context(), "dev-1", DeviceRevoked, "stolen", operator); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.SetDeviceStatus(t.Context(), "dev-2", DeviceSuspended, "audit", operator); err != nil {
		t.Fatal(err)
	}
	c.Compact(t)
	w.StartWatch()

	got := map[string]Change{}
	for range 3 { // dev-1 revoked, its certificate revoked, dev-2 suspended
		ch := receive(t, feed)
		got[string(ch.Kind)+"/"+ch.DeviceID+"/"+ch.Serial] = ch
	}
	if ch := got["device/dev-1/"]; ch.DeviceStatus != DeviceRevoked {
		t.Errorf("dev-1 revocation not reported after resync: %+v", got)
	}
	if ch := got["certificate/dev-1/1a"]; ch.CertStatus != CertRevoked {
		t.Errorf("certificate revocation not reported after resync: %+v", got)
	}
	if ch := got["device/dev-2/"]; ch.DeviceStatus != DeviceSuspended {
		t.Errorf("dev-2 suspension not reported after resync: %+v", got)
	}
	// The resync stands for the barriers written while the watch was
	// behind: it is reported after the changes it brought.
	if ch := receive(t, feed); ch.Kind != ChangeBarrier || ch.Revision == 0 {
		t.Errorf("after the resync's changes: %+v, want a barrier", ch)
	}
	if h := broker.Health(); h.Resyncs != 1 {
		t.Errorf("resyncs = %d, want 1", h.Resyncs)
	}
	if d, _, err := broker.Lookup(t.Context(), "dev-1", "1a"); err != nil || d.Status != DeviceRevoked {
		t.Errorf("Lookup after resync: %+v %v", d, err)
	}
	// The watch runs again from the fresh revision.
	mustDevice(t, writer, "dev-3")
	if _, err := writer.SetDeviceStatus(t.Context(), "dev-3", DeviceSuspended, "", operator); err != nil {
		t.Fatal(err)
	}
	if ch := receive(t, feed); ch.DeviceID != "dev-3" {
		t.Errorf("change after resync: %+v", ch)
	}
}

// With etcd unreachable a broker's copy keeps judging devices, revoked
// ones included, for the grace period, then refuses everything; once etcd
// answers again it serves as before.
func TestEtcdUnreachableGrace(t *testing.T) {
	c := etcdtest.Start(t, 1)
	writer := openEtcdDB(t, c, "/grace", EtcdOptions{})
	const grace = 2 * time.Second
	broker := openEtcdDB(t, c, "/grace", EtcdOptions{Grace: grace, Heartbeat: 100 * time.Millisecond, Timeout: time.Second})
	mustDevice(t, writer, "good")
	mustCert(t, writer, "good", "1a")
	mustDevice(t, writer, "bad")
	mustCert(t, writer, "bad", "2a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := broker.Watch(ctx)
	if _, err := writer.SetDeviceStatus(t.Context(), "bad", DeviceRevoked, "stolen", operator); err != nil {
		t.Fatal(err)
	}
	receive(t, feed) // the broker's copy holds the revocation

	c.Kill(0)
	eventually(t, 10*time.Second, "broker sees etcd unreachable", func() bool { return !broker.Health().Reachable })
	if h := broker.Health(); h.PastGrace {
		t.Fatalf("past grace already: %+v", h)
	}
	if d, cert, err := broker.Lookup(t.Context(), "good", "1a"); err != nil || d.Status != DeviceActive || cert.Status != CertActive {
		t.Errorf("within grace, an active device: %+v %+v %v", d, cert, err)
	}
	if d, _, err := broker.Lookup(t.Context(), "bad", "2a"); err != nil || d.Status != DeviceRevoked {
		t.Errorf("within grace, a revoked device must still read revoked: %+v %v", d, err)
	}
	eventually(t, grace+10*time.Second, "grace period over", func() bool { return broker.Health().PastGrace })
	if _, _, err := broker.Lookup(t.Context(), "good", "1a"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("past grace: Lookup = %v, want ErrUnavailable", err)
	}
	// Writes fail with a clear error, and change nothing.
	if _, err := writer.CreateDevice(t.Context(), Device{ID: "late"}, operator); !errors.Is(err, ErrUnavailable) {
		t.Errorf("CreateDevice with etcd down: %v, want ErrUnavailable", err)
	}

	c.Restart(0)
	eventually(t, 20*time.Second, "broker sees etcd again", func() bool {
		h := broker.Health()
		return h.Reachable && !h.PastGrace
	})
	if d, _, err := broker.Lookup(t.Context(), "good", "1a"); err != nil || d.Status != DeviceActive {
		t.Errorf("after etcd returned: %+v %v", d, err)
	}
	if _, err := writer.Device(t.Context(), "late"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused write left a device: %v", err)
	}
}

// Bulk writes larger than one etcd transaction allows fail whole, with a
// hint, rather than half-applied.
func TestEtcdEnrollmentBatchesAcrossHosts(t *testing.T) {
	c := etcdtest.Start(t, 1)
	a := openEtcdDB(t, c, "/batches", EtcdOptions{})
	b := openEtcdDB(t, c, "/batches", EtcdOptions{})
	mustGroup(t, a, "bulk", false, true)
	// More tokens than one etcd transaction may write.
	toks := mustTokens(t, a, "bulk", 300)
	var wg sync.WaitGroup
	errs := make([]error, len(toks))
	for i, tok := range toks {
		db := []*DB{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.CompleteEnrollment(t.Context(), tokenEnrollment(tok, fmt.Sprintf("bulk-%03d", i), fmt.Sprintf("%x", 0x100+i)), system)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("enrollment %d: %v", i, err)
		}
	}
	if n := certCount(t, b); n != len(toks) {
		t.Errorf("%d certificates, want %d", n, len(toks))
	}
	// Replaying any token fails on either host.
	if err := b.CompleteEnrollment(t.Context(), tokenEnrollment(toks[0], "bulk-again", "fff"), system); !errors.Is(err, ErrReplayed) {
		t.Errorf("replay: %v", err)
	}
}

// A factory import larger than one etcd transaction is checked whole
// first: a bad row anywhere writes nothing; a good file imports every row
// and can be run again.
func TestEtcdLargeImport(t *testing.T) {
	c := etcdtest.Start(t, 1)
	db := openEtcdDB(t, c, "/import", EtcdOptions{})
	mustGroup(t, db, "line-4", true, false)
	rows := make([]Device, 200)
	for i := range rows {
		rows[i] = Device{ID: fmt.Sprintf("fab-%04d", i), Group: "line-4", EKHash: hashOf(fmt.Sprintf("ek-%d", i))}
	}
	mustDevice(t, db, "fab-0150") // registered with other settings: row 150 conflicts
	_, _, err := db.ImportDevices(t.Context(), rows, operator)
	var ie *ImportError
	if !errors.As(err, &ie) || ie.Index != 150 || !errors.Is(err, ErrExists) {
		t.Fatalf("import with a conflicting row: %v", err)
	}
	if n := deviceCount(t, db); n != 1 {
		t.Fatalf("%d devices after a refused import, want 1", n)
	}
	rows[150].ID = "fab-x150"
	created, unchanged, err := db.ImportDevices(t.Context(), rows, operator)
	if err != nil || created != 200 || unchanged != 0 {
		t.Fatalf("import: created %d unchanged %d, %v", created, unchanged, err)
	}
	created, unchanged, err = db.ImportDevices(t.Context(), rows, operator)
	if err != nil || created != 0 || unchanged != 200 {
		t.Fatalf("import again: created %d unchanged %d, %v", created, unchanged, err)
	}
	if d, err := db.DeviceByEK(t.Context(), hashOf("ek-199")); err != nil || d.ID != "fab-0199" {
		t.Errorf("DeviceByEK: %+v %v", d, err)
	}
}
