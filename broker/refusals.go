package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store"
)

// refusalRecorder is an optional Registry capability: the shared refusal
// log an operator queries with `fleetgate device why`. *store.DB has it.
type refusalRecorder interface {
	RecordRefusals(ctx context.Context, rs []store.Refusal, dropped int) error
}

var _ refusalRecorder = (*store.DB)(nil)

// Bounds of a broker's refusal buffer. Recording must never slow a
// refusal or let a flood hammer the registry: the refusal path only
// updates a map under a mutex; repeats coalesce (same subject and check:
// a count and the latest details); a full buffer counts what it
// cannot hold; and one goroutine writes at most refusalFlushMax entries
// per refusalFlushEvery, so a broker adds at most a few small
// transactions a second to the registry whatever it is sent.
const (
	refusalBufferMax  = 1024
	refusalFlushMax   = 96
	refusalFlushEvery = time.Second
	refusalWriteLimit = 5 * time.Second
)

// refusalKey coalesces the buffer: one entry per subject and check, with
// the latest details (client ID among them), whatever the client sent.
type refusalKey struct{ subject, check string }

// refusalBuffer collects a broker's refusals for the registry.
type refusalBuffer struct {
	rec    refusalRecorder
	broker func() string // this broker's name, once its address is bound
	log    *slog.Logger

	mu      sync.Mutex
	pending map[refusalKey]*store.Refusal
	dropped int
}

// newRefusalBuffer returns a buffer writing to reg, or nil when reg keeps
// no refusal log (every method is a no-op on nil). addr gives the bound
// listen address, read once at the first refusal.
func newRefusalBuffer(reg Registry, addr func() string, log *slog.Logger) *refusalBuffer {
	rec, ok := reg.(refusalRecorder)
	if !ok {
		return nil
	}
	name := sync.OnceValue(func() string {
		host, _ := os.Hostname()
		return host + "/" + addr()
	})
	return &refusalBuffer{rec: rec, broker: name, log: log, pending: make(map[refusalKey]*store.Refusal)}
}

// note buffers one refusal. It never blocks on the registry.
func (b *refusalBuffer) note(r store.Refusal) {
	if b == nil || (r.DeviceID == "" && r.Fingerprint == "") {
		return
	}
	r.Broker, r.Count = b.broker(), 1
	subject := r.DeviceID
	if subject == "" {
		subject = "f/" + r.Fingerprint
	}
	k := refusalKey{subject, r.Check}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.pending[k]; ok {
		r.Count, r.First = old.Count+1, old.First
		*old = r
		return
	}
	if len(b.pending) >= refusalBufferMax {
		b.dropped++
		return
	}
	r.First = r.Time
	b.pending[k] = &r
}

// take removes up to refusalFlushMax entries and the dropped count.
func (b *refusalBuffer) take() ([]store.Refusal, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]store.Refusal, 0, min(len(b.pending), refusalFlushMax))
	for k, r := range b.pending {
		if len(out) == refusalFlushMax {
			break
		}
		out = append(out, *r)
		delete(b.pending, k)
	}
	d := b.dropped
	b.dropped = 0
	return out, d
}

// run writes the buffer to the registry every refusalFlushEvery until ctx
// is done.
func (b *refusalBuffer) run(ctx context.Context) {
	if b == nil {
		return
	}
	t := time.NewTicker(refusalFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.flush(ctx)
		}
	}
}

// flush writes one batch. A failed write is logged and its refusals
// counted as dropped: keeping them for a retry would let a failing
// registry grow the buffer.
func (b *refusalBuffer) flush(ctx context.Context) {
	rs, dropped := b.take()
	if len(rs) == 0 && dropped == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, refusalWriteLimit)
	err := b.rec.RecordRefusals(wctx, rs, dropped)
	cancel()
	if err == nil || ctx.Err() != nil {
		return
	}
	b.log.Warn("refusal log write failed; entries dropped", "entries", len(rs), "error", err.Error())
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range rs {
		b.dropped += r.Count
	}
	b.dropped += dropped
}

// certRefusal fills in what a certificate tells about a refusal.
func certRefusal(leaf *x509.Certificate, check string, now time.Time) store.Refusal {
	r := store.Refusal{Time: now.UTC(), Check: check}
	if leaf == nil {
		return r
	}
	r.Serial, r.Fingerprint = serialHex(leaf), fingerprint(leaf)
	r.Issuer, r.Subject = leaf.Issuer.String(), leaf.Subject.String()
	r.NotBefore, r.NotAfter = leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
	// On a handshake refusal the identity is unverified: it is what the
	// certificate claims, which is what an operator asks about.
	r.DeviceID, _ = identity.FromCertificate(leaf)
	return r
}

// noteConnect records a refused CONNECT.
func (h *hook) noteConnect(cl *mqtt.Client, pk packets.Packet, a admission) {
	if h.refusals == nil {
		return
	}
	var leaf *x509.Certificate
	if cs, ok := cl.Net.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		leaf, _ = peerLeaf(cs.ConnectionState())
	}
	r := certRefusal(leaf, a.reason, h.now())
	if a.deviceID != "" {
		r.DeviceID = a.deviceID // verified (for a foreign CA's device, derived)
	}
	r.Remote, r.ClaimedClientID = cl.Net.Remote, pk.Connect.ClientIdentifier
	if a.err != nil {
		r.Detail = a.failed + " failed: " + a.err.Error()
	}
	if a.reason == reasonConnectRate {
		r.Detail = fmt.Sprintf("more than %d connects per minute", a.limits.ConnectsPerMinute)
	}
	h.refusals.note(r)
}

// noteHandshake records a TLS handshake the verifier refused, with the
// certificate the peer presented (crypto/tls hands it over in the error).
func (l *listener) noteHandshake(err error, remote string) {
	var certErr *tls.CertificateVerificationError
	if l.refusals == nil || !errors.As(err, &certErr) || len(certErr.UnverifiedCertificates) == 0 {
		return
	}
	leaf := certErr.UnverifiedCertificates[0]
	r := certRefusal(leaf, handshakeCheck(certErr.Err, leaf, time.Now()), time.Now())
	r.Remote, r.Detail = remote, certErr.Err.Error()
	l.refusals.note(r)
}

// handshakeCheck names the verifier's objection with the CONNECT checks'
// names where they mean the same.
func handshakeCheck(err error, leaf *x509.Certificate, now time.Time) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return reasonUnknownCA
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && now.Before(leaf.NotBefore):
		return reasonNotYetValid
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return reasonExpired
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return reasonEKU
	}
	return "bad_certificate"
}

// reasonUnknownCA: the TLS handshake refused a certificate that does not
// chain to a trusted device CA.
const reasonUnknownCA = "unknown_ca"
