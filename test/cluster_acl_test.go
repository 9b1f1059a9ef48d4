package test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var rejudgeDelay = regexp.MustCompile(`msg="ACL changed; session re-judged".* delay_ms=([0-9.]+)`)

// An ACL change made with the CLI reaches every broker of a cluster: each
// broker removes the backend subscription the group no longer allows, and
// the backend (a real mosquitto_sub) stops receiving telemetry while its
// other subscription keeps flowing on the same connection.
func TestClusterACLChangeReachesEveryBroker(t *testing.T) {
	needTool(t, "mosquitto_sub")
	f := startFleet(t, 2)
	f.api.MustCtl("group", "acl", "backends", "--subscribe", "devices/+/telemetry", "--subscribe", "sites/{meta.site}/#")
	type pair struct{ cert, key string }
	var subs []*sub
	sensors := make([]pair, len(f.brokers))
	for i, b := range f.brokers {
		be, sensor := fmt.Sprintf("be-%d", i), fmt.Sprintf("sensor-%d", i)
		_, beCert, beKey := f.device(t, be, "--group", "backends", "--meta", "site=s"+fmt.Sprint(i))
		_, sensors[i].cert, sensors[i].key = f.device(t, sensor, "--publish", "sites/#")
		m := b.startSub(t, be, beCert, beKey, "-q", "1", "-v", "-t", "devices/+/telemetry", "-t", fmt.Sprintf("sites/s%d/#", i))
		m.waitFor(t, "SUBACK")
		if _, code := b.pub(t, sensor, sensors[i].cert, sensors[i].key, "-q", "1", "-t", "devices/"+sensor+"/telemetry", "-m", "t1"); code != 0 {
			t.Fatalf("sensor %d publish failed", i)
		}
		m.waitFor(t, "devices/"+sensor+"/telemetry t1")
		subs = append(subs, m)
	}

	f.api.MustCtl("group", "acl", "backends", "--subscribe", "sites/{meta.site}/#")
	for i, b := range f.brokers {
		be, sensor := fmt.Sprintf("be-%d", i), fmt.Sprintf("sensor-%d", i)
		b.awaitLog(t, 1, "ACL changed; session re-judged", "device="+be, "removed=[devices/+/telemetry]")
		m := rejudgeDelay.FindStringSubmatch(b.Logs.String())
		if m == nil {
			t.Fatalf("broker %d logged no re-judge delay", i)
		}
		if ms, _ := strconv.ParseFloat(m[1], 64); ms >= 1000 {
			t.Errorf("broker %d re-judged %s ms after the change (want < 1 s)", i, m[1])
		}
		t.Logf("broker %d: change to re-judge %s ms", i, m[1])
		// Telemetry now stops; the site stream on the same connection goes on
		// and, published after it, proves the telemetry was not delivered.
		for _, args := range [][]string{{"-t", "devices/" + sensor + "/telemetry", "-m", "t2"}, {"-t", fmt.Sprintf("sites/s%d/alarm", i), "-m", "mark"}} {
			if _, code := b.pub(t, sensor, sensors[i].cert, sensors[i].key, append([]string{"-q", "1"}, args...)...); code != 0 {
				t.Fatalf("sensor %d publish %q failed", i, args)
			}
		}
		subs[i].waitFor(t, "alarm mark")
		if out := subs[i].output(); strings.Contains(out, "telemetry t2") {
			t.Fatalf("broker %d delivered telemetry after the right was removed:\n%s", i, out)
		}
	}
}
