package test

import (
	"crypto/tls"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Where a refusal happens: crypto/tls turns some certificates away in the
// handshake; the broker's hook refuses the rest at CONNECT with CONNACK
// "not authorized" (3.1.1 return code 5).
const (
	atTLS     = "tls"
	atConnect = "connect"
)

// notAuthorized is the 3.1.1 CONNACK return code for a refused device.
const notAuthorized = 5

// outcome is what one connection attempt saw.
type outcome struct {
	local   string // our address, which the server logs as remote=
	err     error  // TLS or socket failure before any MQTT packet arrived
	connack int    // CONNACK return code, -1 when none arrived
	resumed bool   // the TLS session was resumed
}

// attempt dials the broker with conf, sends pk as the first packet and
// reads the answer.
func (e *attackEnv) attempt(t *testing.T, conf *tls.Config, pk []byte) outcome {
	t.Helper()
	o := outcome{connack: -1}
	c, err := dialMQTT(e.addr, conf)
	if c == nil {
		t.Fatalf("dial %s: %v", e.addr, err)
	}
	defer c.Close()
	o.local, o.resumed = c.local, c.tc.ConnectionState().DidResume
	if err != nil {
		o.err = err
		return o
	}
	if err := c.send(pk); err != nil {
		o.err = err
		return o
	}
	code, _, err := c.connack()
	if err != nil {
		o.err = err
		return o
	}
	o.connack = int(code)
	return o
}

// expectRefused checks that the attempt was refused at the given stage and
// that the server logged the refusal of this very socket with a reason
// matching the regular expression reason.
func (e *attackEnv) expectRefused(t *testing.T, o outcome, stage, reason string) {
	t.Helper()
	switch {
	case o.connack == 0:
		t.Fatalf("admitted (CONNACK 0); want a refusal at %s with reason %s", stage, reason)
	case stage == atConnect && o.connack != notAuthorized:
		t.Fatalf("CONNACK %d, error %v; want CONNACK %d (not authorized)", o.connack, o.err, notAuthorized)
	case stage == atTLS && o.err == nil:
		t.Fatalf("got CONNACK %d; want the TLS handshake to fail", o.connack)
	}
	msg := "connect refused"
	if stage == atTLS {
		msg = "tls handshake failed"
	}
	line := e.waitLog(t, `msg="`+msg+`" .*remote=`+regexp.QuoteMeta(o.local)+` .*reason=(`+reason+`)( |$)`)
	t.Logf("refused at %s: %s", stage, strings.TrimSpace(line))
}

// waitLog waits for a server log line matching pattern and returns it. The
// log is another process's output, so there is no event to await: it is
// polled until a generous deadline.
func (e *attackEnv) waitLog(t *testing.T, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(attackWait)
	for {
		for _, line := range strings.Split(e.s.Logs.String(), "\n") {
			if re.MatchString(line) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server log line matches %q within %s", pattern, attackWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refusalCase is a certificate or CONNECT the broker must refuse.
type refusalCase struct {
	name   string
	cert   func(t *testing.T, e *attackEnv) *tls.Certificate // nil result: no client certificate
	pk     func(e *attackEnv) []byte                         // nil: CONNECT as atk-a
	stage  string
	reason string
}

// run attempts the connection and checks the refusal.
func (c refusalCase) run(t *testing.T, e *attackEnv) {
	cert := c.cert(t, e)
	pk := session(attackerID).Packet()
	if c.pk != nil {
		pk = c.pk(e)
	}
	e.expectRefused(t, e.attempt(t, e.tlsConfig(cert), pk), c.stage, c.reason)
}
