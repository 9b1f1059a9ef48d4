package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/agent"
	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// fleet is a scaled-out deployment on loopback: a 3-member etcd cluster,
// one provisioning (API) process and several broker processes, all on one
// registry.
type fleet struct {
	etcd     *etcdtest.Cluster
	registry string
	api      *server
	brokers  []*server
	roots    *x509.CertPool
}

func startFleet(t testing.TB, brokers int) *fleet {
	t.Helper()
	f := startFleetAPI(t)
	// The API process created the CA; the brokers share its directory (on
	// separate hosts: a copy of it).
	for range brokers {
		f.brokers = append(f.brokers, f.startBroker(t, f.api.DataDir))
	}
	return f
}

// startFleetAPI starts the etcd cluster and the API process, which creates
// the CA, and no broker.
func startFleetAPI(t testing.TB) *fleet {
	t.Helper()
	ec := etcdtest.Start(t, 3)
	f := &fleet{etcd: ec, registry: "etcd://" + strings.Join(ec.Endpoints(), ",") + "/fleet-test"}
	f.api = startServer(t, t.TempDir(), "--registry", f.registry, "--role", "api")
	f.roots = pki.ReadPool(t, f.api.CAFile("root.crt"))
	return f
}

// startBroker starts a broker process on the fleet's registry in dataDir,
// with extra flags.
func (f *fleet) startBroker(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	return startServer(t, dataDir, append([]string{"--registry", f.registry, "--role", "broker", "--registry-grace", "30s"}, extra...)...)
}

// device registers a device through the API process and loads its
// certificate.
func (f *fleet) device(t *testing.T, id string, registerArgs ...string) (tls.Certificate, string, string) {
	t.Helper()
	api := f.api.forTest(t)
	certFile, keyFile := api.Device(id, registerArgs...)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certFile, keyFile
}

// tokens creates n enrollment tokens of the group "boards" (made to allow
// tokens) through the API process.
func (f *fleet) tokens(t *testing.T, n int) []string {
	t.Helper()
	api := f.api.forTest(t)
	api.MustCtl("group", "put", "boards", "--allow-tokens")
	out := filepath.Join(t.TempDir(), "tokens")
	api.MustCtl("token", "create", "--group", "boards", "--count", strconv.Itoa(n), "--out", out)
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(raw))
}

// open runs one TLS handshake and CONNECT against a broker and returns the
// connection, still open unless nil, and the CONNACK code (0: admitted).
func (f *fleet) open(b *server, cert tls.Certificate, id string) (*mqttConn, byte, error) {
	return openTrusting(b, f.roots, cert, id)
}

// openTrusting is open for a device that verifies the broker with roots.
func openTrusting(b *server, roots *x509.CertPool, cert tls.Certificate, id string) (*mqttConn, byte, error) {
	return connectMQTT(b.MQTT, deviceTLS(roots, cert), id)
}

// deviceTLS is a device's TLS configuration: cert, and roots to verify
// the broker.
func deviceTLS(roots *x509.CertPool, cert tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: roots, ServerName: "127.0.0.1",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}
}

// connect is open followed by closing the connection.
func (f *fleet) connect(b *server, cert tls.Certificate, id string) (byte, error) {
	c, code, err := f.open(b, cert, id)
	if c != nil {
		c.Close()
	}
	return code, err
}

var dropDelay = regexp.MustCompile(`msg="device disconnected".* device=(\S+) .*delay_ms=([0-9.]+)`)

// dropDelays returns the revocation delays a broker logged for a device.
func dropDelays(s *server, device string) []float64 {
	var out []float64
	for _, m := range dropDelay.FindAllStringSubmatch(s.Logs.String(), -1) {
		if m[1] == device {
			v, _ := strconv.ParseFloat(m[2], 64)
			out = append(out, v)
		}
	}
	return out
}

