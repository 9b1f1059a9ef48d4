package api

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// estRoutes registers the EST operations (RFC 7030) on mux, each with and
// without a label. They speak EST's media types but decide with the same
// functions as the JSON routes: enrolByToken for simpleenroll, rotate for
// simplereenroll.
func (a *API) estRoutes(mux *http.ServeMux) {
	m := a.cfg.Metrics
	for _, prefix := range []string{wire.PathEST + "/", wire.PathEST + "/{label}/"} {
		mux.Handle("GET "+prefix+wire.ESTCACerts, m.instrument(http.HandlerFunc(a.estCACerts)))
		mux.Handle("GET "+prefix+wire.ESTCSRAttrs, m.instrument(http.HandlerFunc(a.estCSRAttrs)))
		mux.Handle("POST "+prefix+wire.ESTSimpleEnroll, m.instrument(http.HandlerFunc(a.estEnroll)))
		mux.Handle("POST "+prefix+wire.ESTSimpleReenroll, m.instrument(http.HandlerFunc(a.estReenroll)))
	}
}

// estCACerts serves cacerts: the roots in force (the current one first)
// and the issuing device intermediate, for a client to bootstrap its trust
// anchors (RFC 7030 section 4.1).
func (a *API) estCACerts(w http.ResponseWriter, r *http.Request) {
	authority := a.authority()
	certs := []*x509.Certificate{authority.Root()}
	if p := authority.PreviousRoot(); p != nil {
		certs = append(certs, p)
	}
	certs = append(certs, authority.DeviceCA())
	if err := writeESTCerts(w, certs...); err != nil {
		a.estRefuse(w, r, "", err)
	}
}

// estCSRAttrs serves csrattrs (RFC 7030 section 4.5).
func (a *API) estCSRAttrs(w http.ResponseWriter, r *http.Request) {
	der, err := estCSRAttrs()
	if err != nil {
		a.estRefuse(w, r, "", err)
		return
	}
	writeESTBody(w, estTypeCSRAttrs, der)
}

// estEnroll serves simpleenroll: a first enrolment authenticated by HTTP
// Basic over TLS, the user name being the device ID (the CSR's common name
// when empty) and the password a one-time token.
func (a *API) estEnroll(w http.ResponseWriter, r *http.Request) {
	user, token, ok := r.BasicAuth()
	if !ok {
		a.estRefuse(w, r, "", fmt.Errorf("%w: simpleenroll needs HTTP Basic authentication: the device ID and a one-time enrolment token", errDeviceUnauthenticated))
		return
	}
	csr, err := a.readESTCSR(w, r)
	if err != nil {
		a.estRefuse(w, r, user, err)
		return
	}
	if user == "" {
		user = csr.Subject.CommonName
	}
	issued, err := a.enrolByToken(r.Context(), tokenEnrolment{
		DeviceID: user, Token: token, ParsedCSR: csr, Group: r.PathValue("label"), Remote: r.RemoteAddr,
	})
	if err != nil {
		a.estRefuse(w, r, user, err)
		return
	}
	a.writeIssued(w, r, user, issued)
}

// estReenroll serves simplereenroll: the device authenticates with its
// current certificate (mTLS) and renews or re-keys it. The new certificate
// supersedes the old, which stays valid until the new one is first used,
// exactly as after /v1/rotate/finish.
func (a *API) estReenroll(w http.ResponseWriter, r *http.Request) {
	d, old, err := a.authenticateDevice(r)
	if err != nil {
		a.estRefuse(w, r, d.ID, err)
		return
	}
	if len(d.AKPublic) > 0 {
		a.estRefuse(w, r, d.ID, fmt.Errorf("%w: device %s is TPM-attested and rotates through %s, which proves the new key is in its TPM", store.ErrPolicy, d.ID, wire.PathRotationStart))
		return
	}
	if label := r.PathValue("label"); label != "" && label != d.Group {
		a.estRefuse(w, r, d.ID, fmt.Errorf("%w: device %s belongs to group %q, not %q", store.ErrPolicy, d.ID, d.Group, label))
		return
	}
	csr, err := a.readESTCSR(w, r)
	if err != nil {
		a.estRefuse(w, r, d.ID, err)
		return
	}
	issued, _, err := a.rotate(r, d, old, wire.RotationRequest{}, csr)
	if err != nil {
		a.estRefuse(w, r, d.ID, err)
		return
	}
	a.writeIssued(w, r, d.ID, issued)
}

// writeIssued answers an EST enrolment with the issued certificate alone,
// as a certs-only PKCS#7 (clients fetch the chain from cacerts).
func (a *API) writeIssued(w http.ResponseWriter, r *http.Request, id string, issued wire.Issued) {
	var leaf *x509.Certificate
	err := errors.New("issued certificate is not PEM")
	if block, _ := pem.Decode([]byte(issued.Certificate)); block != nil {
		leaf, err = x509.ParseCertificate(block.Bytes)
	}
	if err == nil {
		err = writeESTCerts(w, leaf)
	}
	if err != nil {
		a.estRefuse(w, r, id, err)
	}
}
