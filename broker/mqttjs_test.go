package broker

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/npmkit"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// jsLine is one line MQTT.js printed (testdata/mqttjs/client.js).
type jsLine struct {
	Event      string `json:"event"`
	Topic      string `json:"topic"`
	Payload    string `json:"payload"`
	QoS        []int  `json:"qos"`
	ReasonCode int    `json:"reasonCode"`
	Message    string `json:"message"`
	Code       any    `json:"code"`
}

// jsOptions is the JSON the script takes.
type jsOptions struct {
	ClientID        string `json:"clientId"`
	ProtocolVersion int    `json:"protocolVersion,omitempty"`
	CA              string `json:"ca"`
	Cert            string `json:"cert,omitempty"`
	Key             string `json:"key,omitempty"`
	Subscribe       string `json:"subscribe,omitempty"`
	Publish         *struct {
		Topic   string `json:"topic"`
		Payload string `json:"payload"`
	} `json:"publish,omitempty"`
}

// mqttJS is a running MQTT.js client and the lines it prints.
type mqttJS struct {
	cmd   *exec.Cmd
	lines chan jsLine
}

// startMQTTJS runs MQTT.js against the fixture's WSS listener with cert
// (nil: none) and opts.
func (f *fixture) startMQTTJS(cert *tls.Certificate, opts jsOptions) *mqttJS {
	f.t.Helper()
	dir := f.t.TempDir()
	opts.CA = filepath.Join(f.caDir, ca.RootCertFile)
	if cert != nil {
		opts.Cert, opts.Key = pki.WriteTLS(f.t, dir, "device", *cert)
	}
	arg, err := json.Marshal(opts)
	if err != nil {
		f.t.Fatal(err)
	}
	url := "wss://127.0.0.1:" + f.wssPort + WSSPath
	cmd := npmkit.Command(f.t, filepath.Join("testdata", "mqttjs", "client.js"), url, string(arg))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	js := &mqttJS{cmd: cmd, lines: make(chan jsLine, 100)}
	go js.read(f.t, stdout)
	f.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if f.t.Failed() && stderr.Len() > 0 {
			f.t.Logf("MQTT.js stderr:\n%s", stderr.String())
		}
	})
	return js
}

func (js *mqttJS) read(t *testing.T, r io.Reader) {
	defer close(js.lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var l jsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("MQTT.js printed %q: %v", sc.Text(), err)
			continue
		}
		js.lines <- l
	}
}

// await returns the first line with the given event, failing on an
// earlier line of an event in unexpected (e.g. "close" while waiting for
// "message").
func (js *mqttJS) await(t *testing.T, event string, unexpected ...string) jsLine {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case l, ok := <-js.lines:
			if !ok {
				t.Fatalf("MQTT.js exited before %q", event)
			}
			if l.Event == event {
				return l
			}
			for _, u := range unexpected {
				if l.Event == u {
					t.Fatalf("MQTT.js: %+v while waiting for %q", l, event)
				}
			}
		case <-deadline:
			t.Fatalf("MQTT.js: no %q within %s", event, wait)
		}
	}
}
