package wire

import "time"

// RegisterRequest is the body of POST PathDevices; the answer is the new
// Device.
type RegisterRequest struct {
	ID        string            `json:"id"`
	Group     string            `json:"group,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Publish   []string          `json:"publish,omitempty"`
	Subscribe []string          `json:"subscribe,omitempty"`
}

// DeviceList is the answer of GET PathDevices?status=&group=.
type DeviceList struct {
	Devices []Device `json:"devices"`
}

// DeviceDetail is the answer of GET PathDevice: the device and every
// certificate issued to it.
type DeviceDetail struct {
	Device       Device        `json:"device"`
	Certificates []Certificate `json:"certificates"`
}

// ReasonRequest is the body of the suspend, resume and revoke routes of a
// device and of a certificate. The reason is stored on the record and in
// the audit log; revocations need one.
type ReasonRequest struct {
	Reason string `json:"reason,omitempty"`
}

// IssueRequest is the body of POST PathDeviceCertificates; the answer is
// an Issued.
type IssueRequest struct {
	// CSR is the PEM certificate signing request. Only its public key and
	// signature are used: every certificate field comes from the registry.
	CSR string `json:"csr"`
	// Lifetime is a Go duration such as "720h"; empty means the server's
	// default.
	Lifetime string `json:"lifetime,omitempty"`
}

// Issued is a newly issued device certificate: the answer of an operator's
// issue, of an enrollment and of a rotation.
type Issued struct {
	Serial      string    `json:"serial"`      // lower-case hex
	Fingerprint string    `json:"fingerprint"` // lower-case hex SHA-256 of the DER
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	// Certificate is the PEM leaf alone.
	Certificate string `json:"certificate"`
	// Chain is the PEM leaf followed by the device CA: what a device hands
	// to TLS.
	Chain string `json:"chain"`
}

// CertificateList is the answer of GET PathCertificates?device=.
type CertificateList struct {
	Certificates []Certificate `json:"certificates"`
}

// CertificateCount is the answer of GET PathCertificateCount?status=&issuer=:
// how many certificates have the status (any, when not given) and were
// signed by one of the issuers (repeated parameter, Certificate.IssuerKeyID;
// any, when not given), and the devices holding the first of them.
type CertificateCount struct {
	Count int `json:"count"`
	// Devices lists the distinct devices of the first matching
	// certificates in issue order, at most CountSampleDevices of them.
	Devices []string `json:"devices"`
}

// CountSampleDevices bounds CertificateCount.Devices.
const CountSampleDevices = 10

// CertificateDetail is the answer of GET PathCertificate: the record plus
// the certificate as PEM. The record's fields sit at the top level of the
// JSON object, next to pem.
type CertificateDetail struct {
	Certificate
	PEM string `json:"pem"`
}

// AuditList is the answer of GET PathAudit?target=&action=&since=&limit=&after=.
type AuditList struct {
	Events []AuditEvent `json:"events"`
}

// CABundle is the answer of GET PathCA: the public trust material.
//
// Outside a root rollover Root and Roots hold the same certificate.
// During one (`fleetgate ca root-rollover begin` to `finish`) Root is the
// new root and Roots holds the new root then the previous one: a client
// that trusts Roots verifies the server and every device under either
// root. Clients written before Roots existed read Root alone, as before,
// and verify the server through the cross-certificate it sends.
type CABundle struct {
	// Root is the PEM root certificate that anchors the server certificate
	// and every CA below it: the current root.
	Root string `json:"root"`
	// Roots is PEM: the roots in force, the current one first; during a
	// root rollover the previous root follows (the order of
	// TrustBundleContent.Roots).
	Roots string `json:"roots"`
	// DeviceCA is the PEM chain of the CA that issues device certificates.
	DeviceCA string `json:"device_ca"`
}
