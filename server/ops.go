package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// opsServer serves what operators' tooling scrapes and probes, on a
// separate plain-HTTP listener meant for a private network:
//
//	/metrics  Prometheus metrics (broker, Go runtime, process)
//	/healthz  the process is up
//	/readyz   the broker is serving and the registry answers (the body says
//	          when its storage is full)
//	/crl      the device CA's CRL (DER), for relying parties other than the broker
//	/debug/pprof/  Go's profiles, only with ops_pprof (they show internals and cost CPU)
type opsServer struct {
	db          *store.DB
	authority   func() *ca.CA // the current CA: a reload may swap it
	ready       func() bool
	log         *slog.Logger
	revocations *prometheus.CounterVec // registry changes away from active, by kind and status

	mu       sync.Mutex
	crl      []byte
	crlBy    *ca.CA    // the CA that signed the cached CRL
	crlValid time.Time // the cached CRL is reused until a change or this time
	dirty    bool
}

// newMetricsRegistry returns the registry /metrics serves, with the Go
// runtime and process collectors.
func newMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func (o *opsServer) handler(reg *prometheus.Registry, pprof bool) http.Handler {
	mux := http.NewServeMux()
	if pprof {
		mountPprof(mux)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !o.ready() {
			http.Error(w, "broker not serving", http.StatusServiceUnavailable)
			return
		}
		// A read transaction proves the registry file is open and readable.
		if _, err := o.db.Device(r.Context(), "readyz-probe"); err != nil && !errors.Is(err, store.ErrNotFound) {
			http.Error(w, "registry unavailable", http.StatusServiceUnavailable)
			return
		}
		// A full registry still admits devices and may still take
		// revocations, so the server stays ready (taking it out of rotation
		// would refuse every device); the body says what is wrong.
		if h := o.db.Health(); h.Full {
			fmt.Fprintf(w, "ready, degraded: registry storage full since %s (%s); enrolments and other writes fail until space is freed\n",
				h.FullSince.Format(time.RFC3339), h.FullError)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /crl", o.serveCRL)
	return mux
}

// newRevocationCounter registers fleetgate_revocations_total.
func newRevocationCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetgate_revocations_total",
		Help: "Devices and certificates leaving the active state in the registry, by kind and new status.",
	}, []string{"kind", "status"})
	reg.MustRegister(c)
	return c
}

// watchRevocations counts revocations and suspensions, and marks the
// cached CRL stale whenever a certificate changes state.
func (o *opsServer) watchRevocations(ctx context.Context) {
	for ch := range o.db.Watch(ctx) {
		if o.revocations != nil {
			switch {
			case ch.Kind == store.ChangeDevice && ch.DeviceStatus != store.DeviceActive:
				o.revocations.WithLabelValues("device", string(ch.DeviceStatus)).Inc()
			case ch.Kind == store.ChangeCert && ch.CertStatus != store.CertActive:
				o.revocations.WithLabelValues("certificate", string(ch.CertStatus)).Inc()
			}
		}
		if ch.Kind == store.ChangeCert {
			o.mu.Lock()
			o.dirty = true
			o.mu.Unlock()
		}
	}
}

func (o *opsServer) serveCRL(w http.ResponseWriter, r *http.Request) {
	der, err := o.currentCRL(r.Context())
	if errors.Is(err, ca.ErrNoCAKey) {
		http.Error(w, "this broker runs from a bundle and holds no CA key to sign a CRL: fetch /crl from the API host", http.StatusNotFound)
		return
	}
	if err != nil {
		o.log.Error("building the device CRL failed", "error", err.Error())
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Write(der)
}

// currentCRL returns the cached CRL, rebuilding it after a certificate
// change, a reload of the CA, or halfway through its validity.
func (o *opsServer) currentCRL(ctx context.Context) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	authority := o.authority()
	if o.crl != nil && !o.dirty && o.crlBy == authority && time.Now().Before(o.crlValid) {
		return o.crl, nil
	}
	certs, err := o.db.Certificates(ctx, "")
	if err != nil {
		return nil, err
	}
	var revoked []ca.RevokedCert
	for _, c := range certs {
		if c.Status != store.CertRevoked {
			continue
		}
		serial, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			continue
		}
		revoked = append(revoked, ca.RevokedCert{Serial: serial, RevokedAt: c.RevokedAt})
	}
	// CRL numbers must grow: the build time in nanoseconds does.
	der, err := authority.DeviceCRL(revoked, big.NewInt(time.Now().UnixNano()), ca.DefaultCRLValidity)
	if err != nil {
		return nil, err
	}
	o.crl, o.crlBy, o.crlValid, o.dirty = der, authority, time.Now().Add(ca.DefaultCRLValidity/2), false
	return der, nil
}

// listenOps binds the ops listener and serves h on it until the returned
// server is closed.
func listenOps(addr string, h http.Handler, log *slog.Logger) (*http.Server, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go srv.Serve(ln)
	return srv, ln.Addr(), nil
}
