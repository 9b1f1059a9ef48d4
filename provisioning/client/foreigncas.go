package client

import (
	"context"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// PutForeignCA registers or replaces a foreign device CA.
func (c *Client) PutForeignCA(ctx context.Context, name string, req wire.ForeignCARequest) (wire.ForeignCA, error) {
	var f wire.ForeignCA
	err := c.do(ctx, http.MethodPut, wire.Expand(wire.PathForeignCA, name), nil, req, &f, http.StatusOK)
	return f, err
}

// ForeignCAs lists the foreign device CAs, sorted by name.
func (c *Client) ForeignCAs(ctx context.Context) ([]wire.ForeignCA, error) {
	var list wire.ForeignCAList
	err := c.do(ctx, http.MethodGet, wire.PathForeignCAs, nil, nil, &list, http.StatusOK)
	return list.ForeignCAs, err
}