// Revocations made through the API process reach every broker: each
// drops its revoked device within a second and every broker refuses every
// revoked device after.
func TestClusterRevocationReachesEveryBroker(t *testing.T) {
	needTool(t, "mosquitto_sub")
	f := startFleet(t, 3)
	certs := make([]tls.Certificate, len(f.brokers))
	var subs []*sub
	for i, b := range f.brokers {
		id := fmt.Sprintf("fan-%d", i)
		var certFile, keyFile string
		certs[i], certFile, keyFile = f.device(t, id)
		m := b.startSub(t, id, certFile, keyFile, "-t", "devices/"+id+"/#")
		m.waitFor(t, "SUBACK")
		subs = append(subs, m)
	}
	_, otherCert, otherKey := f.device(t, "bystander")
	bystander := f.brokers[0].startSub(t, "bystander", otherCert, otherKey, "-t", "devices/bystander/#")
	bystander.waitFor(t, "SUBACK")

	for i := range f.brokers {
		f.api.MustCtl("device", "revoke", fmt.Sprintf("fan-%d", i), "--reason", "stolen")
	}
	for i, m := range subs {
		id := fmt.Sprintf("fan-%d", i)
		m.waitExit(t, 10*time.Second)
		deadline := time.Now().Add(10 * time.Second)
		var delays []float64
		for delays == nil {
			if time.Now().After(deadline) {
				t.Fatalf("broker %d logged no drop of %s:\n%s", i, id, f.brokers[i].Logs.String())
			}
			if delays = dropDelays(f.brokers[i], id); delays == nil {
				time.Sleep(10 * time.Millisecond) // the log line follows the close
			}
		}
		if delays[0] >= 1000 {
			t.Errorf("broker %d dropped %s %.1f ms after the revocation (want < 1 s)", i, id, delays[0])
		}
		t.Logf("broker %d: revocation to disconnect %.1f ms", i, delays[0])
		for j, b := range f.brokers {
			if code, err := f.connect(b, certs[i], id); err == nil && code == 0 {
				t.Errorf("broker %d admitted %s after its revocation", j, id)
			}
		}
	}
	// The other device's session is untouched.
	select {
	case <-bystander.exited:
		t.Errorf("bystander was disconnected too:\n%s", bystander.output())
	default:
	}
}

