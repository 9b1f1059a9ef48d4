package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/fleetgate/fleetgate/store"
)

// CreateTokens makes one-time enrollment tokens for a group that allows
// them. The plaintexts are in the answer only; keep them safe.
func (c *Client) CreateTokens(ctx context.Context, req CreateTokensRequest) (CreatedTokens, error) {
	var out CreatedTokens
	err := c.do(ctx, http.MethodPost, "/v1/tokens", nil, req, &out, http.StatusCreated)
	return out, err
}

// Tokens lists the tokens of a group (every group when empty), by hash.
func (c *Client) Tokens(ctx context.Context, group string) ([]store.Token, error) {
	q := url.Values{}
	if group != "" {
		q.Set("group", group)
	}
	var list TokenList
	err := c.do(ctx, http.MethodGet, "/v1/tokens", q, nil, &list, http.StatusOK)
	return list.Tokens, err
}
