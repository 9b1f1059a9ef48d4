package broker

import (
	"testing"

	"github.com/fleetgate/fleetgate/store"
)

// TestDeviceProfileLive: a device's own metadata or group changed in the
// registry re-judges its live session: a subscription its template no
// longer yields is removed, the new group's templates and limits apply and
// later changes of that group reach it, and a move into a group whose
// policy its certificate does not meet drops it.
func TestDeviceProfileLive(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	if _, err := f.db.SetGroupACL(ctx, "sites", []string{"sites/{meta.site}/#"}, []string{"sites/{meta.site}/#"}, actor); err != nil {
		t.Fatal(err)
	}
	cert := f.device("meter-1", func(d *store.Device) { d.Group, d.Metadata = "sites", map[string]string{"site": "a"} })
	feederCert := f.device("feeder", func(d *store.Device) { d.Group, d.Metadata = "sites", map[string]string{"site": "a"} })
	meter, feeder := f.mustConnect(&cert, "meter-1"), f.mustConnect(&feederCert, "feeder")
	f.wantSubscribe(meter, "sites/a/#", 1, "its own site")
	f.publish(feeder, "sites/a/x", "before", false)
	f.receive(meter, "sites/a/x", "before")

	// Its metadata moves it to site b: the site a stream stops.
	if _, err := f.db.SetDeviceProfile(ctx, "meter-1", "sites", map[string]string{"site": "b"}, actor); err != nil {
		t.Fatal(err)
	}
	f.logs.await(t, "ACL changed; session re-judged", "device=meter-1", "removed=[sites/a/#]")
	f.publish(feeder, "sites/a/x", "lost", false)
	f.wantSubscribe(meter, "sites/b/#", 1, "the new site after the move")
	f.publish(meter, "sites/b/y", "after", false)
	f.expectOnly(meter, "sites/b/y", "after")

	// Its group changes: the new group's limits apply, and so do later
	// changes of that group.
	if _, err := f.db.SetGroupLimits(ctx, "lean", &store.Limits{MaxSubscriptions: 1}, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.SetDeviceProfile(ctx, "meter-1", "lean", nil, actor); err != nil {
		t.Fatal(err)
	}
	f.logs.await(t, "ACL changed; session re-judged", "device=meter-1", "removed=[sites/b/#]")
	f.wantSubscribe(meter, "devices/meter-1/a", 1, "first subscription in the new group")
	f.wantSubscribe(meter, "devices/meter-1/b", 0x80, "second subscription over the new group's quota")
	if _, err := f.db.SetGroupLimits(ctx, "lean", &store.Limits{MaxSubscriptions: 2}, actor); err != nil {
		t.Fatal(err)
	}
	f.logs.AwaitCount(t, wait, 3, "ACL changed; session re-judged", "device=meter-1")
	f.wantSubscribe(meter, "devices/meter-1/b", 1, "second subscription after the new group's quota grew")

	// A group requiring TPM attestation: a software-key session ends.
	if _, err := f.db.PutGroup(ctx, store.Group{Name: "tpm-only", RequireTPM: true}, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.SetDeviceProfile(ctx, "meter-1", "tpm-only", nil, actor); err != nil {
		t.Fatal(err)
	}
	f.awaitLost(meter)
	f.logs.await(t, "device=meter-1", "reason="+reasonAttestationPolicy)

	if _, err := f.db.SetDeviceProfile(ctx, "meter-1", "no/such", nil, actor); err == nil {
		t.Fatal("a malformed group name was accepted")
	}
	if _, err := f.db.SetDeviceProfile(ctx, "nobody", "", nil, actor); err == nil {
		t.Fatal("an unknown device was accepted")
	}
}

// wantSubscribe subscribes c to filter and requires the SUBACK code want.
func (f *fixture) wantSubscribe(c *client, filter string, want byte, what string) {
	f.t.Helper()
	if code := f.subscribe(c, filter); code != want {
		f.t.Fatalf("%s: subscribe %q: SUBACK %#x, want %#x", what, filter, code, want)
	}
}
