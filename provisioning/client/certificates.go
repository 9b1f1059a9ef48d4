package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// IssueCertificate asks the CA to sign csrPEM for the device. A zero lifetime
// takes the server's default.
func (c *Client) IssueCertificate(ctx context.Context, id string, csrPEM []byte, lifetime time.Duration) (wire.Issued, error) {
	req := wire.IssueRequest{CSR: string(csrPEM)}
	if lifetime != 0 {
		req.Lifetime = lifetime.String()
	}
	var out wire.Issued
	err := c.do(ctx, http.MethodPost, wire.Expand(wire.PathDeviceCertificates, id), nil, req, &out, http.StatusCreated)
	return out, err
}

// Certificates lists the certificates of one device, or of all devices when
// deviceID is empty.
func (c *Client) Certificates(ctx context.Context, deviceID string) ([]wire.Certificate, error) {
	q := url.Values{}
	if deviceID != "" {
		q.Set("device", deviceID)
	}
	var list wire.CertificateList
	err := c.do(ctx, http.MethodGet, wire.PathCertificates, q, nil, &list, http.StatusOK)
	return list.Certificates, err
}

// CountCertificates counts the certificates with the status (any, when
// empty) signed by one of the issuers (wire.Certificate.IssuerKeyID; any, when
// none) and names a few of their devices.
func (c *Client) CountCertificates(ctx context.Context, status wire.CertStatus, issuers []string) (wire.CertificateCount, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", string(status))
	}
	for _, id := range issuers {
		q.Add("issuer", id)
	}
	var out wire.CertificateCount
	err := c.do(ctx, http.MethodGet, wire.PathCertificateCount, q, nil, &out, http.StatusOK)
	return out, err
}

// Certificate returns one certificate record with its PEM.
func (c *Client) Certificate(ctx context.Context, serial string) (wire.CertificateDetail, error) {
	var out wire.CertificateDetail
	err := c.do(ctx, http.MethodGet, wire.Expand(wire.PathCertificate, serial), nil, nil, &out, http.StatusOK)
	return out, err
}

// RevokeCertificate revokes one certificate; the device stays registered and
// may be issued a new one. The reason is required.
func (c *Client) RevokeCertificate(ctx context.Context, serial, reason string) (wire.Certificate, error) {
	var out wire.Certificate
	err := c.do(ctx, http.MethodPost, wire.Expand(wire.PathCertificateRevoke, serial), nil, wire.ReasonRequest{Reason: reason}, &out, http.StatusOK)
	return out, err
}
