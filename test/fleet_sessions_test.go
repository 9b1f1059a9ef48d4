package test

import (
	"bufio"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// sessionLine is a broker's log line for a session that came up ("device
// connected", once its CONNACK is out) or ended ("session ended"); every
// session a broker held has both, so its logs alone say which sessions it
// held at any moment.
var (
	sessionLine = regexp.MustCompile(`^time=(\S+) .*msg="(device connected|session ended)" `)
	deviceAttr  = regexp.MustCompile(` device=(\S+)`)
	remoteAttr  = regexp.MustCompile(` remote=(\S+)`)
)

// brokerSession is one session of a device on one broker, by its logs;
// ended is zero if the broker never logged its end.
type brokerSession struct {
	broker       int
	device       string
	began, ended time.Time
}

// brokerSessions reads the sessions of the devices in ids from the logs
// of every broker (logs[i] is broker i's). A session is known by its broker, device and remote
// address; an end with no start logged (a session that began before the
// logs) is ignored.
func brokerSessions(logs []string, ids map[string]bool) []brokerSession {
	var out []brokerSession
	for i, log := range logs {
		open := map[string]int{} // device+remote: index into out
		sc := bufio.NewScanner(strings.NewReader(log))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			m := sessionLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			dev, rem := deviceAttr.FindStringSubmatch(line), remoteAttr.FindStringSubmatch(line)
			at, err := time.Parse(time.RFC3339Nano, m[1])
			if dev == nil || rem == nil || err != nil || !ids[dev[1]] {
				continue
			}
			key := dev[1] + " " + rem[1]
			if m[2] == "device connected" {
				open[key] = len(out)
				out = append(out, brokerSession{broker: i, device: dev[1], began: at})
				continue
			}
			if j, ok := open[key]; ok {
				out[j].ended = at
				delete(open, key)
			}
		}
	}
	return out
}

// revokedSessionsCheck judges a bulk revocation by the brokers' own logs:
// every session of a revoked device that was up as the command began, or
// began while it ran, ended within 2 s of its return, and none began after
// it. This is where the sessions are held, whatever the loaded simulators
// noticed and when.
func revokedSessionsCheck(sessions []brokerSession, start, ret time.Time) report.Check {
	const grace = 2 * time.Second
	var held, before, within, after int
	var late []string
	var worst time.Duration
	for _, s := range sessions {
		switch {
		case s.began.After(ret):
			after++
			continue
		case !s.ended.IsZero() && s.ended.Before(start):
			continue // over before the command
		}
		held++
		switch {
		case s.ended.IsZero():
			late = append(late, fmt.Sprintf("%s on broker %d: never ended", s.device, s.broker))
		case !s.ended.After(ret):
			before++
		case s.ended.Sub(ret) <= grace:
			within++
			worst = max(worst, s.ended.Sub(ret))
		default:
			late = append(late, fmt.Sprintf("%s on broker %d: %.1f s after the return", s.device, s.broker, s.ended.Sub(ret).Seconds()))
			worst = max(worst, s.ended.Sub(ret))
		}
	}
	slices.Sort(late)
	detail := fmt.Sprintf("by the brokers' logs: %d sessions of revoked devices held as the command began or began while it ran; %d ended before it returned, %d within 2 s after (latest %.0f ms), %d later or never; %d began after the return",
		held, before, within, float64(worst.Microseconds())/1000, len(late), after)
	if len(late) > 0 {
		detail += "; " + strings.Join(late[:min(len(late), 5)], ", ")
	}
	return report.Check{Name: "at the brokers, every revoked session ends within 2 s of the command's return and none begins after it",
		OK: held > 0 && len(late) == 0 && after == 0, Detail: detail}
}

// TestRevokedSessionsCheck reads sessions from broker log lines and judges
// them: a session that ends 2.5 s after the return, one never ended and
// one begun after the return each fail the check; sessions of devices not
// revoked and sessions over before the command do not count.
func TestRevokedSessionsCheck(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ret := start.Add(100 * time.Second)
	line := func(at time.Time, msg, dev, remote string) string {
		return fmt.Sprintf("time=%s level=INFO msg=%q device=%s serial=0a remote=%s\n", at.Format(time.RFC3339Nano), msg, dev, remote)
	}
	up := func(at time.Duration, dev, remote string) string {
		return line(start.Add(at), "device connected", dev, remote)
	}
	end := func(at time.Duration, dev, remote string) string {
		return line(start.Add(at), "session ended", dev, remote)
	}
	ids := map[string]bool{"a": true, "b": true, "c": true}
	good := []string{
		up(-time.Hour, "a", "10.0.0.1:1") + up(-time.Hour, "x", "10.0.0.9:1") + end(-time.Minute, "a", "10.0.0.1:1") +
			up(-time.Minute, "a", "10.0.0.1:2") + end(50*time.Second, "a", "10.0.0.1:2") + end(200*time.Second, "x", "10.0.0.9:1"),
		up(-time.Hour, "b", "10.0.0.2:1") + up(90*time.Second, "c", "10.0.0.3:1") + end(101*time.Second, "c", "10.0.0.3:1") +
			`time=` + start.Format(time.RFC3339Nano) + ` level=INFO msg="device disconnected" device=b reason=device_revoked remote=10.0.0.2:1` + "\n" +
			end(100*time.Second+1500*time.Millisecond, "b", "10.0.0.2:1"),
	}
	ck := revokedSessionsCheck(brokerSessions(good, ids), start, ret)
	if !ck.OK || !strings.Contains(ck.Detail, "3 sessions of revoked devices held") || !strings.Contains(ck.Detail, "1 ended before it returned, 2 within 2 s after (latest 1500 ms)") {
		t.Fatalf("good run judged %+v", ck)
	}
	for name, extra := range map[string]string{
		"late":        up(time.Second, "a", "10.0.0.1:7") + end(102500*time.Millisecond, "a", "10.0.0.1:7"),
		"never ended": up(99*time.Second, "c", "10.0.0.3:9"),
		"began after": up(101*time.Second, "b", "10.0.0.2:9") + end(102*time.Second, "b", "10.0.0.2:9"),
	} {
		ck := revokedSessionsCheck(brokerSessions(append(slices.Clone(good), extra), ids), start, ret)
		if ck.OK {
			t.Errorf("%s: judged ok: %s", name, ck.Detail)
		}
	}
}
