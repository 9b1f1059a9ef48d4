package client

import (
	"context"
	"io"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// ImportDevices pre-registers the devices in body, a CSV (wire.ImportCSV)
// or JSON-lines (wire.ImportJSONL) file, contentType saying which. The whole
// file goes in or nothing does; a refused row comes back as a bad request
// naming its line.
func (c *Client) ImportDevices(ctx context.Context, contentType string, body io.Reader) (wire.ImportResult, error) {
	var out wire.ImportResult
	err := c.send(ctx, http.MethodPost, wire.PathDevicesImport, nil, contentType, body, &out, http.StatusOK)
	return out, err
}
