package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// Why asks why a device cannot connect: its state and the refusals any
// broker recorded for it, in plain words.
func (c *Client) Why(ctx context.Context, id string) (wire.Diagnosis, error) {
	var d wire.Diagnosis
	err := c.do(ctx, http.MethodGet, wire.Expand(wire.PathDeviceWhy, id), nil, nil, &d, http.StatusOK)
	return d, err
}

// Refusals lists the newest recorded refusals (limit 0: the server's
// default), or only those of certificates naming no registered device.
func (c *Client) Refusals(ctx context.Context, unregistered bool, limit int) (wire.RefusalList, error) {
	q := url.Values{}
	if unregistered {
		q.Set("unregistered", "true")
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var list wire.RefusalList
	err := c.do(ctx, http.MethodGet, wire.PathRefusals, q, nil, &list, http.StatusOK)
	return list, err
}
