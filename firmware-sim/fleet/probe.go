package fleet

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// maxProbes bounds the direct connects at the end of a run;
// probeConcurrency of them run at once, each for at most probeTimeout, so
// that brokers slow to answer cannot hold the end of the run for long.
const (
	maxProbes        = 100
	probeConcurrency = 16
	probeTimeout     = 15 * time.Second
)

// probeRevoked connects as some revoked devices, with the key and
// certificate each held when it was revoked, from outside the agent: the
// broker must refuse every one (at the handshake or with a CONNACK
// refusal). An agent giving up is not proof on its own.
func (s *sim) probeRevoked(ctx context.Context, rv *report.Revocation) {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		sem = make(chan struct{}, probeConcurrency)
	)
	for _, d := range s.devices {
		if rv.Probes >= maxProbes {
			break
		}
		if d.revokedAt.Load() == 0 || d.tpm != nil { // a TPM key never leaves its TPM
			continue
		}
		cert, err := stateCertificate(d)
		if err != nil {
			s.log.Warn("cannot probe a revoked device", "device", d.id, "err", err)
			s.m.errs.Inc("probe: unusable device state")
			continue
		}
		rv.Probes++
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outcome := s.probe(ctx, d.id, cert)
			mu.Lock()
			defer mu.Unlock()
			switch outcome {
			case probeRefused:
				rv.ProbesRefused++
			case probeAdmitted:
				rv.ProbesAdmitted++
			}
		}()
	}
	wg.Wait()
}

// probeOutcome is what a probe of a revoked device found.
type probeOutcome int

const (
	probeUnanswered probeOutcome = iota // no answer in time, or an error that proves neither
	probeRefused
	probeAdmitted
)

// probe connects once as device id with cert and reports what the broker
// did; anything but a refusal is also counted as an error.
func (s *sim) probe(ctx context.Context, id string, cert tls.Certificate) probeOutcome {
	cfg := &tls.Config{RootCAs: s.roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if h, _, err := net.SplitHostPort(s.broker); err == nil {
		cfg.ServerName = h
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	c, err := mqttwire.Dial(pctx, &net.Dialer{}, s.broker, cfg, id, 0)
	cancel()
	switch {
	case err == nil:
		_ = c.Close()
		s.m.errs.Inc("probe: a revoked device was let in")
		return probeAdmitted
	case errors.Is(err, mqttwire.ErrRefused), errClass(err) == "tls alert: bad certificate",
		errClass(err) == "closed by peer (EOF)", errClass(err) == "connection reset":
		return probeRefused
	default:
		s.m.errs.Inc("probe: " + errClass(err))
	}
	return probeUnanswered
}

// stateCertificate rebuilds a device's TLS certificate from its agent
// state (PKCS#8 key, PEM chain).
func stateCertificate(d *device) (tls.Certificate, error) {
	st, err := d.state.Load()
	if err != nil || st == nil {
		return tls.Certificate{}, fmt.Errorf("no state for %s", d.id)
	}
	key, err := x509.ParsePKCS8PrivateKey(st.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key of %s is not PKCS#8 (TPM device?)", d.id)
	}
	var cert tls.Certificate
	for rest := st.Chain; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		cert.Certificate = append(cert.Certificate, blk.Bytes)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || len(cert.Certificate) == 0 {
		return tls.Certificate{}, fmt.Errorf("unusable state for %s", d.id)
	}
	cert.PrivateKey = signer
	return cert, nil
}
