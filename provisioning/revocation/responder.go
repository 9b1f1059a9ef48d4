package revocation

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/store"
)

// Defaults for Config.
const (
	// DefaultOCSPValidity is how long a response stays current
	// (nextUpdate - thisUpdate). The cache signs again halfway.
	DefaultOCSPValidity = time.Hour
	// DefaultCRLValidity is how long a CRL stays current; it is re-issued
	// halfway, and at once on every change.
	DefaultCRLValidity = ca.DefaultCRLValidity
)

// ErrConfig means a Config lacks what a responder needs.
var ErrConfig = errors.New("revocation responder: bad configuration")

// Config is what a Responder works from.
type Config struct {
	// Authority returns the CA in effect; a reload may swap it. Each of
	// its intermediates with a key (ca.CA.Issuers: the issuing one, and
	// trusted older ones whose keys a rotation kept) signs its own CRL,
	// and issues the delegated certificate whose key signs the OCSP
	// responses about its certificates.
	Authority func() *ca.CA
	// Registry holds the certificates and reports their changes.
	Registry Registry
	// Logger; none when nil.
	Logger *slog.Logger
	// OCSPValidity and CRLValidity: 0 means the defaults above.
	OCSPValidity, CRLValidity time.Duration
	// DelegateLifetime is the validity of the delegated OCSP signing
	// certificate, at least twice OCSPValidity; 0 means
	// DefaultDelegateLifetime or four times OCSPValidity, the longer.
	DelegateLifetime time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnChange, when set, is called after a change from the feed has
	// emptied the caches it made stale: for tests and metrics.
	OnChange func(store.Change)
}

// Responder serves CRLs and OCSP responses for the device intermediates.
// Follow keeps its caches fresh. It is safe for concurrent use.
type Responder struct {
	cfg   Config
	log   *slog.Logger
	ocsp  *ocspCache
	crl   crlCache
	clock func() time.Time
	deleg *delegates
	// unkeyed remembers the trusted intermediates already logged as
	// having no key (so no CRL and no OCSP), by issuer ID.
	unkeyed sync.Map
}

// New returns a responder for cfg. It serves at once; call Follow so that
// changes in the registry reach its caches.
func New(cfg Config) (*Responder, error) {
	if cfg.Authority == nil || cfg.Registry == nil {
		return nil, fmt.Errorf("%w: Authority and Registry are required", ErrConfig)
	}
	if cfg.OCSPValidity < 0 || cfg.CRLValidity < 0 || cfg.DelegateLifetime < 0 {
		return nil, fmt.Errorf("%w: negative validity", ErrConfig)
	}
	if cfg.OCSPValidity == 0 {
		cfg.OCSPValidity = DefaultOCSPValidity
	}
	if cfg.DelegateLifetime == 0 {
		cfg.DelegateLifetime = max(DefaultDelegateLifetime, 4*cfg.OCSPValidity)
	}
	if cfg.DelegateLifetime < 2*cfg.OCSPValidity {
		return nil, fmt.Errorf("%w: the delegated OCSP signer's lifetime %s is shorter than twice the OCSP validity %s: responses would outlive it",
			ErrConfig, cfg.DelegateLifetime, cfg.OCSPValidity)
	}
	if cfg.CRLValidity == 0 {
		cfg.CRLValidity = DefaultCRLValidity
	}
	r := &Responder{cfg: cfg, log: cfg.Logger, ocsp: newOCSPCache(), clock: cfg.Now,
		crl:   crlCache{byID: make(map[string]*crlEntry)},
		deleg: &delegates{by: make(map[string]*delegate), lifetime: cfg.DelegateLifetime, validity: cfg.OCSPValidity}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	return r, nil
}

// maxRequest bounds an OCSP request body; one names a single certificate
// in about a hundred bytes.
const maxRequest = 8 << 10

// ServeHTTP answers GET /crl/<issuer-id>.crl, POST /ocsp and
// GET /ocsp/<base64>. Paths are matched as sent (no cleaning), since
// base64 may hold "//".
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	switch {
	case strings.HasPrefix(p, ca.CRLPathPrefix) && (req.Method == http.MethodGet || req.Method == http.MethodHead):
		r.serveCRL(req.Context(), w, strings.TrimPrefix(p, ca.CRLPathPrefix))
	case (p == ca.OCSPPath || p == ca.OCSPPath+"/") && req.Method == http.MethodPost:
		der, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxRequest))
		if err != nil {
			r.writeOCSP(w, malformedResponse)
			return
		}
		r.writeOCSP(w, r.respond(req.Context(), der))
	case strings.HasPrefix(p, ca.OCSPPath+"/") && req.Method == http.MethodGet:
		r.writeOCSP(w, r.respond(req.Context(), decodeGET(strings.TrimPrefix(p, ca.OCSPPath+"/"))))
	case strings.HasPrefix(p, ca.CRLPathPrefix) || strings.HasPrefix(p, ca.OCSPPath):
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, req)
	}
}

// writeOCSP sends an OCSP response. Errors are OCSP responses too, sent
// with 200 as RFC 6960 appendix A asks. Nothing in front should keep it:
// a revocation takes effect here at once.
func (r *Responder) writeOCSP(w http.ResponseWriter, der []byte) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(der)
}
