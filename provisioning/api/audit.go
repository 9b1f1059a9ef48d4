package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// maxAuditLimit caps one audit page so that a single request cannot make
// the server build an answer of unbounded size.
const maxAuditLimit = 10000

// audit serves GET /v1/audit?target=&action=&since=&limit=&after=. Without
// after it answers the last limit events; with after=SEQ, the first limit
// events whose sequence number is above SEQ (forward paging, for export).
func (a *API) audit(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	q := r.URL.Query()
	f := store.AuditFilter{Target: q.Get("target"), Action: q.Get("action"), Limit: maxAuditLimit}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			a.fail(w, r, fmt.Errorf("%w: since %q: want an RFC 3339 time such as 2025-01-31T12:00:00Z", errBadRequest, s))
			return
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditLimit {
			a.fail(w, r, fmt.Errorf("%w: limit %q: want a number from 1 to %d", errBadRequest, s, maxAuditLimit))
			return
		}
		f.Limit = n
	}
	if s := q.Get("after"); s != "" {
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			a.fail(w, r, fmt.Errorf("%w: after %q: want an audit sequence number", errBadRequest, s))
			return
		}
		f.AfterSeq, f.Head, f.Limit = seq, f.Limit, 0
	}
	events, err := a.db.Audit(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.AuditList{Events: wireList(events, wireEvent)})
}
