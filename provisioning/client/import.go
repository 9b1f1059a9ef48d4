package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// ImportDevices pre-registers the devices in body, a CSV (ImportCSV) or
// JSON-lines (ImportJSONL) file. The whole file goes in or nothing does; a
// refused row comes back as a bad request naming its line.
func (c *Client) ImportDevices(ctx context.Context, contentType string, body io.Reader) (ImportResult, error) {
	const path = "/v1/devices/import"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, body)
	if err != nil {
		return ImportResult{}, fmt.Errorf("build request POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w at %s: %w", ErrUnreachable, c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w: reading the answer to POST %s: %w", ErrUnreachable, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return ImportResult{}, decodeError(resp.StatusCode, raw)
	}
	var out ImportResult
	if err := json.Unmarshal(raw, &out); err != nil {
		return ImportResult{}, fmt.Errorf("decode answer to POST %s: %w", path, err)
	}
	return out, nil
}
