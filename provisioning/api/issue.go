package api

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/ca"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// issueCertificate serves POST /v1/devices/{id}/certificates: an operator
// vouches for the CSR's key (attestation "operator").
//
// Everything that can be refused for bad input (ID, body, lifetime, CSR,
// device state) is checked before a serial is allocated, so a refused
// request leaves the registry as it was.
func (a *API) issueCertificate(w http.ResponseWriter, r *http.Request, by store.Actor) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.IssueRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	lifetime, err := a.lifetime(req.Lifetime)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if strings.TrimSpace(req.CSR) == "" {
		a.fail(w, r, fmt.Errorf("%w: csr is required (a PEM certificate signing request)", errBadRequest))
		return
	}
	csr, err := ca.ParseCSR([]byte(req.CSR))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.db.Device(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if d.Status != store.DeviceActive {
		a.fail(w, r, fmt.Errorf("%w: device %s is %s; only an active device is issued certificates", store.ErrState, id, d.Status))
		return
	}

	serial, err := a.db.AllocateSerial(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// One CA for the whole request: a reload in between must not pair a
	// certificate with another intermediate's chain.
	authority := a.authority()
	cert, err := authority.IssueDevice(csr, id, serial, lifetime)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rec := store.Certificate{
		Serial:      ca.SerialHex(cert),
		Fingerprint: ca.Fingerprint(cert),
		DeviceID:    id,
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		Status:      store.CertActive,
		Attestation: store.AttestOperator,
		IssuedAt:    a.now().UTC(),
		DER:         cert.Raw,
	}
	// The device may have been suspended since the check above; the
	// registry refuses then (ErrState) and the signed certificate is never
	// recorded, so the broker will not admit it.
	if err := a.db.AddCertificate(r.Context(), rec, by); err != nil {
		a.fail(w, r, err)
		return
	}
	leaf := certPEM(cert)
	writeJSON(w, http.StatusCreated, wire.Issued{
		Serial:      rec.Serial,
		Fingerprint: rec.Fingerprint,
		NotBefore:   rec.NotBefore,
		NotAfter:    rec.NotAfter,
		Certificate: leaf,
		Chain:       leaf + string(authority.DeviceChainPEM()),
	})
}

// lifetime parses the requested lifetime, falling back to the default.
func (a *API) lifetime(s string) (time.Duration, error) {
	if s == "" {
		return a.currentDefaultLifetime(), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: lifetime %q: want a duration such as \"720h\"", errBadRequest, s)
	}
	if d <= 0 || d > a.cfg.MaxLifetime {
		return 0, fmt.Errorf("%w: lifetime %s: must be positive and at most %s", errBadRequest, d, a.cfg.MaxLifetime)
	}
	return d, nil
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}
