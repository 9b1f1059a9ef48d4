package api

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// putForeignCA serves PUT /v1/foreign-cas/{name}: register (or replace) a
// foreign device CA for a group. Brokers trust it within
// broker.ForeignCARefresh.
func (a *API) putForeignCA(w http.ResponseWriter, r *http.Request, by store.Actor) {
	var req wire.ForeignCARequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	var ders [][]byte
	for rest := []byte(req.Certs); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			ders = append(ders, b.Bytes)
		}
	}
	f, err := a.db.PutForeignCA(r.Context(), store.ForeignCA{
		Name: r.PathValue("name"), Group: req.Group, Certs: ders, IDFrom: req.IDFrom,
		FirstConnect: req.FirstConnect, Allowed: req.Allowed,
	}, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wireForeignCA(f))
}

// listForeignCAs serves GET /v1/foreign-cas.
func (a *API) listForeignCAs(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	cas, err := a.db.ForeignCAs(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ForeignCAList{ForeignCAs: wireList(cas, wireForeignCA)})
}

func wireForeignCA(f store.ForeignCA) wire.ForeignCA {
	out := wire.ForeignCA{Name: f.Name, Group: f.Group, IDFrom: f.IDFrom, FirstConnect: f.FirstConnect,
		Allowed: len(f.Allowed), CreatedAt: f.CreatedAt}
	for _, der := range f.Certs {
		subject := "(unparsable)"
		if c, err := x509.ParseCertificate(der); err == nil {
			subject = fmt.Sprint(c.Subject)
		}
		out.Subjects = append(out.Subjects, subject)
	}
	return out
}
