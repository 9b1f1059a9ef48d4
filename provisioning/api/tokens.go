package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// maxTokenTTL bounds a token's lifetime: a token is a credential lying
// around on a factory floor, and one that never expires is a standing
// invitation.
const maxTokenTTL = 90 * 24 * time.Hour

// createTokens serves POST /v1/tokens. The plaintexts leave the server in
// this answer only; the registry stores their hashes.
func (a *API) createTokens(w http.ResponseWriter, r *http.Request, by store.Actor) {
	var req wire.CreateTokensRequest
	if err := a.decode(w, r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if strings.TrimSpace(req.Group) == "" {
		a.fail(w, r, fmt.Errorf("%w: group is required", errBadRequest))
		return
	}
	count := req.Count
	if count == 0 {
		count = 1
	}
	if count < 1 || count > store.MaxTokens {
		a.fail(w, r, fmt.Errorf("%w: count %d: want 1 to %d", errBadRequest, req.Count, store.MaxTokens))
		return
	}
	ttl := a.cfg.TokenTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > maxTokenTTL {
			a.fail(w, r, fmt.Errorf("%w: ttl %q: want a positive duration up to %s, such as \"24h\"", errBadRequest, req.TTL, maxTokenTTL))
			return
		}
		ttl = d
	}
	// Taken before the registry stamps the tokens, so the answer never
	// promises more time than they have.
	expires := a.now().Add(ttl).UTC()
	tokens, err := a.db.CreateTokens(r.Context(), req.Group, count, ttl, by)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.CreatedTokens{Group: req.Group, Tokens: tokens, ExpiresAt: expires})
}

// listTokens serves GET /v1/tokens?group=.
func (a *API) listTokens(w http.ResponseWriter, r *http.Request, _ store.Actor) {
	tokens, err := a.db.Tokens(r.Context(), r.URL.Query().Get("group"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.TokenList{Tokens: wireList(tokens, wireToken)})
}
