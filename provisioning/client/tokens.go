package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// CreateTokens makes one-time enrollment tokens for a group that allows
// them. The plaintexts are in the answer only; keep them safe.
func (c *Client) CreateTokens(ctx context.Context, req wire.CreateTokensRequest) (wire.CreatedTokens, error) {
	var out wire.CreatedTokens
	err := c.do(ctx, http.MethodPost, wire.PathTokens, nil, req, &out, http.StatusCreated)
	return out, err
}

// Tokens lists the tokens of a group (every group when empty), by hash.
func (c *Client) Tokens(ctx context.Context, group string) ([]wire.Token, error) {
	q := url.Values{}
	if group != "" {
		q.Set("group", group)
	}
	var list wire.TokenList
	err := c.do(ctx, http.MethodGet, wire.PathTokens, q, nil, &list, http.StatusOK)
	return list.Tokens, err
}
