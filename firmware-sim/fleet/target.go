package fleet

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/launch"
	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// connectTarget starts the server or checks the given one, and builds the
// operator client and the device trust root.
func (s *sim) connectTarget(ctx context.Context) error {
	t := s.cfg.Target
	if t.Start {
		srv, err := launch.Start(ctx, launch.Options{
			Binary: t.ServerBin,
			Args:   append([]string{"--log-level", "warn"}, t.ServerArgs...),
			Env:    t.ServerEnv,
			Log:    s.cfg.ServerLog,
		})
		if err != nil {
			return err
		}
		s.server = srv
		t.API, t.Broker, t.OpsURL, t.ServerPID = srv.API, srv.MQTT, srv.Ops, srv.PID
		t.CAFile, t.AdminCert, t.AdminKey = srv.CAFile(ca.RootCertFile), srv.CAFile(ca.AdminCertFile), srv.CAFile(ca.AdminKeyFile)
		s.log.Info("started fleetgate", "broker", srv.MQTT, "api", srv.API, "pid", srv.PID, "data", srv.DataDir)
	}
	s.api, s.broker, s.target = strings.TrimRight(t.API, "/"), t.Broker, t
	s.agentAPI = s.api
	u, err := url.Parse(s.api)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: API URL %q", ErrSetup, s.api)
	}
	// Only for a server on this machine: the agents reach the relay as
	// 127.0.0.1, which only a local server's certificate names.
	if ip := net.ParseIP(u.Hostname()); s.cfg.APIIdleClose > 0 && ip != nil && ip.IsLoopback() {
		r, err := startRelay(u.Host, s.cfg.APIIdleClose)
		if err != nil {
			return fmt.Errorf("%w: provisioning relay: %w", ErrSetup, err)
		}
		s.cleanups = append(s.cleanups, r.close)
		// The certificate names the API's host; the relay listens on
		// 127.0.0.1, which the server certificate of a local server names.
		u.Host = r.addr()
		s.agentAPI = u.String()
	}
	pemBytes, err := os.ReadFile(t.CAFile)
	if err != nil {
		return fmt.Errorf("%w: root CA: %w", ErrSetup, err)
	}
	s.roots = x509.NewCertPool()
	if !s.roots.AppendCertsFromPEM(pemBytes) {
		return fmt.Errorf("%w: %s holds no PEM certificate", ErrSetup, t.CAFile)
	}
	tlsCfg, err := client.LoadTLS(t.AdminCert, t.AdminKey, t.CAFile)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	s.admin = client.New(s.api, tlsCfg)
	return nil
}

// createTokens makes n tokens, in batches of TokenBatch per call, in
// group, which it makes allow tokens.
func (s *sim) createTokens(ctx context.Context, group string, n int) ([]string, error) {
	if n == 0 {
		return nil, nil
	}
	if _, err := s.admin.PutGroup(ctx, group, wire.GroupRequest{AllowTokens: true}); err != nil {
		return nil, fmt.Errorf("%w: group %s: %w", ErrSetup, group, err)
	}
	tokens := make([]string, 0, n)
	for len(tokens) < n {
		batch := min(s.cfg.TokenBatch, n-len(tokens))
		out, err := s.admin.CreateTokens(ctx, wire.CreateTokensRequest{Group: group, Count: batch, TTL: "24h"})
		if err != nil {
			return nil, fmt.Errorf("%w: tokens (%d of %d made): %w", ErrSetup, len(tokens), n, err)
		}
		tokens = append(tokens, out.Tokens...)
	}
	return tokens, nil
}

// brokerRSS reads the server's resident memory from /proc when its pid
// is known, else from the ops endpoint's process_resident_memory_bytes.
func (s *sim) brokerRSS(ctx context.Context) (uint64, string) {
	if s.target.ServerPID != 0 {
		if v, err := host.RSS(s.target.ServerPID); err == nil {
			return v, "proc"
		}
	}
	if s.target.OpsURL == "" {
		return 0, ""
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(s.target.OpsURL, "/")+"/metrics", nil)
	if err != nil {
		return 0, ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return uint64(f), "metrics"
			}
		}
	}
	return 0, ""
}
