package api

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// listCertificates serves GET /v1/certificates?device=.
func (a *API) listCertificates(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	device := r.URL.Query().Get("device")
	if device != "" {
		if err := identity.ValidateID(device); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	certs, err := a.db.Certificates(r.Context(), device)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.CertificateList{Certificates: wireList(certs, wireCertificate)})
}

// showCertificate serves GET /v1/certificates/{serial}.
func (a *API) showCertificate(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	c, err := a.db.Certificate(r.Context(), r.PathValue("serial"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.CertificateDetail{
		Certificate: wireCertificate(c),
		PEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})),
	})
}

// revokeCertificate serves POST /v1/certificates/{serial}/revoke. Like a
// device revocation it is final and must say why.
func (a *API) revokeCertificate(w http.ResponseWriter, r *http.Request, by store.Actor) {
	var req wire.ReasonRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		a.fail(w, r, fmt.Errorf("%w: revoking a certificate needs a reason", errBadRequest))
		return
	}
	c, err := a.db.RevokeCertificate(r.Context(), r.PathValue("serial"), req.Reason, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireCertificate(c))
}
