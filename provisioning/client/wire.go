package client

import (
	"time"

	"github.com/fleetgate/fleetgate/store"
)

// RegisterRequest is the body of POST /v1/devices.
type RegisterRequest struct {
	ID        string            `json:"id"`
	Group     string            `json:"group,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Publish   []string          `json:"publish,omitempty"`
	Subscribe []string          `json:"subscribe,omitempty"`
}

// DeviceFilter narrows GET /v1/devices; empty fields match everything.
type DeviceFilter struct {
	Status store.DeviceStatus
	Group  string
}

// DeviceList is the answer of GET /v1/devices.
type DeviceList struct {
	Devices []store.Device `json:"devices"`
}

// DeviceDetail is the answer of GET /v1/devices/{id}: the device and every
// certificate issued to it (without DER).
type DeviceDetail struct {
	Device       store.Device        `json:"device"`
	Certificates []store.Certificate `json:"certificates"`
}

// ReasonRequest is the body of the suspend, resume and revoke routes. The
// reason is stored on the record and in the audit log; revocations need one.
type ReasonRequest struct {
	Reason string `json:"reason,omitempty"`
}

// IssueRequest is the body of POST /v1/devices/{id}/certificates.
type IssueRequest struct {
	// CSR is the PEM certificate signing request. Only its public key and
	// signature are used: every certificate field comes from the registry.
	CSR string `json:"csr"`
	// Lifetime is a Go duration such as "720h"; empty means the server's
	// default.
	Lifetime string `json:"lifetime,omitempty"`
}

// IssuedCertificate is the answer of POST /v1/devices/{id}/certificates.
type IssuedCertificate struct {
	Serial      string    `json:"serial"`
	Fingerprint string    `json:"fingerprint"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	// Certificate is the PEM leaf alone.
	Certificate string `json:"certificate"`
	// Chain is the PEM leaf followed by the device CA: what a device hands
	// to TLS.
	Chain string `json:"chain"`
}

// CertificateList is the answer of GET /v1/certificates.
type CertificateList struct {
	Certificates []store.Certificate `json:"certificates"`
}

// CertificateDetail is the answer of GET /v1/certificates/{serial}: the
// registry record (without DER) plus the certificate as PEM.
type CertificateDetail struct {
	store.Certificate
	PEM string `json:"pem"`
}

// AuditQuery narrows GET /v1/audit; zero fields match everything.
type AuditQuery struct {
	Target string
	Action string
	Since  time.Time
	Limit  int
	// After, when set, pages forward: the first Limit events whose
	// sequence number is above After.
	After *uint64
}

// AuditList is the answer of GET /v1/audit.
type AuditList struct {
	Events []store.AuditEvent `json:"events"`
}

// CABundle is the answer of GET /v1/ca: the public trust material.
type CABundle struct {
	// Root is the PEM root certificate that anchors the server certificate
	// and every CA below it.
	Root string `json:"root"`
	// DeviceCA is the PEM chain of the CA that issues device certificates.
	DeviceCA string `json:"device_ca"`
}

// ErrorBody is the body of every refused request.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the stable code and the human message of a refusal.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes of ErrorDetail.Code. Scripts may branch on them.
const (
	CodeNotFound        = "not_found"
	CodeExists          = "exists"
	CodeInvalidState    = "invalid_state"
	CodeBadRequest      = "bad_request"
	CodeUnauthenticated = "unauthenticated"
	CodeInternal        = "internal"
)
