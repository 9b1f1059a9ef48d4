package client

import (
	"context"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// SetGroupACL replaces a group's ACL templates.
func (c *Client) SetGroupACL(ctx context.Context, name string, req wire.ACLRequest) (wire.Group, error) {
	var g wire.Group
	err := c.do(ctx, http.MethodPut, wire.Expand(wire.PathGroupACL, name), nil, req, &g, http.StatusOK)
	return g, err
}

// SetDeviceGrants replaces a device's own ACL grants.
func (c *Client) SetDeviceGrants(ctx context.Context, id string, req wire.ACLRequest) (wire.Device, error) {
	var d wire.Device
	err := c.do(ctx, http.MethodPut, wire.Expand(wire.PathDeviceGrants, id), nil, req, &d, http.StatusOK)
	return d, err
}

// SetGroupLimits replaces a group's per-device limits.
func (c *Client) SetGroupLimits(ctx context.Context, name string, l wire.Limits) (wire.Group, error) {
	var g wire.Group
	err := c.do(ctx, http.MethodPut, wire.Expand(wire.PathGroupLimits, name), nil, l, &g, http.StatusOK)
	return g, err
}

// SetDeviceProfile replaces a device's group and metadata.
func (c *Client) SetDeviceProfile(ctx context.Context, id string, req wire.ProfileRequest) (wire.Device, error) {
	var d wire.Device
	err := c.do(ctx, http.MethodPut, wire.Expand(wire.PathDeviceProfile, id), nil, req, &d, http.StatusOK)
	return d, err
}
