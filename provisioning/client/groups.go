package client

import (
	"context"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// PutGroup creates or updates a group's enrollment policy.
func (c *Client) PutGroup(ctx context.Context, name string, req wire.GroupRequest) (wire.Group, error) {
	var g wire.Group
	err := c.do(ctx, http.MethodPut, wire.Expand(wire.PathGroup, name), nil, req, &g, http.StatusOK)
	return g, err
}

// Groups lists every group, sorted by name.
func (c *Client) Groups(ctx context.Context) ([]wire.Group, error) {
	var list wire.GroupList
	err := c.do(ctx, http.MethodGet, wire.PathGroups, nil, nil, &list, http.StatusOK)
	return list.Groups, err
}
