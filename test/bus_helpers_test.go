package test

import (
	"crypto/tls"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// busWait bounds what the bus tests await across brokers: a NATS
// reconnect, a route's interest, a key-value watch catching up.
const busWait = 20 * time.Second

// busPoll is the pause between two looks at a condition that has no
// event to await (another broker's state).
const busPoll = 100 * time.Millisecond

// pahoOn connects device id to broker brk with paho; it must be admitted.
func (f *fleet) pahoOn(t *testing.T, brk *server, cert tls.Certificate, id string, adjust ...func(*paho.ClientOptions)) *pahoDevice {
	t.Helper()
	return connectPaho(t, brk.MQTT, deviceTLS(f.roots, cert), id, adjust...)
}

var markers atomic.Int64

// retainedSeen connects the probe (a device that may subscribe to topic
// and publish to mark) to brk, subscribes to topic and mark, publishes a
// marker and returns the retained message for topic that arrived before
// it ("" and false when none did). A broker sends retained messages right
// after the SUBACK, so the marker comes after them.
func (f *fleet) retainedSeen(t *testing.T, brk *server, probe tls.Certificate, id, topic, mark string) (string, bool) {
	t.Helper()
	d := f.pahoOn(t, brk, probe, id)
	defer d.Disconnect(0)
	tok := d.SubscribeMultiple(map[string]byte{topic: 1, mark: 1}, nil)
	if !tok.WaitTimeout(attackWait) || tok.Error() != nil {
		t.Fatalf("probe subscribe on %s: %v", brk.MQTT, tok.Error())
	}
	marker := fmt.Sprintf("marker-%d", markers.Add(1))
	d.publish(t, mark, marker, false)
	payload, found := "", false
	for {
		select {
		case m := <-d.msgs:
			if m.Topic() == mark && string(m.Payload()) == marker {
				return payload, found
			}
			if m.Topic() == topic && m.Retained() {
				payload, found = string(m.Payload()), true
			}
		case <-time.After(attackWait):
			t.Fatalf("probe on %s: marker %s not back within %s", brk.MQTT, marker, attackWait)
		}
	}
}

// awaitRetained polls brk until a new subscriber to topic gets want as its
// retained message (want "": none at all).
func (f *fleet) awaitRetained(t *testing.T, brk *server, probe tls.Certificate, id, topic, mark, want string) {
	t.Helper()
	deadline := time.Now().Add(busWait)
	for {
		got, found := f.retainedSeen(t, brk, probe, id, topic, mark)
		if got == want && found == (want != "") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a subscriber to %s on %s gets retained %q (found %v), want %q", topic, brk.MQTT, got, found, want)
		}
		time.Sleep(busPoll)
	}
}

// metric returns the value of one series on brk's /metrics, as
// `name{labels}` exactly as Prometheus prints it, or -1 when absent.
func metric(t testing.TB, brk *server, series string) float64 {
	t.Helper()
	_, body := httpGet(t, brk.Ops+"/metrics")
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

// awaitMetric polls brk's /metrics until ok holds for series.
func awaitMetric(t *testing.T, brk *server, series string, ok func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(busWait)
	for v := metric(t, brk, series); !ok(v); v = metric(t, brk, series) {
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s is %v", series, brk.MQTT, v)
		}
		time.Sleep(busPoll)
	}
}

// awaitVia publishes payloads numbered from 1 on topic with pub until d
// receives one of them: the first messages may be published before the
// route has carried d's interest across the NATS cluster. It returns
// the other messages d received meanwhile.
func awaitVia(t *testing.T, pub, d *pahoDevice, topic, prefix string) []paho.Message {
	t.Helper()
	var others []paho.Message
	deadline := time.Now().Add(busWait)
	for i := 1; ; i++ {
		pub.publish(t, topic, fmt.Sprintf("%s-%d", prefix, i), false)
		wait := time.After(3 * busPoll)
	read:
		for {
			select {
			case m := <-d.msgs:
				if m.Topic() == topic && strings.HasPrefix(string(m.Payload()), prefix+"-") {
					return others
				}
				others = append(others, m)
			case <-wait:
				break read
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s-N on %s within %s; got %d others", prefix, topic, busWait, len(others))
		}
	}
}

// drainUntil reads d's messages until payload arrives on topic and
// returns the others.
func drainUntil(t *testing.T, d *pahoDevice, topic, payload string) []paho.Message {
	t.Helper()
	var out []paho.Message
	deadline := time.After(busWait)
	for {
		select {
		case m := <-d.msgs:
			if m.Topic() == topic && string(m.Payload()) == payload {
				return out
			}
			out = append(out, m)
		case <-deadline:
			t.Fatalf("no %q on %q within %s", payload, topic, busWait)
		}
	}
}
