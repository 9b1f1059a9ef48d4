package agent

import "testing"

// TestEnrolmentClosesItsConnection: once enrolled, the agent closes its
// connection to the provisioning service instead of keeping it idle; the
// next call (a rotation) is much later and uses another client.
func TestEnrolmentClosesItsConnection(t *testing.T) {
	srv := newServer(t)
	api := newProxy(t, srv.apiURL[len("https://"):])
	ev := newEvents()
	cfg := softwareConfig(t, srv, "enrol-close-1", srv.token("boards"), ev)
	cfg.ProvisioningURL = "https://" + api.addr()
	start(t, cfg)
	await(t, ev.enrolled, "enrolment")
	n := api.connections()
	if n == 0 {
		t.Fatal("enrolled without a connection through the proxy")
	}
	for range n {
		await(t, api.clientClosed, "the agent closing its provisioning connection")
	}
	await(t, ev.connected, "connection to the broker")
}
