package enroll

import "context"

// Routes of the protocol, relative to the base URL.
const (
	PathTPMStart       = "/v1/enroll/tpm/start"
	PathTPMFinish      = "/v1/enroll/tpm/finish"
	PathToken          = "/v1/enroll/token"
	PathRotationStart  = "/v1/rotate/start"
	PathRotationFinish = "/v1/rotate/finish"
)

// StartTPM begins a TPM-attested enrollment: the answer's credential goes to
// TPM2_ActivateCredential, its nonce to TPM2_Certify.
func (c *Client) StartTPM(ctx context.Context, r TPMStartRequest) (TPMStartResponse, error) {
	var out TPMStartResponse
	err := c.post(ctx, PathTPMStart, r, &out)
	return out, err
}

// FinishTPM completes a TPM-attested enrollment and returns the device
// certificate.
func (c *Client) FinishTPM(ctx context.Context, r TPMFinishRequest) (Issued, error) {
	var out Issued
	err := c.post(ctx, PathTPMFinish, r, &out)
	return out, err
}

// EnrollToken enrolls a device with a one-time token and a software key.
func (c *Client) EnrollToken(ctx context.Context, r TokenRequest) (Issued, error) {
	var out Issued
	err := c.post(ctx, PathToken, r, &out)
	return out, err
}

// StartRotation asks for the nonce to certify a new TPM key with. The
// client must present the current certificate (WithClientCertificate).
// Software-key devices skip it and call FinishRotation with a CSR alone.
func (c *Client) StartRotation(ctx context.Context) (RotationChallenge, error) {
	var out RotationChallenge
	err := c.post(ctx, PathRotationStart, nil, &out)
	return out, err
}

// FinishRotation gets a certificate for the new key. The current one stays
// valid until the device first connects with the new one. Repeating the
// call with the same key (after a lost reply) returns the same certificate.
// The client must present the current certificate (WithClientCertificate).
func (c *Client) FinishRotation(ctx context.Context, r RotationRequest) (Issued, error) {
	var out Issued
	err := c.post(ctx, PathRotationFinish, r, &out)
	return out, err
}
