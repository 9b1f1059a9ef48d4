package test

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/bins"
	"github.com/fleetgate/fleetgate/internal/testkit/fleetserver"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// bundleNames are the names the broker hosts' certificates are issued
// for: the tests dial 127.0.0.1.
var bundleNames = []string{"--name", "127.0.0.1", "--name", "localhost"}

// startBundleBroker starts a broker host as an operator would: the CA host
// writes its bundle with `fleetgate ca broker-bundle`, and the broker
// starts from it in a data directory of its own, reloading on SIGHUP
// only. The bundle is <data>/ca, where the test helpers look for the root.
func (f *fleet) startBundleBroker(t *testing.T) *server {
	t.Helper()
	data := t.TempDir()
	bundle := filepath.Join(data, "ca")
	f.api.caCmd(t, append([]string{"broker-bundle", "--out", bundle}, bundleNames...)...)
	return f.startBroker(t, data, "--bundle", bundle, "--reload-interval", "0s")
}

// refreshBundle writes a new bundle for broker b over its old one, as
// copying a fresh bundle to the broker host would, and returns the
// command's output.
func (f *fleet) refreshBundle(t *testing.T, b *server) string {
	t.Helper()
	return f.api.caCmd(t, append([]string{"broker-bundle", "--out", filepath.Dir(b.CAFile(ca.RootCertFile))}, bundleNames...)...)
}

