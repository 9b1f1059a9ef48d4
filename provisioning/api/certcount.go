package api

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// countCertificates serves GET /v1/certificates/count?status=&issuer=...:
// how many certificates have the status and one of the issuers, and a
// few of their devices. `fleetgate ca root-rollover finish` asks it for
// the active certificates under the intermediates it is about to retire.
//
// It reads every certificate record in one registry transaction and
// parses the DER of those whose status matches (tens of microseconds
// each), so its cost grows with the number of certificates ever issued:
// about a second per hundred thousand active ones. The answer stays small
// whatever the count.
func (a *API) countCertificates(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	q := r.URL.Query()
	status := store.CertStatus(q.Get("status"))
	switch status {
	case "", store.CertActive, store.CertSuperseded, store.CertRevoked:
	default:
		a.fail(w, r, fmt.Errorf("%w: status %q: want active, superseded or revoked", errBadRequest, status))
		return
	}
	issuers := q["issuer"]
	for i, id := range issuers {
		issuers[i] = strings.ToLower(id)
		if _, err := hex.DecodeString(id); err != nil || id == "" {
			a.fail(w, r, fmt.Errorf("%w: issuer %q: want the hex subject key identifier of an intermediate (as in its CRL URL)", errBadRequest, id))
			return
		}
	}
	certs, err := a.db.Certificates(r.Context(), "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := wire.CertificateCount{Devices: []string{}}
	for _, c := range certs {
		if status != "" && c.Status != status {
			continue
		}
		if len(issuers) > 0 && !slices.Contains(issuers, store.IssuerKeyOf(c)) {
			continue
		}
		out.Count++
		if len(out.Devices) < wire.CountSampleDevices && !slices.Contains(out.Devices, c.DeviceID) {
			out.Devices = append(out.Devices, c.DeviceID)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
