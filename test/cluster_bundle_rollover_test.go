package test

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/cli"
)

// connectTrusting runs one handshake and CONNECT against broker b as id,
// the device verifying the broker with root alone, and returns the
// CONNACK code (0: admitted).
func connectTrusting(b *server, root *x509.Certificate, cert tls.Certificate, id string) (byte, error) {
	roots := x509.NewCertPool()
	roots.AddCert(root)
	c, code, err := openTrusting(b, roots, cert, id)
	if c != nil {
		c.Close()
	}
	return code, err
}

// admittedTrusting fails t unless broker b admits cert as id, the device
// verifying the broker with root alone.
func admittedTrusting(t *testing.T, b *server, root *x509.Certificate, cert tls.Certificate, id string) {
	t.Helper()
	if code, err := connectTrusting(b, root, cert, id); err != nil || code != 0 {
		t.Fatalf("broker on %s refused %s (device trusting root %s): CONNACK %d, %v", b.MQTT, id, ca.SerialHex(root), code, err)
	}
}

// refusedTrusting fails t if broker b admits cert as id, the device
// verifying the broker with root alone.
func refusedTrusting(t *testing.T, b *server, root *x509.Certificate, cert tls.Certificate, id string) {
	t.Helper()
	if code, err := connectTrusting(b, root, cert, id); err == nil && code == 0 {
		t.Fatalf("broker on %s admitted %s (device trusting root %s)", b.MQTT, id, ca.SerialHex(root))
	}
}

// A broker host on a bundle follows a root rollover: a bundle refreshed
// after `root-rollover begin` admits devices under the old root and under
// the new one, each verifying the broker with the one root it holds;
// `finish` refuses while the device under the old root is active, and
// with --force goes ahead; a bundle refreshed after it keeps admitting
// devices under the new root and no longer those under the old.
func TestClusterBundleBrokerRootRollover(t *testing.T) {
	f := startFleetAPI(t)
	b := f.startBundleBroker(t)
	root1 := certChain(t, f.api.CAFile(ca.RootCertFile))[0]
	old, _, _ := f.device(t, "roll-old")
	admittedTrusting(t, b, root1, old, "roll-old")

	f.api.caCmd(t, "root-rollover", "begin")
	f.api.reloadVia(t, true)
	root2 := certChain(t, f.api.CAFile(ca.RootCertFile))[0]
	fresh, certFile, _ := f.device(t, "roll-new")
	if inter := certChain(t, certFile)[1]; inter.CheckSignatureFrom(root2) != nil {
		t.Fatalf("the API issued roll-new from intermediate %s, not under the new root", ca.SerialHex(inter))
	}
	// The bundle written before the rollover knows no intermediate under
	// root 2.
	refusedTrusting(t, b, root1, fresh, "roll-new")

	f.refreshBundle(t, b)
	b.reloadVia(t, true, "root "+ca.SerialHex(root1)+" -> "+ca.SerialHex(root2))
	admittedTrusting(t, b, root1, old, "roll-old")
	admittedTrusting(t, b, root1, fresh, "roll-new") // a device that has not learned root 2 yet
	admittedTrusting(t, b, root2, fresh, "roll-new")
	admittedTrusting(t, b, root2, old, "roll-old")

	// roll-old is still active under root 1: finish, asking the API,
	// refuses and names it; --force retires root 1 anyway.
	finish := []string{"ca", "root-rollover", "finish", "--data", f.api.DataDir}
	out, errOut, code := f.api.Ctl(finish...)
	if code != cli.ExitConflict || !strings.Contains(errOut, "1 active certificate") || !strings.Contains(errOut, "roll-old") {
		t.Fatalf("finish with roll-old under root 1: exit %d, want %d\nstdout: %s\nstderr: %s", code, cli.ExitConflict, out, errOut)
	}
	f.api.caCmd(t, "root-rollover", "finish", "--force")
	f.api.reloadVia(t, true)
	f.refreshBundle(t, b)
	b.reloadVia(t, true, "previous root retired "+ca.SerialHex(root1))
	admittedTrusting(t, b, root2, fresh, "roll-new")
	refusedTrusting(t, b, root2, old, "roll-old")
}
