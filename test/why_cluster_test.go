package test

import (
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// TestClusterWhy: two broker processes and an API process on one etcd
// registry. A device refused by broker B, and then by broker A for
// another reason, is diagnosed by the API, which saw neither refusal:
// the refusal log travels through the registry.
func TestClusterWhy(t *testing.T) {
	ec := etcdtest.Start(t, 1)
	f := &fleet{etcd: ec, registry: "etcd://" + strings.Join(ec.Endpoints(), ",") + "/why-test"}
	f.api = startServer(t, t.TempDir(), "--registry", f.registry, "--role", "api")
	f.roots = pki.ReadPool(t, f.api.CAFile("root.crt"))
	a, b := f.startBroker(t, f.api.DataDir), f.startBroker(t, f.api.DataDir)

	cert, _, _ := f.device(t, "valve-1")
	if code, err := f.connect(b, cert, "valve-2"); code != 0x05 {
		t.Fatalf("broker B: CONNECT as valve-2 with valve-1's certificate: code %#x, err %v; want 5 (not authorized)", code, err)
	}
	d := awaitDiagnosis(t, f.api, "valve-1", func(d wire.Diagnosis) bool {
		return len(d.Refusals) == 1 && strings.HasSuffix(d.Refusals[0].Broker, b.MQTT)
	})
	if d.Refusals[0].Check != "client_id_mismatch" || !strings.Contains(d.Summary, `client ID "valve-2"`) {
		t.Fatalf("diagnosis after broker B's refusal: %+v", d)
	}

	f.api.MustCtl("device", "suspend", "valve-1", "--reason", "maintenance")
	if code, err := f.connect(a, cert, "valve-1"); code != 0x05 {
		t.Fatalf("broker A: CONNECT of the suspended valve-1: code %#x, err %v; want 5 (not authorized)", code, err)
	}
	d = awaitDiagnosis(t, f.api, "valve-1", func(d wire.Diagnosis) bool { return len(d.Refusals) == 2 })
	if !strings.HasSuffix(d.Refusals[0].Broker, a.MQTT) || d.Refusals[0].Check != "device_suspended" ||
		!strings.HasSuffix(d.Refusals[1].Broker, b.MQTT) || !strings.Contains(d.Summary, `reason "maintenance"`) {
		t.Fatalf("diagnosis after both brokers' refusals: %+v", d)
	}
}

// awaitDiagnosis polls the API's diagnosis of id until ok accepts it.
func awaitDiagnosis(t *testing.T, api *server, id string, ok func(wire.Diagnosis) bool) wire.Diagnosis {
	t.Helper()
	admin := adminClient(t, api)
	defer admin.CloseIdleConnections()
	var d wire.Diagnosis
	awaitUntil(t, func() bool {
		var err error
		if d, err = admin.Why(t.Context(), id); err != nil {
			t.Fatalf("GET why %s: %v", id, err)
		}
		return ok(d)
	}, func() string { return "the diagnosis of " + id + "; last: " + d.Summary })
	return d
}
