package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/fleetgate/fleetgate/store"
)

// RegisterDevice records a new active device.
func (c *Client) RegisterDevice(ctx context.Context, req RegisterRequest) (store.Device, error) {
	var d store.Device
	err := c.do(ctx, http.MethodPost, "/v1/devices", nil, req, &d, http.StatusCreated)
	return d, err
}

// Devices lists the devices matching f.
func (c *Client) Devices(ctx context.Context, f DeviceFilter) ([]store.Device, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.Group != "" {
		q.Set("group", f.Group)
	}
	var list DeviceList
	err := c.do(ctx, http.MethodGet, "/v1/devices", q, nil, &list, http.StatusOK)
	return list.Devices, err
}

// Device returns one device with its certificates.
func (c *Client) Device(ctx context.Context, id string) (DeviceDetail, error) {
	var d DeviceDetail
	err := c.do(ctx, http.MethodGet, devicePath(id), nil, nil, &d, http.StatusOK)
	return d, err
}

// Suspend stops a device from connecting until it is resumed. The broker
// drops its live session.
func (c *Client) Suspend(ctx context.Context, id, reason string) (store.Device, error) {
	return c.setStatus(ctx, id, "suspend", reason)
}

// Resume lets a suspended device connect again.
func (c *Client) Resume(ctx context.Context, id, reason string) (store.Device, error) {
	return c.setStatus(ctx, id, "resume", reason)
}

// Revoke retires a device for good, with its certificates. The reason is
// required.
func (c *Client) Revoke(ctx context.Context, id, reason string) (store.Device, error) {
	return c.setStatus(ctx, id, "revoke", reason)
}

func (c *Client) setStatus(ctx context.Context, id, verb, reason string) (store.Device, error) {
	var d store.Device
	err := c.do(ctx, http.MethodPost, devicePath(id)+"/"+verb, nil, ReasonRequest{Reason: reason}, &d, http.StatusOK)
	return d, err
}

// devicePath escapes the ID so that a malformed one reaches the server as a
// single path segment and is refused there, never routed elsewhere.
func devicePath(id string) string { return "/v1/devices/" + url.PathEscape(id) }