// onlyServerKey fails t unless the one private key in any file under the
// broker's data directory is its server key.
func onlyServerKey(t *testing.T, b *server) {
	t.Helper()
	serverKey, err := os.ReadFile(b.CAFile(ca.ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := pem.Decode(serverKey)
	if want == nil || want.Type != "PRIVATE KEY" {
		t.Fatalf("%s holds no PEM private key", b.CAFile(ca.ServerKeyFile))
	}
	var keys int
	err = filepath.WalkDir(b.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mentions := strings.Count(string(data), "PRIVATE KEY-----") / 2
		var blocks int
		for rest := data; ; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			if strings.Contains(block.Type, "PRIVATE KEY") {
				blocks++
				if !bytes.Equal(block.Bytes, want.Bytes) {
					t.Errorf("%s holds a private key other than the server key (%s)", path, block.Type)
				}
			}
		}
		if mentions != blocks {
			t.Errorf("%s mentions %d private keys, %d of them readable PEM", path, mentions, blocks)
		}
		keys += blocks
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if keys != 1 {
		t.Errorf("%d private keys under %s, want the server key once", keys, b.DataDir)
	}
}

// admitted fails t unless broker b admits cert as id.
func (f *fleet) admitted(t *testing.T, b *server, cert tls.Certificate, id string) {
	t.Helper()
	if code, err := f.connect(b, cert, id); err != nil || code != 0 {
		t.Fatalf("broker on %s refused %s: CONNACK %d, %v", b.MQTT, id, code, err)
	}
}

// refused fails t if broker b admits cert as id.
func (f *fleet) refused(t *testing.T, b *server, cert tls.Certificate, id string) {
	t.Helper()
	if code, err := f.connect(b, cert, id); err == nil && code == 0 {
		t.Fatalf("broker on %s admitted %s", b.MQTT, id)
	}
}

// Broker hosts started from bundles hold no CA key, and still do all a
// broker does over the etcd registry: admit registered devices, refuse
// unregistered and foreign ones, drop revoked ones, and take a new server
// certificate and a new intermediate from a refreshed bundle on SIGHUP,
// keeping the old bundle when the new one is broken.
func TestClusterBrokersFromBundles(t *testing.T) {
	needTool(t, "mosquitto_sub")
	f := startFleetAPI(t)
	for range 2 {
		f.brokers = append(f.brokers, f.startBundleBroker(t))
	}
	for _, b := range f.brokers {
		onlyServerKey(t, b)
		if b.Logs.Count("msg=\"loaded the broker bundle\"") != 1 || b.Logs.Count("CA private keys on a broker host") != 0 {
			t.Fatalf("broker on %s did not say it runs from its bundle, or warned about CA keys:\n%s", b.MQTT, b.Logs.String())
		}
	}

	good, _, _ := f.device(t, "bundle-ok")
	deviceCA := pki.LoadCA(t, f.api.CAFile(ca.DeviceCACertFile), f.api.CAFile(ca.DeviceCAKeyFile))
	for _, b := range f.brokers {
		f.admitted(t, b, good, "bundle-ok")
		f.refused(t, b, pki.Foreign(t).Device(t, "bundle-foreign", nil), "bundle-foreign")
		// Signed by the fleet's own intermediate, but never registered.
		f.refused(t, b, deviceCA.Device(t, "bundle-ghost", nil), "bundle-ghost")
	}

	t.Run("ok/revoked devices are dropped", func(t *testing.T) {
		var subs []*sub
		var certs []tls.Certificate
		for i, b := range f.brokers {
			id := "bundle-victim-" + string(rune('a'+i))
			pair, certFile, keyFile := f.device(t, id)
			m := b.forTest(t).startSub(t, id, certFile, keyFile, "-t", "devices/"+id+"/#")
			m.waitFor(t, "SUBACK")
			subs, certs = append(subs, m), append(certs, pair)
		}
		for i, m := range subs {
			id := "bundle-victim-" + string(rune('a'+i))
			f.api.MustCtl("device", "revoke", id, "--reason", "stolen")
			m.waitExit(t, 10*time.Second)
			f.refused(t, f.brokers[i], certs[i], id)
		}
	})

	t.Run("ok/a new server certificate on reload", func(t *testing.T) {
		b, other := f.brokers[0].forTest(t), f.brokers[1].forTest(t)
		before, otherBefore := b.serverSerial(t, b.MQTT, &good), other.serverSerial(t, other.MQTT, &good)
		after := serialIn(t, f.refreshBundle(t, b), "server certificate")
		if after == before {
			t.Fatalf("the refreshed bundle kept server certificate %s", before)
		}
		b.reloadVia(t, true, "server certificate "+before+" -> "+after)
		if got := b.serverSerial(t, b.MQTT, &good); got != after {
			t.Fatalf("broker serves server certificate %s after the reload, want %s", got, after)
		}
		if got := other.serverSerial(t, other.MQTT, &good); got != otherBefore {
			t.Fatalf("the other broker host changed certificate %s -> %s", otherBefore, got)
		}
		f.admitted(t, b, good, "bundle-ok")
	})

	t.Run("ok/a new intermediate on reload", func(t *testing.T) {
		b, other := f.brokers[0].forTest(t), f.brokers[1].forTest(t)
		out := f.api.caCmd(t, "rotate-intermediate")
		fresh, old := serialIn(t, out, "new issuing intermediate"), serialIn(t, out, "old intermediate, now trusted only")
		f.api.reloadVia(t, true)
		newDevice, certFile, _ := f.device(t, "bundle-new")
		if got := issuerSerial(t, certFile); got != fresh {
			t.Fatalf("the API issued from intermediate %s after the rotation, want %s", got, fresh)
		}
		// A broker host whose bundle predates the rotation cannot verify it.
		f.refused(t, other, newDevice, "bundle-new")

		f.refreshBundle(t, b)
		b.reloadVia(t, true, "issuing intermediate "+old+" -> "+fresh, "trusted intermediate added "+old)
		f.admitted(t, b, newDevice, "bundle-new")
		f.admitted(t, b, good, "bundle-ok") // from the old intermediate
	})

	t.Run("error/a broken bundle keeps the old one", func(t *testing.T) {
		b := f.brokers[0].forTest(t)
		dir := filepath.Dir(b.CAFile(ca.RootCertFile))
		saved, err := os.ReadFile(filepath.Join(dir, ca.BundleDeviceCAsFile))
		if err != nil {
			t.Fatal(err)
		}
		failed := []string{"reload failed; keeping the previous CA material", "trigger=sighup", ca.BundleDeviceCAsFile}
		n := b.Logs.Count(failed...)
		replaceAtomically(t, dir, ca.BundleDeviceCAsFile, saved[:100])
		b.hup(t)
		b.awaitLog(t, n+1, failed...)
		f.admitted(t, b, good, "bundle-ok")
		replaceAtomically(t, dir, ca.BundleDeviceCAsFile, saved)
		b.reloadVia(t, true)
	})

	for _, b := range f.brokers {
		onlyServerKey(t, b)
	}
}

// A broker started on a CA directory, as before bundles, still serves,
// and warns that it holds CA keys it does not need.
func TestClusterBrokerWithCAKeysWarns(t *testing.T) {
	f := startFleet(t, 1)
	b := f.brokers[0]
	if b.Logs.Count("CA private keys on a broker host are not needed", "device-ca.key") != 1 {
		t.Fatalf("no warning about the CA keys:\n%s", b.Logs.String())
	}
	good, _, _ := f.device(t, "legacy-ok")
	f.admitted(t, b, good, "legacy-ok")

	// Pointed at an empty bundle directory, a broker says what is missing
	// and creates no CA, there or in its data directory.
	data, empty := t.TempDir(), t.TempDir()
	_, errOut, code := fleetserver.Run(t, bins.Fleetgate(t), "serve", "--role", "broker", "--registry", f.registry,
		"--data", data, "--bundle", empty, "--mqtt-addr", "127.0.0.1:0", "--ops-addr", "")
	if code == 0 || !strings.Contains(errOut, "broker bundle") || !strings.Contains(errOut, "fleetgate ca broker-bundle") {
		t.Fatalf("broker on an empty bundle: exit %d\n%s", code, errOut)
	}
	for _, dir := range []string{empty, filepath.Join(data, "ca")} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s holds %d files after the refused start, want none", dir, len(entries))
		}
	}
}
