package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// RegisterDevice records a new active device.
func (c *Client) RegisterDevice(ctx context.Context, req wire.RegisterRequest) (wire.Device, error) {
	var d wire.Device
	err := c.do(ctx, http.MethodPost, wire.PathDevices, nil, req, &d, http.StatusCreated)
	return d, err
}

// Devices lists the devices matching f.
func (c *Client) Devices(ctx context.Context, f DeviceFilter) ([]wire.Device, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.Group != "" {
		q.Set("group", f.Group)
	}
	var list wire.DeviceList
	err := c.do(ctx, http.MethodGet, wire.PathDevices, q, nil, &list, http.StatusOK)
	return list.Devices, err
}

// Device returns one device with its certificates.
func (c *Client) Device(ctx context.Context, id string) (wire.DeviceDetail, error) {
	var d wire.DeviceDetail
	err := c.do(ctx, http.MethodGet, wire.Expand(wire.PathDevice, id), nil, nil, &d, http.StatusOK)
	return d, err
}

// Suspend stops a device from connecting until it is resumed. The broker
// drops its live session.
func (c *Client) Suspend(ctx context.Context, id, reason string) (wire.Device, error) {
	return c.setStatus(ctx, wire.PathDeviceSuspend, id, reason)
}

// Resume lets a suspended device connect again.
func (c *Client) Resume(ctx context.Context, id, reason string) (wire.Device, error) {
	return c.setStatus(ctx, wire.PathDeviceResume, id, reason)
}

// Revoke retires a device for good, with its certificates. The reason is
// required.
func (c *Client) Revoke(ctx context.Context, id, reason string) (wire.Device, error) {
	return c.setStatus(ctx, wire.PathDeviceRevoke, id, reason)
}

func (c *Client) setStatus(ctx context.Context, route, id, reason string) (wire.Device, error) {
	var d wire.Device
	err := c.do(ctx, http.MethodPost, wire.Expand(route, id), nil, wire.ReasonRequest{Reason: reason}, &d, http.StatusOK)
	return d, err
}
