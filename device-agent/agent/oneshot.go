package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/enroll"
)

// Enrolment is what Enrol reports: the certificate the device holds and
// whether this call got it.
type Enrolment struct {
	DeviceID    string    `json:"device_id"`
	Serial      string    `json:"serial"`
	Fingerprint string    `json:"fingerprint"` // hex SHA-256 of the certificate's DER
	NotAfter    time.Time `json:"not_after"`
	Attestation string    `json:"attestation"` // KeyTPM or KeySoftware
	Broker      string    `json:"broker"`      // the broker that admitted it
	// Enrolled is false when the device already held a valid certificate
	// and nothing was changed.
	Enrolled bool `json:"enrolled"`
}

// Enrol is the factory station's one shot: it enrols the device if its
// state holds no valid certificate (one attempt, no retry loop: the
// station decides), saves the state, connects once to a broker to prove
// the certificate is admitted, and disconnects, leaving the retained
// status "offline". On an enrolled device it only proves admission again.
// Errors: ErrNoTPM, ErrUnreachable, ErrRefused (EK not allowed or
// untrusted, policy; the wrapped *enroll.Error has the code),
// ErrNeedsEnrollment (token refused), ErrRevoked (refused by the broker),
// ErrState, ErrClock, ErrConfig.
func (a *Agent) Enrol(ctx context.Context) (Enrolment, error) {
	if !a.running.CompareAndSwap(false, true) {
		return Enrolment{}, ErrRunning
	}
	defer a.running.Store(false)
	defer a.cur.Store(nil)
	r, done, err := a.start()
	if err != nil {
		return Enrolment{}, err
	}
	defer done()
	got := Enrolment{DeviceID: a.cfg.DeviceID}
	if r.st != nil && r.st.Chain != nil {
		c, err := r.loadCreds(r.st)
		if err != nil {
			return got, err
		}
		if r.now().Before(c.info.NotAfter) {
			r.install(c)
		}
	}
	if r.a.cur.Load() == nil {
		rctx, cancel := r.requestCtx(ctx)
		st, issued, err := r.keys.enroll(rctx, a.api(), r.st)
		cancel()
		if err != nil {
			return got, stationErr(err)
		}
		if err := r.enrolled(st, issued); err != nil {
			return got, err
		}
		got.Enrolled = true
	}
	c := r.a.cur.Load()
	sum := sha256.Sum256(c.tls.Certificate[0]) // the leaf's DER
	got.Serial, got.Fingerprint, got.NotAfter, got.Attestation = c.info.Serial, hex.EncodeToString(sum[:]), c.info.NotAfter, c.info.Attestation
	got.Broker, err = r.connectOnce(ctx)
	return got, err
}

// stationErr classifies a failed enrolment for the station: no answer is
// ErrUnreachable, a refusal as Run classifies it.
func stationErr(err error) error {
	if errors.Is(err, enroll.ErrUnreachable) {
		return fmt.Errorf("%w: provisioning: %w", ErrUnreachable, err)
	}
	return classify(err)
}

// connectOnce connects to each broker of the list in turn until one
// admits the device, then leaves cleanly. A CONNACK refusal ends it at
// once (ErrRevoked): another broker of the same registry would say the
// same.
func (r *runner) connectOnce(ctx context.Context) (string, error) {
	var errs []error
	for range r.brokers {
		addr := r.brokers[r.next]
		client, _ := r.newClient(addr, r.a.roots())
		cctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout.Duration)
		err := r.connect(cctx, client)
		cancel()
		if err == nil {
			tok := client.Publish(r.a.topic(r.cfg.StatusTopic), 1, true, statusOffline)
			tok.WaitTimeout(r.cfg.ConnectTimeout.Duration)
			client.Disconnect(250)
			r.log.Info("admitted by the broker", "broker", addr)
			return addr, nil
		}
		if errors.Is(err, errRefusedByBroker) {
			return "", fmt.Errorf("%w: %w", ErrRevoked, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		r.nextBroker()
	}
	return "", fmt.Errorf("%w: no broker answered: %w", ErrUnreachable, errors.Join(errs...))
}
