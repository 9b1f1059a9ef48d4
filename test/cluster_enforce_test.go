package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/sigstop"
	"github.com/fleetgate/fleetgate/provisioning/cli"
)

// TestClusterRevocationInForceOnReturn: a bulk revocation answers once
// every broker has dropped the sessions it ends. When `fleetgate device
// revoke --group` returns, each broker's own count of revoked-device drops
// (read from its /metrics after the return) already holds its share, and
// the command says "in force on 3 of 3 brokers". A broker frozen during
// the revocation is reported as not confirming (exit code 8) while its
// device is still connected; once it runs again it drops that session,
// and the next revocation is in force on all three.
func TestClusterRevocationInForceOnReturn(t *testing.T) {
	f := startFleet(t, 3)
	const perBroker = 2
	for i, b := range f.brokers {
		for j := range perBroker {
			id := fmt.Sprintf("lot1-%d-%d", i, j)
			cert, _, _ := f.device(t, id, "--group", "lot-1")
			c, code, err := f.open(b, cert, id)
			if err != nil || code != 0 {
				t.Fatalf("connect %s to broker %d: code %d, %v", id, i, code, err)
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}
	out := f.api.MustCtl("device", "revoke", "--group", "lot-1", "--reason", "lot recalled")
	// Read right after the return: no waiting for the drops.
	for i, b := range f.brokers {
		_, metrics := httpGet(t, b.Ops+"/metrics")
		want := fmt.Sprintf(`fleetgate_broker_sessions_dropped_total{reason="device_revoked"} %d`, perBroker)
		if !strings.Contains(metrics, want) {
			t.Errorf("broker %d: when the command returned, /metrics lacked %q", i, want)
		}
	}
	if !strings.Contains(out, "6 devices selected, 6 revoked now") || !strings.Contains(out, "in force on 3 of 3 brokers") {
		t.Errorf("output: %s", out)
	}

	t.Run("a frozen broker is named, and catches up", func(t *testing.T) {
		frozen := f.brokers[2]
		cert, _, _ := f.device(t, "lot2-0", "--group", "lot-2")
		c, closed, err := openSession(frozen.MQTT, f.roots, cert, "lot2-0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		sigstop.Pause(t, frozen.PID, "broker 2")
		resumed := false
		t.Cleanup(func() {
			if !resumed {
				sigstop.Resume(t, frozen.PID, "broker 2")
			}
		})
		stdout, stderr, code := f.api.Ctl("device", "revoke", "--group", "lot-2", "--reason", "lot recalled")
		if code != cli.ExitUnconfirmed {
			t.Errorf("exit code %d, want %d (unconfirmed); stderr: %s", code, cli.ExitUnconfirmed, stderr)
		}
		if !strings.Contains(stdout, "1 devices selected, 1 revoked now") {
			t.Errorf("stdout: %s", stdout)
		}
		if !strings.Contains(stderr, "1 of 3 brokers did not confirm") {
			t.Errorf("stderr: %s", stderr)
		}
		select {
		case <-closed:
			t.Fatal("the frozen broker's session ended while it was frozen")
		default:
		}
		sigstop.Resume(t, frozen.PID, "broker 2")
		resumed = true
		select {
		case <-closed:
		case <-time.After(30 * time.Second):
			t.Fatal("the broker did not drop the revoked session within 30 s of running again")
		}
		cert3, _, _ := f.device(t, "lot3-0", "--group", "lot-3")
		c3, connack, err := f.open(f.brokers[0], cert3, "lot3-0")
		if err != nil || connack != 0 {
			t.Fatalf("connect lot3-0: code %d, %v", connack, err)
		}
		t.Cleanup(func() { _ = c3.Close() })
		if out := f.api.MustCtl("device", "revoke", "--group", "lot-3", "--reason", "lot recalled"); !strings.Contains(out, "in force on 3 of 3 brokers") {
			t.Errorf("after the broker caught up: %s", out)
		}
	})
}
