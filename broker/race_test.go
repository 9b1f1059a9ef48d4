package broker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// racingRegistry revokes the device right after the CONNECT's lookup has
// read it as active, and returns only once the broker applied the change:
// the feed's scan then ran before the session was registered.
type racingRegistry struct {
	*store.DB
	once   sync.Once
	revoke func()
}

func (r *racingRegistry) Lookup(ctx context.Context, id, serial string) (store.Device, store.Certificate, error) {
	dev, cert, err := r.DB.Lookup(ctx, id, serial)
	r.once.Do(r.revoke)
	return dev, cert, err
}

func TestRevokedDuringConnect(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.device("racer", nil)
	reg := &racingRegistry{DB: f.db}
	b := f.serveOn(reg)
	reg.revoke = func() {
		before := b.hook.changes.read("racer")
		if _, err := f.db.SetDeviceStatus(t.Context(), "racer", store.DeviceRevoked, "test", actor); err != nil {
			t.Error(err)
			return
		}
		for deadline := time.Now().Add(wait); b.hook.changes.read("racer") == before; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the broker never applied the revocation")
				return
			}
		}
	}

	_, tok := f.connect(&cert, "racer", nil)
	if tok.Error() == nil || tok.ReturnCode() != 5 {
		t.Fatalf("a device revoked while its CONNECT was checked was admitted (return code %d, err %v)", tok.ReturnCode(), tok.Error())
	}
	f.logs.await(t, "connect refused", "device=racer", "reason="+reasonRevokedDuringConnect)
	if b.Connected("racer") {
		t.Fatal("broker reports the revoked device connected")
	}
}
