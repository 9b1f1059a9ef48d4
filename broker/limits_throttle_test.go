package broker

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/store"
)

// TestLimitThrottle: a device over its publish rate is slowed, not
// disconnected (RateThrottle, the default), while another device goes on;
// a group whose rate action is "disconnect" loses the connection instead.
func TestLimitThrottle(t *testing.T) {
	const rate, burst, sent = 4, 1, 6
	m := NewMetrics(nil)
	f := newFixture(t, func(c *Config) {
		c.Limits = Limits{PublishRate: rate, PublishBurst: burst}
		c.Metrics = m
	})
	t.Run("throttled", func(t *testing.T) {
		f := f.sub(t)
		cert := f.device("eager-1", nil)
		v := f.connectV5(&cert, "eager-1")
		if code := v.subscribe(1, "devices/eager-1/#"); code != 1 {
			t.Fatalf("subscribe: %#x", code)
		}
		start := time.Now()
		var flood []byte
		for range sent {
			body := append(mqttwire.AppendString(nil, "devices/eager-1/t"), 0) // MQTT 5: no properties
			flood = append(flood, mqttwire.Frame(mqttwire.PUBLISH<<4, body)...)
		}
		v.send(flood) // in one write: the broker reads them as fast as it can
		other := f.device("steady", nil)
		f.roundTrip(f.mustConnect(&other, "steady"), "steady")
		for got := 0; got < sent; {
			p := v.next()
			if p.Type == mqttwire.DISCONNECT {
				t.Fatalf("throttled device disconnected: %+v", p)
			}
			if p.Type == mqttwire.PUBLISH {
				got++
			}
		}
		// The bucket held burst tokens and gains rate per second: the broker
		// cannot have accepted all before (sent-burst)/rate seconds.
		if elapsed, least := time.Since(start), time.Duration(sent-burst)*time.Second/rate; elapsed < least {
			t.Fatalf("%d messages delivered after %v; the rate allows them no sooner than %v", sent, elapsed, least)
		}
		v.send(mqttwire.Pingreq)
		if p := v.next(); !bytes.Equal(mqttwire.Frame(p.Type<<4, p.Body), mqttwire.Pingresp) {
			t.Fatalf("after throttling: %+v, want PINGRESP (connection up)", p)
		}
		f.logs.await(t, "limit exceeded; device throttled", "device=eager-1", "limit="+limitPublishRate)
		if n := testutil.ToFloat64(m.limited.WithLabelValues(limitPublishRate, "throttle")); n < 1 {
			t.Fatalf(`fleetgate_broker_limit_exceeded_total{limit="publish_rate",action="throttle"} = %v, want >= 1`, n)
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		f := f.sub(t)
		if _, err := f.db.SetGroupLimits(t.Context(), "strict", &store.Limits{RateAction: store.RateDisconnect}, actor); err != nil {
			t.Fatal(err)
		}
		cert := f.device("eager-2", func(d *store.Device) { d.Group = "strict" })
		v := f.connectV5(&cert, "eager-2")
		for range burst + 1 {
			v.publish("devices/eager-2/t", nil)
		}
		if code := v.awaitDisconnect(); code != 0x96 {
			t.Fatalf("DISCONNECT reason %#x, want 0x96", code)
		}
		f.logs.await(t, "limit exceeded; device disconnected", "device=eager-2", "limit="+limitPublishRate)
	})
	t.Run("refused", func(t *testing.T) {
		_, err := f.db.SetGroupLimits(t.Context(), "strict", &store.Limits{RateAction: "ignore"}, actor)
		if err == nil {
			t.Fatal("rate action \"ignore\" accepted")
		}
		if err := (Limits{RateAction: "ignore"}).validate(); err == nil {
			t.Fatal("broker limits with rate action \"ignore\" accepted")
		}
	})
}

// TestLimitThrottleRevoked: a device revoked while a message of its waits
// for its tokens stops at once, and the message is not delivered.
func TestLimitThrottleRevoked(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Limits = Limits{PublishRate: 1.0 / 60, PublishBurst: 1} // the second message waits a minute...
		c.throttleWait = 2 * time.Minute                          // ...which is allowed here
	})
	watchCert := f.device("watch", func(d *store.Device) { d.Subscribe = []string{"devices/slowpoke/#"} })
	markCert := f.device("marker", func(d *store.Device) { d.Publish = []string{"devices/slowpoke/mark"} })
	cert := f.device("slowpoke", nil)
	watch, marker, slow := f.mustConnect(&watchCert, "watch"), f.mustConnect(&markCert, "marker"), f.mustConnect(&cert, "slowpoke")
	if code := f.subscribe(watch, "devices/slowpoke/#"); code != 1 {
		t.Fatalf("subscribe: %#x", code)
	}
	f.publish(slow, "devices/slowpoke/t", "first", false)
	f.receive(watch, "devices/slowpoke/t", "first")
	slow.Publish("devices/slowpoke/t", 0, false, "late")
	f.logs.await(t, "limit exceeded; device throttled", "device=slowpoke")
	if _, err := f.db.SetDeviceStatus(t.Context(), "slowpoke", store.DeviceRevoked, "test", actor); err != nil {
		t.Fatal(err)
	}
	// Within the test's wait, far below the minute the message would wait.
	f.logs.await(t, "throttled message dropped", "device=slowpoke", "topic=devices/slowpoke/t")
	f.awaitLost(slow)
	f.publish(marker, "devices/slowpoke/mark", "m", false)
	f.expectOnly(watch, "devices/slowpoke/mark", "m")
}
