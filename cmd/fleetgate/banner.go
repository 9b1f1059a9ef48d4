package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/server"
)

// printBanner tells the person who started the server where it serves and
// what to do next. Tests and tools parse its address lines: keep them.
func printBanner(out io.Writer, cfg server.Config, at server.Endpoints) {
	caDir := cfg.CADir()
	if cfg.BundleDir != "" {
		caDir = cfg.BundleDir // a broker bundle: the root, and no operator credentials
	}
	fmt.Fprintf(out, `fleetgate is running (role %s)
  MQTT (mTLS):       %s
  MQTT (WSS):        %s
  API (HTTPS):       %s
  ops (metrics):     %s
  revocation (HTTP): %s
  registry:          %s
  data directory:    %s
  server trust root: %s
  operator cert:     %s (key %s)

Next: register a device and issue its certificate from another terminal:
  ./bin/fleetgate device register dev-001
  ./bin/fleetgate cert issue dev-001 --new-key dev-001.key --out dev-001.crt
then publish with:
  mosquitto_pub -h localhost -p %s --cafile %s --cert dev-001.crt --key dev-001.key -i dev-001 -t devices/dev-001/hello -m hi
`, cfg.Role, at.MQTT, at.WSS, at.API, at.Ops, at.Revocation, at.Registry, cfg.DataDir,
		filepath.Join(caDir, ca.RootCertFile), filepath.Join(caDir, ca.AdminCertFile), filepath.Join(caDir, ca.AdminKeyFile),
		portOf(at.MQTT), filepath.Join(caDir, ca.RootCertFile))
}

func portOf(a string) string {
	_, p, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	return p
}
