package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetgate/fleetgate/broker"
	"github.com/fleetgate/fleetgate/bus"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// startListeners starts what the role asks for: the broker, the API, and
// the ops listener when ops_addr is set. All of them share one metrics
// registry. The broker and the revocation counter stop when ctx ends.
func (s *Server) startListeners(ctx context.Context, authority *ca.CA) error {
	metricsReg := newMetricsRegistry()
	registerRegistryMetrics(metricsReg, s.db)
	s.at.WSS = "disabled"
	s.at.MQTT, s.at.API, s.at.Ops, s.at.Revocation = "not run (role api)", "not run (role broker)", "disabled", "disabled"
	if s.cfg.Role != RoleAPI {
		if err := s.startBroker(ctx, authority, metricsReg); err != nil {
			return err
		}
	}
	if s.cfg.Role != RoleBroker {
		if err := s.startAPI(authority, metricsReg); err != nil {
			return err
		}
	}
	if addr := s.cfg.RevocationListen(); addr != "" {
		if err := s.startRevocation(ctx, addr); err != nil {
			return fmt.Errorf("start revocation listener on %s: %w", addr, err)
		}
	}
	if s.cfg.OpsAddr != "" {
		if err := s.startOps(ctx, metricsReg); err != nil {
			return fmt.Errorf("start ops listener on %s: %w", s.cfg.OpsAddr, err)
		}
	}
	return nil
}

// startBroker starts the mTLS MQTT listener. Its server certificate comes
// from the reloader at every handshake, so a reload swaps it in.
func (s *Server) startBroker(ctx context.Context, authority *ca.CA, metricsReg *prometheus.Registry) error {
	cfg, rl := s.cfg, s.rl
	conn, err := dialBus(cfg, instanceID(), s.log.With("component", "bus"))
	if err != nil {
		return err
	}
	var b broker.Bus
	var rs broker.RetainedStore
	if conn != nil {
		s.bus, b, rs = conn, conn, bus.NewRetained(conn)
	}
	brk, err := broker.New(broker.Config{
		Bus:              b,
		Retained:         rs,
		Metrics:          broker.NewMetrics(metricsReg),
		Addr:             cfg.MQTTAddr,
		WSSAddr:          cfg.WSSAddr,
		GetCertificate:   func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return rl.current().ServerCertificate(), nil },
		ClientCAs:        authority.DevicePool(),
		HandshakeTimeout: cfg.HandshakeTimeout.Duration,
		MaxPacketSize:    cfg.MaxPacketSize,
		MaxPending:       cfg.MaxPending,
		Limits:           cfg.Limits.broker(),
		Logger:           s.log.With("component", "broker"),
	}, s.db)
	if err != nil {
		return err
	}
	if err := brk.Start(ctx); err != nil {
		return fmt.Errorf("start broker on %s: %w", cfg.MQTTAddr, err)
	}
	s.brk, rl.brk = brk, brk
	s.at.MQTT = brk.Addr().String()
	if a := brk.WSSAddr(); a != nil {
		s.at.WSS = "wss://" + a.String() + broker.WSSPath
	}
	return nil
}

// The console asks the in-process broker who is connected and when each
// device was last seen.
var (
	_ api.Sessions = (*broker.Broker)(nil)
	_ api.LastSeer = (*broker.Broker)(nil)
)

// startAPI starts the operator and provisioning HTTPS API. A failure while
// it serves is reported on Err.
func (s *Server) startAPI(authority *ca.CA, metricsReg *prometheus.Registry) error {
	cfg := s.cfg
	apiCfg := api.Config{
		Metrics:         api.NewMetrics(metricsReg),
		Logger:          s.log.With("component", "api"),
		DefaultLifetime: cfg.CertLifetime.Duration,
		ChallengeTTL:    cfg.ChallengeTTL.Duration,
		Gatherer:        metricsReg,
	}
	if s.brk != nil { // the console's "connected" comes from the broker in this process
		apiCfg.Sessions, apiCfg.BrokerName = s.brk, s.at.MQTT
	}
	if cfg.EKRoots != "" {
		var err error
		apiCfg.EKRoots, apiCfg.EKIntermediates, err = api.LoadEKRoots(cfg.EKRoots)
		if err != nil {
			return fmt.Errorf("ek_roots %s: %w", cfg.EKRoots, err)
		}
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("start API on %s: %w", cfg.APIAddr, err)
	}
	handler := api.New(s.db, authority, apiCfg)
	s.rl.api = handler
	s.api = handler.Server(cfg.APIAddr)
	s.goBackground(func() {
		if err := s.api.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("API server: %w", err)
		}
	})
	s.at.API = "https://" + ln.Addr().String()
	return nil
}

// startOps starts the plain-HTTP ops listener and the revocation counter
// feeding its metrics and CRL cache.
func (s *Server) startOps(ctx context.Context, metricsReg *prometheus.Registry) error {
	brokerDone := make(<-chan struct{}) // never closed without a broker
	if s.brk != nil {
		brokerDone = s.brk.Done()
	}
	db := s.db
	ops := &opsServer{db: db, authority: s.rl.current, log: s.log.With("component", "ops"), ready: func() bool {
		select {
		case <-brokerDone:
			return false
		default:
			return !db.Health().PastGrace
		}
	}}
	ops.revocations = newRevocationCounter(metricsReg)
	s.goBackground(func() { ops.watchRevocations(ctx) })
	srv, addr, err := listenOps(s.cfg.OpsAddr, ops.handler(metricsReg, s.cfg.OpsPprof), s.log)
	if err != nil {
		return err
	}
	s.ops = srv
	s.at.Ops = "http://" + addr.String()
	return nil
}
