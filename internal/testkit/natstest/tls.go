package natstest

import (
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
)

// StartTLS starts one nats-server with JetStream that speaks TLS only and
// requires a client certificate signed by the returned files' CA (the
// layout etcdtest uses: CA, server and client certificate and key). Its
// URL is tls://127.0.0.1:PORT.
func StartTLS(t testing.TB) (*Server, *etcdtest.TLSFiles) {
	t.Helper()
	bin := lookup(t)
	files, err := etcdtest.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatalf("natstest: TLS files: %v", err)
	}
	s := newServer(t, bin, "fg-tls", t.TempDir(), []string{"--tlsverify",
		"--tlscert", files.ServerCert, "--tlskey", files.ServerKey, "--tlscacert", files.CA})
	s.URL = strings.Replace(s.URL, "nats://", "tls://", 1)
	s.start(t)
	s.waitHealthy(t)
	return s, files
}
