package enroll

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// StartTPM begins a TPM-attested enrollment: the answer's credential goes to
// TPM2_ActivateCredential, its nonce to TPM2_Certify.
func (c *Client) StartTPM(ctx context.Context, r wire.TPMStartRequest) (wire.TPMStartResponse, error) {
	var out wire.TPMStartResponse
	err := c.post(ctx, wire.PathTPMStart, r, &out)
	return out, err
}

// FinishTPM completes a TPM-attested enrollment and returns the device
// certificate.
func (c *Client) FinishTPM(ctx context.Context, r wire.TPMFinishRequest) (wire.Issued, error) {
	var out wire.Issued
	err := c.post(ctx, wire.PathTPMFinish, r, &out)
	return out, err
}

// EnrollToken enrolls a device with a one-time token and a software key.
func (c *Client) EnrollToken(ctx context.Context, r wire.TokenRequest) (wire.Issued, error) {
	var out wire.Issued
	err := c.post(ctx, wire.PathToken, r, &out)
	return out, err
}

// StartRotation asks for the nonce to certify a new TPM key with. The
// client must present the current certificate (WithClientCertificate).
// Software-key devices skip it and call FinishRotation with a CSR alone.
func (c *Client) StartRotation(ctx context.Context) (wire.RotationChallenge, error) {
	var out wire.RotationChallenge
	err := c.post(ctx, wire.PathRotationStart, nil, &out)
	return out, err
}

// FinishRotation gets a certificate for the new key. The current one stays
// valid until the device first connects with the new one. Repeating the
// call with the same key (after a lost reply) returns the same certificate.
// The client must present the current certificate (WithClientCertificate).
func (c *Client) FinishRotation(ctx context.Context, r wire.RotationRequest) (wire.Issued, error) {
	var out wire.Issued
	err := c.post(ctx, wire.PathRotationFinish, r, &out)
	return out, err
}

// TrustBundle fetches the signed trust bundle (wire.TrustBundle) as raw
// JSON, for the caller to verify against the roots it holds. The client
// must present the current certificate (WithClientCertificate).
func (c *Client) TrustBundle(ctx context.Context) ([]byte, error) {
	var out json.RawMessage
	err := c.do(ctx, http.MethodGet, wire.PathTrustBundle, nil, &out)
	return out, err
}
