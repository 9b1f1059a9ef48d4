package fleet

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/device-agent/agent"
	"github.com/fleetgate/fleetgate/firmware-sim/host"
	"github.com/fleetgate/fleetgate/firmware-sim/launch"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
	"github.com/fleetgate/fleetgate/provisioning/client"
)

// sim is one run in progress.
type sim struct {
	cfg      Config
	log      *slog.Logger
	agentLog *slog.Logger
	m        *metrics
	conns    *conns
	dialers  *host.Dialers

	server         *launch.Server // nil against a running server
	target         Target
	api, broker    string
	agentAPI       string // the API as the agents reach it (through the relay)
	roots          *x509.CertPool
	shared         *agent.Shared // what every agent of the process holds once
	admin          *client.Client
	cleanups       []func()
	devices        []*device
	slots          chan struct{}
	resolved       atomic.Int64
	allResolved    chan struct{}
	lastFirst      atomic.Int64 // unix ns of the latest first session
	rampStartedAll time.Duration

	storm       atomic.Pointer[stormRound]
	revokedBack atomic.Int64 // sessions of revoked devices after the revocation
	backMu      sync.Mutex
	backAt      []int64 // unix ns each of those sessions began
	drops       *dropCount

	rep *report.Report
}

// Run runs the scenario and returns its report. The error is ErrChecks
// (with the report) when the run completed but an expectation failed, or
// what stopped the run (with a nil report).
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.IDPrefix == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		cfg.IDPrefix = "sim-" + hex.EncodeToString(b) + "-"
	}
	start := time.Now()
	s := &sim{cfg: cfg, log: cfg.Logger, m: newMetrics(start), allResolved: make(chan struct{}), drops: newDropCount(),
		shared: agent.NewShared()}
	s.agentLog = slog.New(countingHandler{errs: s.m.errs, inner: cfg.Logger.Handler()})
	s.rep = &report.Report{Schema: report.SchemaVersion, Started: start.UTC()}
	defer s.cleanup()

	if err := s.limits(); err != nil {
		return nil, err
	}
	s.slots = make(chan struct{}, s.cfg.MaxInflight)
	if err := s.connectTarget(ctx); err != nil {
		return nil, err
	}
	if err := s.makeDevices(ctx); err != nil {
		return nil, err
	}
	sources := cfg.SourceAddrs
	if sources == 0 {
		sources = host.SourcesFor(cfg.Devices)
	}
	s.dialers = host.NewDialers(host.LoopbackSourcesFrom(s.broker, cfg.SourceFirst, sources), cfg.ConnectTimeout)
	s.conns = newConns(s.m, s.dialers)
	s.fillStatic()
	if err := s.scenario(ctx); err != nil {
		return nil, err
	}
	s.finish()
	if len(s.rep.Failed()) > 0 {
		return s.rep, ErrChecks
	}
	return s.rep, nil
}

// limits raises the open-file limit and refuses a run it cannot hold:
// one socket per device, three per enrollment in flight (the agent's, and
// the relay's two), and room for the rest. Where only the enrollments in
// flight do not fit, it lowers MaxInflight instead. The server needs
// about one per device plus one per enrollment; a started server inherits
// the limit.
func (s *sim) limits() error {
	const rest = 128
	n := uint64(s.cfg.Devices)
	need := n + 3*uint64(s.cfg.MaxInflight) + rest
	soft, hard, err := host.RaiseNoFile(need)
	if err != nil {
		return err
	}
	s.rep.Host.NoFileSoft, s.rep.Host.NoFileHard = soft, hard
	const minInflight = 16
	if soft < n+3*minInflight+rest {
		return fmt.Errorf("%w: %d devices need about %d open files here (and as many in the server), the hard limit is %d: "+
			"raise it (ulimit -Hn, or run with CAP_SYS_RESOURCE) or run fewer devices",
			ErrLimits, s.cfg.Devices, n+3*minInflight+rest, hard)
	}
	if soft < need {
		fit := int((soft - n - rest) / 3)
		s.log.Warn("lowering max-inflight to fit the open-file limit", "max_inflight", fit, "asked", s.cfg.MaxInflight, "limit", soft)
		s.cfg.MaxInflight = fit
	}
	return nil
}

// makeDevices creates the device records, the tokens and the TPMs.
func (s *sim) makeDevices(ctx context.Context) error {
	n, k := s.cfg.Devices, s.cfg.TPMDevices
	s.devices = make([]*device, n)
	for i := range s.devices {
		s.devices[i] = &device{idx: i, id: DeviceID(s.cfg.IDPrefix, i), state: &agent.MemoryState{NoCopy: true},
			done: make(chan struct{})}
	}
	s.m.mark("setup")
	// The TPM devices are spread through the fleet, the rest take tokens;
	// the devices an outside command revokes take them from their own
	// group, which it names.
	tpmEvery := 0
	if k > 0 {
		tpmEvery = n / k
	}
	var tpmDevs, soft, marked []*device
	for _, d := range s.devices {
		switch {
		case tpmEvery > 0 && d.idx%tpmEvery == 0 && len(tpmDevs) < k:
			tpmDevs = append(tpmDevs, d)
		case Marked(d.idx, s.cfg.ExternalRevokeEvery) && s.cfg.ExternalRevokeGroup != "":
			marked = append(marked, d)
		default:
			soft = append(soft, d)
		}
	}
	for _, part := range []struct {
		group string
		devs  []*device
	}{{s.cfg.Group, soft}, {s.cfg.ExternalRevokeGroup, marked}} {
		tokens, err := s.createTokens(ctx, part.group, len(part.devs))
		if err != nil {
			return err
		}
		for i, d := range part.devs {
			d.token = tokens[i]
		}
	}
	if k > 0 {
		return s.setupTPMDevices(ctx, tpmDevs)
	}
	return nil
}

// DeviceID is the ID of device idx of a fleet whose IDs start with prefix.
func DeviceID(prefix string, idx int) string { return fmt.Sprintf("%s%06d", prefix, idx) }

// cleanup stops what the run started, last first.
func (s *sim) cleanup() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	if s.admin != nil {
		s.admin.CloseIdleConnections()
	}
	if s.server != nil {
		s.server.Stop()
	}
}
