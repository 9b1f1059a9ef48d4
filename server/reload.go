package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgate/fleetgate/broker"
	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// liveBroker is what a reload changes in a running broker.
type liveBroker interface {
	SetClientCAs(pool *x509.CertPool) error
	SetHandshakeTimeout(d time.Duration) error
	SetMaxPending(n int) error
}

// liveAPI is what a reload changes in a running provisioning API.
type liveAPI interface {
	SetCA(authority *ca.CA)
	SetDefaultLifetime(d time.Duration) error
}

// notRun stands for the part a role leaves out: a reload has nothing to
// change there.
type notRun struct{}

func (notRun) SetClientCAs(*x509.CertPool) error       { return nil }
func (notRun) SetHandshakeTimeout(time.Duration) error { return nil }
func (notRun) SetMaxPending(int) error                 { return nil }
func (notRun) SetCA(*ca.CA)                            {}
func (notRun) SetDefaultLifetime(time.Duration) error  { return nil }

var (
	_ liveBroker = (*broker.Broker)(nil)
	_ liveAPI    = (*api.API)(nil)
	_ liveBroker = notRun{}
	_ liveAPI    = notRun{}
)

// reloader applies a changed CA directory and configuration to the running
// server. Nothing it does closes a connection: the broker and the API take
// the new material at their next handshake, and sessions already up keep
// what they were admitted with. A reload that fails keeps everything as it
// was and says why; the next change (or SIGHUP) tries again.
//
// The CA directory and the configuration are reloaded independently, so a
// typo in the config file does not hold back a rotated intermediate, nor a
// broken CA file a new log level.
type reloader struct {
	log     *slog.Logger
	level   *slog.LevelVar
	src     caSource // the CA directory or the broker bundle
	pubURL  string   // public_url as started: revocation URLs in device certificates
	loadCfg func() (Config, error)
	brk     liveBroker // notRun when this process runs no broker (role api)
	api     liveAPI    // notRun when it runs no API (role broker)

	authority atomic.Pointer[ca.CA]
	interval  atomic.Int64 // file check period in nanoseconds; 0: SIGHUP only

	mu  sync.Mutex // one reload at a time; guards cfg
	cfg Config     // the configuration in effect
}

// current is the CA in effect; handshakes and requests read it each time.
func (r *reloader) current() *ca.CA { return r.authority.Load() }

// reloadAll reloads the CA directory and the configuration; each part is
// applied or refused on its own.
func (r *reloader) reloadAll(trigger string) error {
	return errors.Join(r.reloadCA(trigger), r.reloadConfig(trigger))
}

// reloadCA loads the CA directory (or the broker bundle) again and, if it
// is sound, swaps it into the broker and the API.
func (r *reloader) reloadCA(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := r.src.load(r.src.dir)
	if err == nil {
		next, err = next.WithPublicURL(r.pubURL)
	}
	if err == nil {
		err = sameRoot(r.current(), next)
	}
	if err != nil {
		r.log.Error("reload failed; keeping the previous CA material", "trigger", trigger, "part", "ca", "dir", r.src.dir, "error", err.Error())
		return err
	}
	changes := caChanges(r.current(), next)
	if len(changes) > 0 {
		if err := r.brk.SetClientCAs(next.DevicePool()); err != nil {
			r.log.Error("reload failed; keeping the previous CA material", "trigger", trigger, "part", "ca", "error", err.Error())
			return err
		}
		r.api.SetCA(next)
		r.authority.Store(next)
	}
	r.log.Info("reloaded", "trigger", trigger, "part", "ca", "changes", orNone(changes))
	if left := time.Until(next.ServerCertificate().Leaf.NotAfter); left < ca.ServerRenewBefore {
		r.log.Warn("server certificate expires soon; "+r.src.renewHint, "expires_in", left.Round(time.Hour).String())
	}
	return nil
}

// sameRoot refuses a new root: every device and operator pins the old one,
// so serving under a new root would lock all of them out at once.
func sameRoot(cur, next *ca.CA) error {
	if !cur.Root().Equal(next.Root()) {
		return fmt.Errorf("%s changed (serial %s -> %s): a new root cannot be reloaded; every device must trust it first, then restart the server",
			ca.RootCertFile, ca.SerialHex(cur.Root()), ca.SerialHex(next.Root()))
	}
	return nil
}

// caChanges describes what differs between two loaded CAs, for the log.
func caChanges(cur, next *ca.CA) []string {
	var out []string
	if !cur.DeviceCA().Equal(next.DeviceCA()) {
		out = append(out, fmt.Sprintf("issuing intermediate %s -> %s", ca.SerialHex(cur.DeviceCA()), ca.SerialHex(next.DeviceCA())))
	}
	was, is := cur.TrustedDeviceCAs(), next.TrustedDeviceCAs()
	for _, c := range is {
		if !slices.ContainsFunc(was, c.Equal) {
			out = append(out, "trusted intermediate added "+ca.SerialHex(c))
		}
	}
	for _, c := range was {
		if !slices.ContainsFunc(is, c.Equal) && !c.Equal(next.DeviceCA()) {
			out = append(out, "trusted intermediate retired "+ca.SerialHex(c))
		}
	}
	if a, b := cur.ServerCertificate().Leaf, next.ServerCertificate().Leaf; !a.Equal(b) {
		out = append(out, fmt.Sprintf("server certificate %s -> %s", ca.SerialHex(a), ca.SerialHex(b)))
	}
	if !cur.OperatorCA().Equal(next.OperatorCA()) {
		out = append(out, fmt.Sprintf("operator CA %s -> %s", ca.SerialHex(cur.OperatorCA()), ca.SerialHex(next.OperatorCA())))
	}
	return out
}

func orNone(changes []string) []string {
	if len(changes) == 0 {
		return []string{"none"}
	}
	return changes
}
