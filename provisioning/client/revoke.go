package client

import (
	"context"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// RevokeBulk revokes a group, a list of devices or every certificate of
// one issuing CA key with one reason, all or nothing; see
// wire.BulkRevokeRequest.
func (c *Client) RevokeBulk(ctx context.Context, req wire.BulkRevokeRequest) (wire.BulkRevokeResult, error) {
	var out wire.BulkRevokeResult
	err := c.do(ctx, http.MethodPost, wire.PathRevocations, nil, req, &out, http.StatusOK)
	return out, err
}
