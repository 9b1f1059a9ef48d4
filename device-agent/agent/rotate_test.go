package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
)

// TestRotationKeepsQueuedMessages rotates while QoS 1 messages are queued,
// in flight, and published during the switch: the session moves to the
// new certificate and the observer receives every message.
func TestRotationKeepsQueuedMessages(t *testing.T) {
	srv := newServer(t)
	obs := srv.observer(t, "devices/rot-1/data/#")
	ev := newEvents()
	cfg := softwareConfig(t, srv, "rot-1", srv.Token("boards"), ev)
	cfg.StateDir = t.TempDir()
	a := start(t, cfg)
	first := await(t, ev.enrolled, "enrollment")
	await(t, ev.connected, "connection")

	const before, during, after = 300, 50, 50
	n := 0
	publish := func(count int) {
		for range count {
			if err := a.Publish(fmt.Sprintf("data/%d", n), 1, []byte("m")); err != nil {
				t.Errorf("publish %d: %v", n, err)
			}
			n++
		}
	}
	// Messages published between the old session's end and the new
	// one's start can only wait in the outbox.
	var queuedOffline int
	ev.onDown = func(err error) {
		if err == nil && !a.Connected() {
			publish(during)
			queuedOffline = a.Queued()
		}
	}
	publish(before)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := a.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	rot := await(t, ev.rotated, "rotation")
	if rot[0].Serial != first.Serial || rot[1].Serial == first.Serial {
		t.Errorf("rotated %s -> %s, enrolled %s", rot[0].Serial, rot[1].Serial, first.Serial)
	}
	if got := await(t, ev.connected, "reconnection"); got != rot[1].Serial {
		t.Errorf("reconnected with %s, want the new certificate %s", got, rot[1].Serial)
	}
	publish(after)
	if queuedOffline < during {
		t.Errorf("%d messages queued between the sessions, want at least %d", queuedOffline, during)
	}

	total := before + during + after
	seen := map[string]bool{}
	for len(seen) < total {
		m := obs.any(t)
		seen[m.Topic()] = true
	}
	for i := range total {
		if !seen[fmt.Sprintf("devices/rot-1/data/%d", i)] {
			t.Errorf("message %d lost", i)
		}
	}
	acked := map[string]bool{}
	for len(acked) < total {
		acked[await(t, ev.published, "acknowledgements")] = true
	}
	if q := a.Queued(); q != 0 {
		t.Errorf("%d messages still queued", q)
	}
	checkStateDir(t, cfg.StateDir, rot[1].Serial)
}

// checkStateDir asserts the state directory holds exactly one generation
// of files, for the certificate with serial.
func checkStateDir(t *testing.T, dir, serial string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var p pointer
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.Pending != nil {
		t.Errorf("a finished rotation left a pending key")
	}
	chain, err := os.ReadFile(filepath.Join(dir, p.Chain.Name))
	if err != nil {
		t.Fatal(err)
	}
	_, c, err := parseChain(chain)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SerialNumber.Text(16); got != serial {
		t.Errorf("state holds serial %s, want %s", got, serial)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"lock", stateFile, p.Key.Name, p.Chain.Name}
	if p.Trust != nil { // the trust bundle fetched after a rotation
		want = append(want, p.Trust.Name)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("state dir holds %v, want %v", names, want)
	}
}

// TestScheduledRotation moves the agent's clock past 2/3 of the
// certificate's lifetime: the agent rotates by itself and reconnects with
// the new certificate.
func TestScheduledRotation(t *testing.T) {
	srv := newServer(t)
	ev := newEvents()
	clock := &offsetClock{}
	cfg := softwareConfig(t, srv, "rot-2", srv.Token("boards"), ev)
	cfg.Now = clock.now
	cfg.ScheduleCheck = Duration{50 * time.Millisecond}
	start(t, cfg)
	first := await(t, ev.enrolled, "enrollment")
	await(t, ev.connected, "connection")
	select {
	case r := <-ev.rotated:
		t.Fatalf("rotated at once: %+v", r)
	default:
	}

	life := first.NotAfter.Sub(first.NotBefore)
	ev.onRotated = func() { clock.set(0) } // the new certificate is not due
	clock.set(life*2/3 + time.Minute)
	rot := await(t, ev.rotated, "scheduled rotation")
	if rot[0].Serial != first.Serial {
		t.Errorf("rotated %s, want %s", rot[0].Serial, first.Serial)
	}
	if got := await(t, ev.connected, "reconnection"); got != rot[1].Serial {
		t.Errorf("reconnected with %s, want %s", got, rot[1].Serial)
	}
}

// TestRotationLostReply replays a rotation whose reply never reached the
// device: the key was saved as pending and the server issued a
// certificate for it. The restarted agent finishes the rotation with the
// same key and gets that certificate; the server issues nothing more.
func TestRotationLostReply(t *testing.T) {
	srv := newServer(t)
	ev := newEvents()
	cfg := softwareConfig(t, srv, "rot-3", srv.Token("boards"), ev)
	cfg.StateDir = t.TempDir()
	a := start(t, cfg)
	first := await(t, ev.enrolled, "enrollment")
	await(t, ev.connected, "connection")
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	// What the agent does up to the reply: save a pending key, ask.
	d, err := OpenStateDir(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	keys := newSoftwareKeys(cfg)
	pending, err := keys.newKey()
	if err != nil {
		t.Fatal(err)
	}
	st.Pending = &Pending{Key: pending, For: first.Serial, Created: time.Now()}
	if err := d.Save(st); err != nil {
		t.Fatal(err)
	}
	d.Close()
	r := &runner{cfg: cfg.withDefaults(), keys: keys}
	cur, err := r.loadCreds(st)
	if err != nil {
		t.Fatal(err)
	}
	mtls := enroll.New(srv.API, srv.Roots()).WithClientCertificate(
		func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cur.tls, nil })
	lost, err := keys.rotate(context.Background(), mtls, st, pending)
	if err != nil {
		t.Fatalf("first rotation request: %v", err)
	}

	ev2 := newEvents()
	cfg.Hooks = ev2.hooks()
	a2 := start(t, cfg)
	await(t, ev2.connected, "connection with the old certificate")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := a2.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	rot := await(t, ev2.rotated, "rotation")
	if rot[1].Serial != lost.Serial {
		t.Errorf("the retry got serial %s, the lost reply held %s: issued twice", rot[1].Serial, lost.Serial)
	}
	var show struct {
		Certificates []struct{ Serial, Status, Supersedes string }
	}
	if err := json.Unmarshal([]byte(srv.MustCtl("device", "show", "rot-3", "--json")), &show); err != nil {
		t.Fatal(err)
	}
	if len(show.Certificates) != 2 {
		t.Errorf("the registry holds %d certificates, want 2 (enrollment, one rotation): %+v", len(show.Certificates), show.Certificates)
	}
	if got := await(t, ev2.connected, "reconnection"); got != lost.Serial {
		t.Errorf("reconnected with %s, want %s", got, lost.Serial)
	}
}
