package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	mrand "math/rand/v2"
	"sync"

	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/enroll"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// crashLoad runs workers that enroll devices by token, rotate their
// certificates over mTLS and revoke devices and certificates through the
// operator API, until ctx ends. It records in m what the server
// acknowledged. The workers call no testing function: the test goroutine
// judges the registry afterwards.
func crashLoad(ctx context.Context, s *server, m *crashModel, roots *x509.CertPool, admin *client.Client, workers int, seed uint64) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(seed, uint64(w)))
			enr := enroll.New(s.API, roots)
			defer enr.CloseIdleConnections()
			for ctx.Err() == nil {
				key, csr, err := softwareCSR()
				if err != nil {
					return
				}
				var out reqOutcome
				did := false
				switch p := r.IntN(10); {
				case p < 2:
					did, out = m.rotateOne(ctx, enr, r, key, csr)
				case p < 3:
					did, out = m.revokeOne(ctx, admin, r)
				case p < 4:
					did, out = m.revokeCertOne(ctx, admin, r)
				}
				if !did {
					did, out = m.enrollOne(ctx, enr, key, csr)
				}
				if !did {
					did, out = m.rotateOne(ctx, enr, r, key, csr)
				}
				// Nothing left to do, or no answer: the server is gone
				// (nothing else makes a request go unanswered here).
				if !did || out == reqLost {
					return
				}
			}
		})
	}
	wg.Wait()
}

// outcome of a request: acknowledged, refused with an answer, or lost
// (no answer: the server may or may not have done it).
type reqOutcome int

const (
	reqOK reqOutcome = iota
	reqRefused
	reqLost
)

func classify(err error) reqOutcome {
	var e1 *enroll.Error
	var e2 *client.APIError
	switch {
	case err == nil:
		return reqOK
	case errors.As(err, &e1), errors.As(err, &e2):
		return reqRefused
	default:
		return reqLost
	}
}

// enrollOne enrolls a new device with one of the run's tokens; false when
// they are spent.
func (m *crashModel) enrollOne(ctx context.Context, enr *enroll.Client, key tls.Certificate, csr string) (bool, reqOutcome) {
	token, id, ok := m.takeToken()
	if !ok {
		return false, reqOK
	}
	issued, err := enr.EnrollToken(ctx, wire.TokenRequest{Token: token, DeviceID: id, CSR: csr})
	var pair tls.Certificate
	if err == nil {
		pair, err = chainPair(key, issued.Chain)
	}
	out := classify(err)
	m.mu.Lock()
	switch out {
	case reqOK:
		m.enrollOK++
	case reqRefused:
		m.enrollRefused++
	default:
		m.enrollLost++
	}
	m.mu.Unlock()
	if err == nil {
		m.issued(id, pair, issued.Serial, issued.Fingerprint)
	}
	return true, out
}

// rotateOne rotates a random device's certificate, authenticated by its
// current one; false when there is no device yet.
func (m *crashModel) rotateOne(ctx context.Context, enr *enroll.Client, r *mrand.Rand, key tls.Certificate, csr string) (bool, reqOutcome) {
	d, ok := m.pick(r)
	if !ok {
		return false, reqOK
	}
	c := enr.WithClientCertificate(func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &d.cert, nil })
	defer c.CloseIdleConnections()
	issued, err := c.FinishRotation(ctx, wire.RotationRequest{CSR: csr})
	var pair tls.Certificate
	if err == nil {
		pair, err = chainPair(key, issued.Chain)
	}
	out := classify(err)
	m.mu.Lock()
	switch out {
	case reqOK:
		m.rotateOK++
	case reqRefused:
		m.rotateRefused++
	default:
		m.rotateLost++
	}
	m.mu.Unlock()
	if err == nil {
		m.issued(d.id, pair, issued.Serial, issued.Fingerprint)
	}
	return true, out
}

// revokeOne revokes a random device.
func (m *crashModel) revokeOne(ctx context.Context, admin *client.Client, r *mrand.Rand) (bool, reqOutcome) {
	d, ok := m.pick(r)
	if !ok {
		return false, reqOK
	}
	_, err := admin.Revoke(ctx, d.id, "crash test")
	out := classify(err)
	m.mu.Lock()
	switch out {
	case reqOK:
		m.revokeOK++
	case reqRefused:
		m.revokeRefused++
	default:
		m.revokeLost++
	}
	m.mu.Unlock()
	// A conflict means a revocation whose answer was lost did happen.
	if out == reqOK || client.IsConflict(err) {
		m.revoked(d.id)
	}
	return true, out
}

// revokeCertOne revokes a random device's current certificate.
func (m *crashModel) revokeCertOne(ctx context.Context, admin *client.Client, r *mrand.Rand) (bool, reqOutcome) {
	d, ok := m.pick(r)
	if !ok {
		return false, reqOK
	}
	serial := d.cert.Leaf.SerialNumber.Text(16)
	_, err := admin.RevokeCertificate(ctx, serial, "crash test")
	out := classify(err)
	m.mu.Lock()
	defer m.mu.Unlock()
	switch out {
	case reqOK:
		m.certRevokeOK++
		m.revokedCrt[serial] = true
	case reqRefused:
		m.certRevokeRefused++
	default:
		m.certRevokeLost++
	}
	return true, out
}

// softwareCSR makes a P-256 key and a CSR for it. Unlike csrFor it calls
// no testing function, so the load's goroutines may use it.
func softwareCSR() (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "crash"}}, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	return tls.Certificate{PrivateKey: key}, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// chainPair builds a TLS certificate from a key and an issued PEM chain.
func chainPair(key tls.Certificate, chain string) (tls.Certificate, error) {
	pair := tls.Certificate{PrivateKey: key.PrivateKey}
	for rest := []byte(chain); ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		pair.Certificate = append(pair.Certificate, block.Bytes)
	}
	if len(pair.Certificate) == 0 {
		return pair, errors.New("issued chain holds no certificate")
	}
	var err error
	pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0])
	return pair, err
}