// Killing an etcd member (the leader) under connect load refuses no
// registered device, and a revocation made meanwhile reaches every broker.
func TestClusterEtcdMemberKilledUnderLoad(t *testing.T) {
	f := startFleet(t, 2)
	const devices = 12
	certs := make([]tls.Certificate, devices)
	for i := range certs {
		certs[i], _, _ = f.device(t, fmt.Sprintf("load-%02d", i))
	}
	victim, _, _ := f.device(t, "victim")

	var admitted, refused atomic.Int64
	var mu sync.Mutex
	var wrong []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; ; n += 4 {
				select {
				case <-stop:
					return
				default:
				}
				i, b := n%devices, f.brokers[n%len(f.brokers)]
				code, err := f.connect(b, certs[i], fmt.Sprintf("load-%02d", i))
				if err != nil || code != 0 {
					refused.Add(1)
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("load-%02d on broker :%s: code %d, %v", i, b.MQTTPort(), code, err))
					mu.Unlock()
					continue
				}
				admitted.Add(1)
			}
		}()
	}
	awaitCount := func(what string, n int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for admitted.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: only %d connects admitted", what, admitted.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	awaitCount("before the kill", 50)
	leader := f.etcd.Leader()
	f.etcd.Kill(leader)
	t.Logf("killed etcd member %d (the leader) after %d connects", leader, admitted.Load())
	start := admitted.Load()
	awaitCount("after the kill", start+100)

	// A revocation through the API process while a member is down.
	f.api.MustCtl("device", "revoke", "victim", "--reason", "compromised")
	for i, b := range f.brokers {
		deadline := time.Now().Add(5 * time.Second)
		for {
			code, err := f.connect(b, victim, "victim")
			if err == nil && code != 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d still admits the revoked device (code %d, %v)", i, code, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	awaitCount("after the revocation", admitted.Load()+100)
	f.etcd.Restart(leader)
	awaitCount("after the restart", admitted.Load()+50)
	close(stop)
	wg.Wait()
	if refused.Load() > 0 {
		t.Errorf("%d connects of registered devices refused, e.g. %v", refused.Load(), wrong[:min(5, len(wrong))])
	}
	for i, b := range f.brokers {
		if code, err := f.connect(b, victim, "victim"); err == nil && code == 0 {
			t.Errorf("broker %d admitted the revoked device after the member came back", i)
		}
	}
	t.Logf("%d connects admitted across %d brokers, none refused", admitted.Load(), len(f.brokers))
}

// The device agent, given every broker's address, survives the death of the
// broker it is on: it reconnects to another one, which admits it from the
// shared registry, and a message it publishes afterwards arrives there.
func TestClusterAgentFailsOver(t *testing.T) {
	needTool(t, "mosquitto_sub")
	f := startFleet(t, 2)
	tok := f.tokens(t, 1)[0]
	_, obsCert, obsKey := f.device(t, "observer", "--subscribe", "devices/#")
	addr := func(s *server) string { return s.MQTT }

	cfg := agent.DefaultConfig()
	cfg.DeviceID, cfg.ProvisioningURL = "roamer", f.api.API
	cfg.Brokers = []string{addr(f.brokers[0]), addr(f.brokers[1])}
	cfg.RootCAs, cfg.KeySource, cfg.Token = f.roots, agent.KeySoftware, tok
	cfg.BackoffMin, cfg.BackoffMax = agent.Duration{Duration: 50 * time.Millisecond}, agent.Duration{Duration: time.Second}
	cfg.Rand = func() float64 { return 0 } // start on the first broker
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	onBroker := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for a.Broker() != want {
			if time.Now().After(deadline) {
				t.Fatalf("agent on %q, want %q", a.Broker(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	onBroker(addr(f.brokers[0]))
	watcher := f.brokers[1].startSub(t, "observer", obsCert, obsKey, "-t", "devices/roamer/#")
	watcher.waitFor(t, "SUBACK")

	if err := f.brokers[0].Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	<-f.brokers[0].Exited()
	onBroker(addr(f.brokers[1]))
	if err := a.Publish("after-failover", 1, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	watcher.waitFor(t, "still here")
}

// With the whole etcd cluster down, a broker keeps admitting registered
// devices and refusing revoked ones from its copy during the grace period,
// and says so in its log and metrics.
func TestClusterEtcdDownWithinGrace(t *testing.T) {
	f := startFleet(t, 1)
	b := f.brokers[0]
	good, _, _ := f.device(t, "steady")
	bad, _, _ := f.device(t, "lost")
	f.api.MustCtl("device", "revoke", "lost", "--reason", "stolen")
	deadline := time.Now().Add(10 * time.Second)
	for code, err := f.connect(b, bad, "lost"); err != nil || code == 0; code, err = f.connect(b, bad, "lost") {
		if time.Now().After(deadline) {
			t.Fatal("the broker never saw the revocation")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range 3 {
		f.etcd.Kill(i)
	}
	metric := func(name string) string {
		resp, err := http.Get(b.Ops + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		return ""
	}
	deadline = time.Now().Add(30 * time.Second)
	for metric("fleetgate_registry_reachable") != "0" {
		if time.Now().After(deadline) {
			t.Fatalf("fleetgate_registry_reachable = %q with etcd down", metric("fleetgate_registry_reachable"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, err := f.connect(b, good, "steady"); err != nil || code != 0 {
		t.Errorf("registered device refused within the grace period: code %d, %v", code, err)
	}
	if code, err := f.connect(b, bad, "lost"); err == nil && code == 0 {
		t.Error("revoked device admitted while etcd is down")
	}
	if v := metric("fleetgate_registry_past_grace"); v != "0" {
		t.Errorf("fleetgate_registry_past_grace = %q within the grace period", v)
	}
	if !strings.Contains(b.Logs.String(), "registry unreachable; judging devices from the local copy") {
		t.Errorf("no log line about the unreachable registry:\n%s", b.Logs.String())
	}
}

// Two provisioning processes on one etcd registry: one token presented to
// both at once enrolls one device, and the serials they issue never repeat.
func TestClusterProvisioningReplicas(t *testing.T) {
	f := startFleet(t, 1)
	second := startServer(t, f.api.DataDir, "--registry", f.registry, "--role", "api")
	apis := []*server{f.api, second}
	toks := f.tokens(t, 20)
	key := pki.Key(t)
	csr := pki.CSRPEM(t, key, "")

	serials := map[string]string{}
	for n, tok := range toks {
		var wg sync.WaitGroup
		type result struct {
			serial string
			err    error
		}
		results := make([]result, 6)
		for i := range results {
			c := enroll.New(apis[i%2].API, f.roots)
			wg.Add(1)
			go func() {
				defer wg.Done()
				issued, err := c.EnrollToken(context.Background(), wire.TokenRequest{Token: tok, DeviceID: fmt.Sprintf("twin-%02d-%d", n, i), CSR: csr})
				results[i] = result{issued.Serial, err}
			}()
		}
		wg.Wait()
		won := 0
		for i, r := range results {
			switch {
			case r.err == nil:
				won++
				if prev, dup := serials[r.serial]; dup {
					t.Errorf("serial %s issued twice (%s and token %d)", r.serial, prev, n)
				}
				serials[r.serial] = fmt.Sprintf("token %d", n)
			case !enroll.IsCode(r.err, wire.CodeTokenReplayed):
				t.Errorf("token %d, request %d: %v, want %s", n, i, r.err, wire.CodeTokenReplayed)
			}
		}
		if won != 1 {
			t.Fatalf("token %d enrolled %d devices", n, won)
		}
	}
}

// A device holds one session in the whole cluster: connecting to a second
// broker ends its session on the first, as a takeover on one broker would.
func TestClusterOneSessionPerDevice(t *testing.T) {
	f := startFleet(t, 2)
	cert, _, _ := f.device(t, "wanderer")
	cli := f.etcd.Client(t)
	claim := "/fleet-test/b/sessions/wanderer"
	open := func(b *server) (*mqttConn, int64) {
		t.Helper()
		before := int64(0)
		if resp, err := cli.Get(context.Background(), claim); err == nil && len(resp.Kvs) > 0 {
			before = resp.Kvs[0].ModRevision
		}
		c, code, err := f.open(b, cert, "wanderer")
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		if err != nil || code != 0 {
			t.Fatalf("connect: code %d, %v", code, err)
		}
		// The broker claims the session in the registry after CONNACK.
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := cli.Get(context.Background(), claim)
			if err == nil && len(resp.Kvs) > 0 && resp.Kvs[0].ModRevision > before {
				return c, resp.Kvs[0].ModRevision
			}
			if time.Now().After(deadline) {
				t.Fatalf("no session claim in the registry: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	first, _ := open(f.brokers[0])
	second, _ := open(f.brokers[1])
	// The first broker ends its session; the second keeps its own.
	ended := func(c *mqttConn, what string) {
		t.Helper()
		_, err := c.await(what, func(mqttwire.Packet) bool { return false })
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: still open after %s", what, attackWait)
		}
	}
	ended(first, "the first session")
	// The broker logs the drop after it closed the connection: await it.
	f.brokers[0].Logs.Await(t, attackWait, "reason=taken_over_elsewhere")
	if err := second.send(mqttwire.Pingreq); err != nil { // PINGREQ
		t.Fatal(err)
	}
	if p, err := second.next(); err != nil || p.Type != mqttwire.PINGRESP {
		t.Fatalf("second session after the takeover: packet %d, %v", p.Type, err)
	}
	// And back: connecting to the first broker again ends the second.
	third, _ := open(f.brokers[0])
	ended(second, "the second session")
	if err := third.send(mqttwire.Pingreq); err != nil {
		t.Fatal(err)
	}
	if p, err := third.next(); err != nil || p.Type != mqttwire.PINGRESP {
		t.Fatalf("third session: packet %d, %v", p.Type, err)
	}
}
