package agent_test

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/fleetgate/fleetgate/device-agent/agent"
)

// A configuration is checked as a whole before anything starts.
func ExampleConfig_Validate() {
	cfg := agent.DefaultConfig()
	cfg.DeviceID = "pump-17"
	cfg.ProvisioningURL = "https://fleet.example:8443"
	cfg.Broker = "fleet.example:8883"
	cfg.CAFile = "/etc/device-agent/ca.pem"
	cfg.KeySource = agent.KeyTPM
	fmt.Println(cfg.Validate())

	cfg.KeySource = "hsm"
	fmt.Println(errors.Is(cfg.Validate(), agent.ErrConfig))
	// Output:
	// <nil>
	// true
}

// Publish queues messages before the session is up; the agent sends them
// once connected and keeps QoS 1 ones until the broker acknowledges them.
func ExampleAgent_Publish() {
	cfg := agent.DefaultConfig()
	cfg.DeviceID, cfg.ProvisioningURL, cfg.Broker = "pump-17", "https://fleet.example:8443", "fleet.example:8883"
	cfg.RootCAs, cfg.KeySource = x509.NewCertPool(), agent.KeySoftware
	a, err := agent.New(cfg)
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Publish("telemetry/flow", 1, []byte(`{"l_min": 12.5}`)), a.Queued())
	fmt.Println(errors.Is(a.Publish("telemetry/#", 1, nil), agent.ErrTopic))
	// Output:
	// <nil> 1
	// true
}
