package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// maxResponseBytes bounds what the client reads of an answer; the largest
// legitimate one, a certificate chain, is a few KiB.
const maxResponseBytes = 1 << 20

// Client calls the enrollment and rotation routes. It is safe for concurrent
// use. Deadlines come from the context of each call.
type Client struct {
	base string
	tls  *tls.Config
	http *http.Client
}

// New returns a client for the provisioning service at baseURL (for
// example "https://provisioning.example:8443"). rootCAs must hold the
// fleetgate root that signs the server's certificate; nil means the system
// roots, which is rarely what a device wants.
func New(baseURL string, rootCAs *x509.CertPool) *Client {
	cfg := &tls.Config{RootCAs: rootCAs, MinVersion: tls.VersionTLS12}
	return newClient(strings.TrimRight(baseURL, "/"), cfg)
}

func newClient(base string, cfg *tls.Config) *Client {
	transport := &http.Transport{
		TLSClientConfig:     cfg,
		TLSHandshakeTimeout: 30 * time.Second, // a TPM-held key signs slowly
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &Client{base: base, tls: cfg, http: &http.Client{Transport: transport}}
}

// WithClientCertificate returns a copy of c that presents the certificate
// get returns at every TLS handshake, as rotation requires. get is asked
// afresh for each new connection, so after a rotation the new certificate
// is used without building another client. The copy has its own
// connections; c is unchanged.
func (c *Client) WithClientCertificate(get func(*tls.CertificateRequestInfo) (*tls.Certificate, error)) *Client {
	cfg := c.tls.Clone()
	cfg.GetClientCertificate = get
	return newClient(c.base, cfg)
}

// CloseIdleConnections closes kept-alive connections, for callers that are
// done with the client for a while.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// post sends in as JSON and decodes a 2xx answer into out; any other
// status becomes an *Error.
func (c *Client) post(ctx context.Context, path string, in, out any) error {
	return c.do(ctx, http.MethodPost, path, in, out)
}

// do sends a request with in (nil: no body) as JSON and decodes a 2xx
// answer into out; any other status becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("enroll: encode request: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("enroll: build request %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s%s: %w", ErrUnreachable, method, c.base, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%w: reading the answer to %s %s: %w", ErrUnreachable, method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("enroll: decode answer to %s %s: %w", method, path, err)
	}
	return nil
}

// decodeError turns a refusal into an *Error, keeping the status even when
// the body is not the server's (a proxy's error page).
func decodeError(status int, raw []byte) error {
	var body wire.ErrorBody
	if err := json.Unmarshal(raw, &body); err == nil && body.Error.Code != "" {
		return &Error{Status: status, Code: body.Error.Code, Message: body.Error.Message}
	}
	msg := strings.TrimSpace(string(raw))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &Error{Status: status, Code: codeForStatus(status), Message: msg}
}

// codeForStatus guesses a code for an answer that carries none.
func codeForStatus(status int) wire.Code {
	switch status {
	case http.StatusBadRequest:
		return wire.CodeBadRequest
	case http.StatusUnauthorized:
		return wire.CodeUnauthenticated
	case http.StatusNotFound:
		return wire.CodeNotFound
	default:
		return wire.CodeInternal
	}
}
