package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// maxResponseBytes bounds how much of an answer the client reads; the
// largest legitimate answer (a full audit log page) is far below it.
const maxResponseBytes = 32 << 20

// Client talks to the operator API over mutual TLS. It is safe for
// concurrent use.
type Client struct {
	base string
	http *http.Client
}

// New returns a client for the server at baseURL (for example
// "https://127.0.0.1:8443") authenticating with tlsCfg, usually from LoadTLS.
// Deadlines come from the context of each call.
func New(baseURL string, tlsCfg *tls.Config) *Client {
	transport := &http.Transport{
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 15 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &Client{
		base: strings.TrimRight(baseURL, "/"),
		http: &http.Client{Transport: transport},
	}
}

// CloseIdleConnections closes kept-alive connections, for callers that are
// done with the client.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// do sends in as JSON and decodes the answer into out when the status is
// want. Any other status is decoded as an *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, want int) error {
	if in == nil {
		return c.send(ctx, method, path, query, "", nil, out, want)
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	return c.send(ctx, method, path, query, "application/json", bytes.NewReader(raw), out, want)
}

// send sends body as contentType and decodes the JSON answer into out when
// the status is want. Any other status is decoded as an *APIError.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, contentType string, body io.Reader, out any, want int) error {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%w: reading the answer to %s %s: %w", ErrUnreachable, method, path, err)
	}
	if resp.StatusCode != want {
		return decodeError(resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode answer to %s %s: %w", method, path, err)
	}
	return nil
}

// decodeError turns a refusal into an *APIError, keeping the status even when
// the body is not ours (a proxy's error page, for example).
func decodeError(status int, raw []byte) error {
	var body wire.ErrorBody
	if err := json.Unmarshal(raw, &body); err != nil || body.Error.Code == "" {
		msg := strings.TrimSpace(string(raw))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return &APIError{Status: status, Code: codeForStatus(status), Message: msg}
	}
	return &APIError{Status: status, Code: body.Error.Code, Message: body.Error.Message}
}

// codeForStatus guesses a code for an answer that carries none.
func codeForStatus(status int) wire.Code {
	switch status {
	case http.StatusNotFound:
		return wire.CodeNotFound
	case http.StatusConflict:
		return wire.CodeExists
	case http.StatusBadRequest:
		return wire.CodeBadRequest
	case http.StatusUnauthorized, http.StatusForbidden:
		return wire.CodeUnauthenticated
	case http.StatusInsufficientStorage:
		return wire.CodeRegistryFull
	default:
		return wire.CodeInternal
	}
}
