package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// IssueCertificate asks the CA to sign csrPEM for the device. A zero lifetime
// takes the server's default.
func (c *Client) IssueCertificate(ctx context.Context, id string, csrPEM []byte, lifetime time.Duration) (IssuedCertificate, error) {
	req := IssueRequest{CSR: string(csrPEM)}
	if lifetime != 0 {
		req.Lifetime = lifetime.String()
	}
	var out IssuedCertificate
	err := c.do(ctx, http.MethodPost, devicePath(id)+"/certificates", nil, req, &out, http.StatusCreated)
	return out, err
}

// Certificates lists the certificates of one device, or of all devices when
// deviceID is empty.
func (c *Client) Certificates(ctx context.Context, deviceID string) ([]store.Certificate, error) {
	q := url.Values{}
	if deviceID != "" {
		q.Set("device", deviceID)
	}
	var list CertificateList
	err := c.do(ctx, http.MethodGet, "/v1/certificates", q, nil, &list, http.StatusOK)
	return list.Certificates, err
}

// Certificate returns one certificate record with its PEM.
func (c *Client) Certificate(ctx context.Context, serial string) (CertificateDetail, error) {
	var out CertificateDetail
	err := c.do(ctx, http.MethodGet, certPath(serial), nil, nil, &out, http.StatusOK)
	return out, err
}

// RevokeCertificate revokes one certificate; the device stays registered and
// may be issued a new one. The reason is required.
func (c *Client) RevokeCertificate(ctx context.Context, serial, reason string) (store.Certificate, error) {
	var out store.Certificate
	err := c.do(ctx, http.MethodPost, certPath(serial)+"/revoke", nil, ReasonRequest{Reason: reason}, &out, http.StatusOK)
	return out, err
}

func certPath(serial string) string { return "/v1/certificates/" + url.PathEscape(serial) }
