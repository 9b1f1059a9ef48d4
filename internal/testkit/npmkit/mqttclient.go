package npmkit

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

//go:embed mqttclient.js
var mqttClientJS []byte

// MQTTOptions configures one MQTT.js client (mqttclient.js). CA, Cert
// and Key are PEM file paths; without Cert and Key it offers no client
// certificate.
type MQTTOptions struct {
	ClientID        string       `json:"clientId"`
	ProtocolVersion int          `json:"protocolVersion,omitempty"` // 4 (default) or 5
	CA              string       `json:"ca"`
	Cert            string       `json:"cert,omitempty"`
	Key             string       `json:"key,omitempty"`
	Subscribe       string       `json:"subscribe,omitempty"` // a filter, subscribed at QoS 1 after CONNACK
	Publish         *MQTTMessage `json:"publish,omitempty"`   // published at QoS 1 after the SUBACK
}

// MQTTMessage is one message to publish.
type MQTTMessage struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload"`
}

// Line is one thing the client saw, as it printed it: Event is connect,
// suback, message, disconnect (a server DISCONNECT, MQTT 5), error or
// close.
type Line struct {
	Event      string `json:"event"`
	Topic      string `json:"topic"`
	Payload    string `json:"payload"`
	QoS        []int  `json:"qos"`
	ReasonCode int    `json:"reasonCode"`
	Message    string `json:"message"`
}

// MQTTClient is a running MQTT.js client.
type MQTTClient struct {
	lines chan Line
}

// StartMQTT runs an MQTT.js client against url (wss://host:port/path or
// mqtts://host:port) until the test ends; it reconnects never and exits
// after its first close.
func StartMQTT(t testing.TB, url string, opts MQTTOptions) *MQTTClient {
	t.Helper()
	script := filepath.Join(t.TempDir(), "mqttclient.js")
	if err := os.WriteFile(script, mqttClientJS, 0o644); err != nil {
		t.Fatalf("npmkit: %v", err)
	}
	arg, err := json.Marshal(opts)
	if err != nil {
		t.Fatalf("npmkit: %v", err)
	}
	cmd := Command(t, script, url, string(arg))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("npmkit: %v", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("npmkit: start MQTT.js: %v", err)
	}
	c := &MQTTClient{lines: make(chan Line, 100)}
	read := make(chan struct{})
	go func() {
		defer close(read)
		c.read(t, stdout)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-read
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("MQTT.js stderr:\n%s", stderr.String())
		}
	})
	return c
}

func (c *MQTTClient) read(t testing.TB, r io.Reader) {
	defer close(c.lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("MQTT.js printed %q: %v", sc.Text(), err)
			continue
		}
		c.lines <- l
	}
}

// Await returns the first line of the given event within timeout, and
// fails the test on an earlier line of one of the unexpected events (e.g.
// "close" while awaiting "message"), on exit or at the timeout.
func (c *MQTTClient) Await(t testing.TB, timeout time.Duration, event string, unexpected ...string) Line {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("MQTT.js exited before %q", event)
			}
			if l.Event == event {
				return l
			}
			for _, u := range unexpected {
				if l.Event == u {
					t.Fatalf("MQTT.js: %+v while awaiting %q", l, event)
				}
			}
		case <-deadline:
			t.Fatalf("MQTT.js: no %q within %s", event, timeout)
		}
	}
}

// Until returns every line up to and including the first of the given
// event, failing on exit or at the timeout.
func (c *MQTTClient) Until(t testing.TB, timeout time.Duration, event string) []Line {
	t.Helper()
	var seen []Line
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("MQTT.js exited before %q; saw %+v", event, seen)
			}
			seen = append(seen, l)
			if l.Event == event {
				return seen
			}
		case <-deadline:
			t.Fatalf("MQTT.js: no %q within %s; saw %+v", event, timeout, seen)
		}
	}
}
