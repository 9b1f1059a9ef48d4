package api

import (
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultLifetime     = 30 * 24 * time.Hour
	DefaultMaxLifetime  = 397 * 24 * time.Hour // the CA/Browser Forum ceiling, a sane bound for devices too
	DefaultMaxBodyBytes = 64 << 10
	// DefaultChallengeTTL is how long a TPM enrollment or rotation
	// challenge may be answered: long enough for a slow TPM to activate a
	// credential and certify a key, short enough that a leaked one is of
	// little use.
	DefaultChallengeTTL = 60 * time.Second
	// DefaultTokenTTL is the lifetime of enrollment tokens created without
	// one.
	DefaultTokenTTL = 24 * time.Hour
	// DefaultMaxImportBytes bounds the body of a device import: a factory
	// batch of some 100,000 rows with EK certificates.
	DefaultMaxImportBytes = 32 << 20
)

// Config tunes the API. The zero value takes the defaults above.
type Config struct {
	// Logger receives request failures and refused authentications; nil
	// discards them.
	Logger *slog.Logger
	// DefaultLifetime is the lifetime of an issued certificate when the
	// request names none.
	DefaultLifetime time.Duration
	// MaxLifetime is the longest lifetime a request may ask for.
	MaxLifetime time.Duration
	// MaxBodyBytes bounds every request body; a larger one is refused
	// before it is parsed.
	MaxBodyBytes int64

	// EKRoots holds the TPM manufacturers' root certificates that EK
	// certificates must chain to. Nil accepts no EK certificate at all:
	// only devices whose EK public hash was pre-registered can enroll.
	EKRoots *x509.CertPool
	// EKIntermediates holds manufacturer intermediate CAs, which TPMs do
	// not store next to their EK certificate. Optional.
	EKIntermediates *x509.CertPool
	// ChallengeTTL is the lifetime of a TPM enrollment or rotation
	// challenge.
	ChallengeTTL time.Duration
	// TokenTTL is the lifetime of enrollment tokens when the request names
	// none.
	TokenTTL time.Duration
	// MaxImportBytes bounds the body of POST /v1/devices/import.
	MaxImportBytes int64
	// Metrics receives the enrollment metrics (NewMetrics); nil keeps them
	// private.
	Metrics *Metrics

	// Console settings (console.go): where the console learns which
	// devices are connected and reads the broker's counters, and how often
	// open consoles get fresh figures.
	Sessions    Sessions
	BrokerName  string // the in-process broker's MQTT address, shown as a session's broker
	Gatherer    prometheus.Gatherer
	ConsoleTick time.Duration
}

// API is the operator API. It is safe for concurrent use.
type API struct {
	db  *store.DB
	cfg Config
	log *slog.Logger
	now func() time.Time

	// Settings that may change while serving (live.go).
	live            atomic.Pointer[material]
	defaultLifetime atomic.Int64 // nanoseconds

	csrf    *csrfKey
	console *consoleState // console.go
}

// New returns the API over the registry db and the CA authority.
func New(db *store.DB, authority *ca.CA, cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.DefaultLifetime <= 0 {
		cfg.DefaultLifetime = DefaultLifetime
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.DefaultLifetime > cfg.MaxLifetime {
		cfg.DefaultLifetime = cfg.MaxLifetime
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = DefaultChallengeTTL
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.MaxImportBytes <= 0 {
		cfg.MaxImportBytes = DefaultMaxImportBytes
	}
	a := &API{db: db, cfg: cfg, log: cfg.Logger, now: time.Now, csrf: newCSRFKey()}
	a.SetCA(authority)
	a.defaultLifetime.Store(int64(cfg.DefaultLifetime))
	a.console = newConsoleState(a)
	return a
}

// Handler returns the routes of the API.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+wire.PathCA, a.getCA)

	mux.Handle("POST "+wire.PathDevices, a.operator(a.registerDevice))
	mux.Handle("GET "+wire.PathDevices, a.operator(a.listDevices))
	mux.Handle("GET "+wire.PathDevice, a.operator(a.showDevice))
	mux.Handle("POST "+wire.PathDeviceSuspend, a.operator(a.suspendDevice))
	mux.Handle("POST "+wire.PathDeviceResume, a.operator(a.resumeDevice))
	mux.Handle("POST "+wire.PathDeviceRevoke, a.operator(a.revokeDevice))
	mux.Handle("POST "+wire.PathDeviceCertificates, a.operator(a.issueCertificate))
	mux.Handle("GET "+wire.PathDeviceWhy, a.operator(a.deviceWhy))
	mux.Handle("GET "+wire.PathRefusals, a.operator(a.listRefusals))

	mux.Handle("GET "+wire.PathCertificates, a.operator(a.listCertificates))
	mux.Handle("GET "+wire.PathCertificateCount, a.operator(a.countCertificates))
	mux.Handle("GET "+wire.PathCertificate, a.operator(a.showCertificate))
	mux.Handle("POST "+wire.PathCertificateRevoke, a.operator(a.revokeCertificate))
	mux.Handle("POST "+wire.PathRevocations, a.operator(a.revokeBulk))

	mux.Handle("GET "+wire.PathAudit, a.operator(a.audit))

	mux.Handle("PUT "+wire.PathGroup, a.operator(a.putGroup))
	mux.Handle("GET "+wire.PathGroups, a.operator(a.listGroups))
	mux.Handle("PUT "+wire.PathForeignCA, a.operator(a.putForeignCA))
	mux.Handle("GET "+wire.PathForeignCAs, a.operator(a.listForeignCAs))
	mux.Handle("PUT "+wire.PathGroupACL, a.operator(a.putGroupACL))
	mux.Handle("PUT "+wire.PathGroupLimits, a.operator(a.putGroupLimits))
	mux.Handle("PUT "+wire.PathDeviceGrants, a.operator(a.putDeviceGrants))
	mux.Handle("PUT "+wire.PathDeviceProfile, a.operator(a.putDeviceProfile))
	mux.Handle("POST "+wire.PathTokens, a.operator(a.createTokens))
	mux.Handle("GET "+wire.PathTokens, a.operator(a.listTokens))
	mux.Handle("POST "+wire.PathDevicesImport, a.operator(a.importDevices))

	// Device routes: enrollment needs no client certificate (the TPM or the
	// token is the proof); rotation needs the device's current one.
	m := a.cfg.Metrics
	mux.Handle("POST "+wire.PathTPMStart, m.instrument(http.HandlerFunc(a.startTPM)))
	mux.Handle("POST "+wire.PathTPMFinish, m.instrument(http.HandlerFunc(a.finishTPM)))
	mux.Handle("POST "+wire.PathToken, m.instrument(http.HandlerFunc(a.enrollToken)))
	mux.Handle("POST "+wire.PathRotationStart, m.instrument(a.device(a.startRotation)))
	mux.Handle("POST "+wire.PathRotationFinish, m.instrument(a.device(a.finishRotation)))
	mux.Handle("GET "+wire.PathTrustBundle, m.instrument(a.device(a.getTrustBundle)))
	a.estRoutes(mux)

	a.mountConsole(mux)

	// Anything else gets the JSON error shape too, so clients never have to
	// parse a plain text page.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, fmt.Errorf("%w: %s %s", errNoRoute, r.Method, r.URL.Path))
	})
	return mux
}
