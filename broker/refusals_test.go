package broker

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/store"
)

// TestRefusalFloodCoalesces floods the broker with refused CONNECTs of one
// device and with handshakes of distinct foreign certificates: every
// device still hears only "not authorized" (or a TLS alert), the registry
// gets one entry per device and check with the exact count, and one per
// foreign certificate.
func TestRefusalFloodCoalesces(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.device("flood-1", nil)
	const connects, workers = 120, 6
	var wg sync.WaitGroup
	errs := make(chan error, connects)
	for w := range workers {
		wg.Go(func() {
			for range connects / workers {
				errs <- f.refusedConnect(&cert, fmt.Sprintf("not-flood-%d", w))
			}
		})
	}
	foreignCert, foreignKey := foreignCA(t)
	const strangers = 20
	for i := range strangers {
		c := f.craftWith(foreignCert, foreignKey, fmt.Sprintf("stranger-%d", i), nil)
		conf := f.tlsConfig(nil)
		// Sent even though the broker's CA list does not name its issuer,
		// as OpenSSL clients do (Go's Certificates field would hold it back).
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
		if conn, err := tls.Dial("tcp", "127.0.0.1:"+f.port, conf); err == nil {
			_, err = conn.Read(make([]byte, 1)) // TLS 1.3: the refusal arrives after the handshake
			conn.Close()
			if err == nil {
				t.Fatalf("stranger-%d: the broker sent data to a foreign certificate", i)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	deadline := time.Now().Add(wait)
	for {
		log, err := f.db.DeviceRefusals(t.Context(), "flood-1")
		if err != nil {
			t.Fatal(err)
		}
		un, _, err := f.db.Refusals(t.Context(), store.RefusalQuery{Unregistered: true})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, e := range log.Entries {
			total += e.Count
		}
		if total == connects && len(log.Entries) == 1 && len(un) == strangers {
			if e := log.Entries[0]; e.Check != reasonClientIDMismatch || e.Serial == "" || e.Broker == "" {
				t.Fatalf("entry %+v", e)
			}
			if un[0].Check != reasonUnknownCA || un[0].Issuer != foreignCert.Subject.String() {
				t.Fatalf("foreign entry %+v, want unknown_ca from %s", un[0], foreignCert.Subject)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("flood-1: %d entries counting %d refusals (want 1 counting %d); %d unregistered (want %d)",
				len(log.Entries), total, connects, len(un), strangers)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// refusedConnect sends a CONNECT that must be refused and checks that the
// answer is CONNACK "not authorized" (3.1.1 return code 5) and nothing more.
func (f *fixture) refusedConnect(cert *tls.Certificate, clientID string) error {
	conn, err := tls.Dial("tcp", "127.0.0.1:"+f.port, f.tlsConfig(cert))
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	if _, err := conn.Write(mqttwire.Connect(clientID, 60, true)); err != nil {
		return err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		return err
	}
	if ack[0] != 0x20 || ack[3] != 5 {
		return fmt.Errorf("CONNACK % x, want return code 5 (not authorized)", ack)
	}
	return nil
}

// TestRefusalBufferBounded: a broker's buffer holds at most
// refusalBufferMax subjects, counts what it cannot hold, and hands the
// registry at most refusalFlushMax entries per write; nothing is lost
// from the counts on the way into the registry.
func TestRefusalBufferBounded(t *testing.T) {
	db, err := store.Open(t.TempDir()+"/r.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := newRefusalBuffer(db, func() string { return "127.0.0.1:8883" }, slog.New(slog.DiscardHandler))
	const extra = 100
	now := time.Now()
	for i := range refusalBufferMax + extra {
		b.note(store.Refusal{Time: now, Fingerprint: fmt.Sprintf("%064x", i), Check: reasonUnknownCA})
		b.note(store.Refusal{Time: now, Fingerprint: fmt.Sprintf("%064x", i), Check: reasonUnknownCA}) // coalesces, or is dropped too
	}
	if got, want := b.dropped, 2*extra; got != want {
		t.Fatalf("dropped %d, want %d", got, want)
	}
	writes := 0
	for {
		b.mu.Lock()
		left := len(b.pending) + b.dropped
		b.mu.Unlock()
		if left == 0 {
			break
		}
		b.flush(t.Context())
		writes++
	}
	if min := (refusalBufferMax + refusalFlushMax - 1) / refusalFlushMax; writes < min {
		t.Fatalf("%d writes, want at least %d (at most %d entries each)", writes, min, refusalFlushMax)
	}
	rs, stats, err := db.Refusals(t.Context(), store.RefusalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, r := range rs {
		kept += r.Count
	}
	if len(rs) != refusalBufferMax || kept != 2*refusalBufferMax || stats.Subjects != refusalBufferMax || stats.Dropped != 2*extra {
		t.Fatalf("registry: %d entries counting %d, %d subjects, %d dropped; want %d counting %d, %d, %d",
			len(rs), kept, stats.Subjects, stats.Dropped, refusalBufferMax, 2*refusalBufferMax, refusalBufferMax, 2*extra)
	}
}
