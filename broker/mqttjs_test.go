package broker

import (
	"crypto/tls"
	"path/filepath"

	"github.com/fleetgate/fleetgate/internal/testkit/npmkit"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// startMQTTJS runs MQTT.js against the fixture's WSS listener with cert
// (nil: none) and opts, trusting the fixture's root.
func (f *fixture) startMQTTJS(cert *tls.Certificate, opts npmkit.MQTTOptions) *npmkit.MQTTClient {
	f.t.Helper()
	opts.CA = filepath.Join(f.caDir, ca.RootCertFile)
	if cert != nil {
		opts.Cert, opts.Key = pki.WriteTLS(f.t, f.t.TempDir(), "device", *cert)
	}
	return npmkit.StartMQTT(f.t, "wss://127.0.0.1:"+f.wssPort+WSSPath, opts)
}
