package broker

import (
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/store"
)

// TestRevokeWhileConnected: a registry change drops the live session at
// once, and the device cannot come back with the same credentials.
func TestRevokeWhileConnected(t *testing.T) {
	tests := []struct {
		name      string
		act       func(f *fixture, id, serial string) error
		logReason string // logged when the session is dropped
		refusal   string // logged when the device reconnects
		// newCertWorks: only the certificate was revoked, so a new one
		// admits the device again.
		newCertWorks bool
	}{
		{
			name: "ok/device revoked",
			act: func(f *fixture, id, _ string) error {
				_, err := f.db.SetDeviceStatus(t.Context(), id, store.DeviceRevoked, "stolen", actor)
				return err
			},
			logReason: reasonDeviceRevoked,
			refusal:   reasonCertRevoked, // revoking a device revokes its certificates
		},
		{
			name: "ok/device suspended",
			act: func(f *fixture, id, _ string) error {
				_, err := f.db.SetDeviceStatus(t.Context(), id, store.DeviceSuspended, "maintenance", actor)
				return err
			},
			logReason: reasonDeviceSuspended,
			refusal:   reasonDeviceSuspended,
		},
		{
			name: "ok/certificate revoked",
			act: func(f *fixture, _, serial string) error {
				_, err := f.db.RevokeCertificate(t.Context(), serial, "key compromise", actor)
				return err
			},
			logReason:    reasonCertRevoked,
			refusal:      reasonCertRevoked,
			newCertWorks: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			const id = "victim"
			cert := f.device(id, nil)
			bystanderCert := f.device("bystander", nil)
			c := f.mustConnect(&cert, id)
			bystander := f.mustConnect(&bystanderCert, "bystander")

			start := time.Now()
			if err := tt.act(f, id, cert.Leaf.SerialNumber.Text(16)); err != nil {
				t.Fatal(err)
			}
			lostAt := f.awaitLost(c)
			line := f.logs.await(t, "device disconnected", "device="+id, "reason="+tt.logReason)
			t.Logf("%s: connection lost %v after the registry call returned; broker log: %s",
				tt.name, lostAt.Sub(start), line[strings.Index(line, "delay_ms"):])
			f.logs.await(t, "client disconnected", "client="+id)
			if f.b.Connected(id) {
				t.Fatal("broker still reports the device connected")
			}

			_, tok := f.connect(&cert, id, nil)
			if tok.Error() == nil || tok.ReturnCode() != 5 {
				t.Fatalf("reconnect: err %v, return code %d; want refusal with 5", tok.Error(), tok.ReturnCode())
			}
			f.logs.await(t, "connect refused", "device="+id, "reason="+tt.refusal)

			if tt.newCertWorks {
				fresh := f.issue(id, 0)
				f.roundTrip(f.mustConnect(&fresh, id), id)
			}
			f.roundTrip(bystander, "bystander")
		})
	}
}

// TestExpiryWhileConnected: the session ends when the certificate's
// NotAfter passes, and the expired certificate no longer gets through the
// handshake.
func TestExpiryWhileConnected(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.db.CreateDevice(t.Context(), store.Device{ID: "short-lived"}, actor); err != nil {
		t.Fatal(err)
	}
	// Long enough to connect on a loaded machine, short enough to wait for.
	cert := f.issue("short-lived", 4*time.Second)
	c := f.mustConnect(&cert, "short-lived")
	lostAt := f.awaitLost(c)
	if lostAt.Before(cert.Leaf.NotAfter) {
		t.Fatalf("dropped at %v, before NotAfter %v", lostAt, cert.Leaf.NotAfter)
	}
	line := f.logs.await(t, "device disconnected", "device=short-lived", "reason="+reasonExpired)
	t.Logf("dropped %v after NotAfter; %s", lostAt.Sub(cert.Leaf.NotAfter), line[strings.Index(line, "delay_ms"):])

	_, tok := f.connect(&cert, "short-lived", nil)
	if tok.Error() == nil || !strings.Contains(tok.Error().Error(), "tls:") {
		t.Fatalf("reconnect with the expired certificate: %v; want a TLS refusal", tok.Error())
	}
}

// TestTakeover: a second connection with the same valid identity takes the
// session over; the first is disconnected.
func TestTakeover(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.device("twin", nil)
	first := f.mustConnect(&cert, "twin")
	second := f.mustConnect(&cert, "twin")
	f.awaitLost(first)
	f.roundTrip(second, "twin")
	if !second.IsConnectionOpen() {
		t.Fatal("second connection closed")
	}
}

// TestWillAfterDrop: a device that loses its connection publishes its
// Will, unless the broker dropped it for its credentials.
func TestWillAfterDrop(t *testing.T) {
	f := newFixture(t, nil)
	watcherCert := f.device("watcher", func(d *store.Device) { d.Subscribe = []string{"devices/+/status"} })
	watcher := f.mustConnect(&watcherCert, "watcher")
	if code := f.subscribe(watcher, "devices/+/status"); code != 1 {
		t.Fatalf("SUBACK %#x", code)
	}

	tests := []struct {
		name   string
		end    func(f *fixture, conn *tls.Conn, id, serial string)
		wantIt bool
	}{
		{
			name:   "ok/connection lost: Will published",
			end:    func(_ *fixture, conn *tls.Conn, _, _ string) { conn.Close() },
			wantIt: true,
		},
		{
			name: "ok/device revoked: Will discarded",
			end: func(f *fixture, _ *tls.Conn, id, _ string) {
				if _, err := f.db.SetDeviceStatus(t.Context(), id, store.DeviceRevoked, "stolen", actor); err != nil {
					f.t.Fatal(err)
				}
			},
		},
		{
			name: "ok/certificate revoked: Will discarded",
			end: func(f *fixture, _ *tls.Conn, _, serial string) {
				if _, err := f.db.RevokeCertificate(t.Context(), serial, "stolen", actor); err != nil {
					f.t.Fatal(err)
				}
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := f.sub(t)
			id := fmt.Sprintf("mortal-%d", i)
			cert := f.device(id, nil)
			conn, err := tls.Dial("tcp", f.b.Addr().String(), f.tlsConfig(&cert))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(mqttwire.ConnectOptions{ClientID: id, KeepAlive: 60, Clean: true, WillTopic: "devices/" + id + "/status", WillPayload: "gone"}.Packet()); err != nil {
				t.Fatal(err)
			}
			ack := make([]byte, 4)
			if _, err := io.ReadFull(conn, ack); err != nil || ack[3] != 0 {
				t.Fatalf("CONNACK % x, %v", ack, err)
			}
			tt.end(f, conn, id, cert.Leaf.SerialNumber.Text(16))
			// mochi publishes the Will before it logs the disconnect, so
			// after this line a Will is already queued for the watcher,
			// ahead of the round trip's message.
			f.logs.await(t, "client disconnected", "client="+id)
			if tt.wantIt {
				f.receive(watcher, "devices/"+id+"/status", "gone")
			}
			f.roundTrip(watcher, "watcher")
		})
	}
}
