package store

import "time"

// DeviceStatus is the lifecycle state of a device.
type DeviceStatus string

// Device states. Only an active device may connect. Suspended can return to
// active; revoked is final.
const (
	DeviceActive    DeviceStatus = "active"
	DeviceSuspended DeviceStatus = "suspended"
	DeviceRevoked   DeviceStatus = "revoked"
)

// CertStatus is the state of one issued certificate.
type CertStatus string

// Certificate states. Only an active certificate admits its device.
// Superseded is set once a device connects with the certificate that
// rotated it out (MarkSuperseded); revoked is final.
const (
	CertActive     CertStatus = "active"
	CertSuperseded CertStatus = "superseded"
	CertRevoked    CertStatus = "revoked"
)

// Attestation records how the CA convinced itself that the certificate's key
// belongs to the device.
type Attestation string

// Attestation kinds.
const (
	// AttestOperator: an operator submitted the CSR through the operator API.
	AttestOperator Attestation = "operator"
	// AttestTPM: the key was certified by the device's TPM.
	AttestTPM Attestation = "tpm"
	// AttestToken: the device presented a one-time enrollment token.
	AttestToken Attestation = "token"
	// AttestForeign: the certificate was issued by a registered foreign
	// device CA (a chip vendor's or manufacturer's), not by us; the
	// registry recorded it when the device first connected.
	AttestForeign Attestation = "foreign"
)

// Device is one registry entry.
type Device struct {
	ID        string            `json:"id"`
	Status    DeviceStatus      `json:"status"`
	Reason    string            `json:"reason,omitempty"` // why it was suspended or revoked
	Group     string            `json:"group,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`

	// ACL grants beyond the device's own namespace devices/<id>/#: MQTT
	// topic filters the device may publish to and subscribe within.
	Publish   []string `json:"publish,omitempty"`
	Subscribe []string `json:"subscribe,omitempty"`

	// Filled by factory pre-registration (EKHash) and TPM enrollment.
	EKHash   string `json:"ek_hash,omitempty"`   // hex SHA-256 of the EK public area
	AKPublic []byte `json:"ak_public,omitempty"` // TPM2B_PUBLIC of the attestation key
}

// Certificate is the registry's record of one issued device certificate.
type Certificate struct {
	Serial      string      `json:"serial"`      // lower-case hex, no leading zeros
	Fingerprint string      `json:"fingerprint"` // lower-case hex SHA-256 of the DER
	DeviceID    string      `json:"device_id"`
	NotBefore   time.Time   `json:"not_before"`
	NotAfter    time.Time   `json:"not_after"`
	Status      CertStatus  `json:"status"`
	Attestation Attestation `json:"attestation"`
	IssuedAt    time.Time   `json:"issued_at"`
	RevokedAt   time.Time   `json:"revoked_at,omitzero"`
	Reason      string      `json:"reason,omitempty"`
	DER         []byte      `json:"der,omitempty"`

	// KeyHash is the lower-case hex SHA-256 of the certificate's
	// SubjectPublicKeyInfo DER. Together with Supersedes it lets a rotation
	// whose reply was lost be retried without issuing twice (FindRotation).
	KeyHash string `json:"key_hash,omitempty"`
	// Supersedes is the serial of the certificate this one replaces by
	// rotation. The old one stays active until the device first connects
	// with the new one (MarkSuperseded).
	Supersedes string `json:"supersedes,omitempty"`
	// IssuerKeyID is the lower-case hex key identifier of the CA that
	// signed the certificate (its AuthorityKeyId, the issuer's
	// SubjectKeyId). The registry fills it from DER when it records the
	// certificate; records older than the field get it from their DER
	// when a bulk revocation asks (IssuerKeyOf).
	IssuerKeyID string `json:"issuer_key_id,omitempty"`
}

// Actor says who asked for a change and from where; it goes into the audit log.
type Actor struct {
	Name   string `json:"name"`             // operator name, "device:<id>", or "system"
	Remote string `json:"remote,omitempty"` // remote address of the request
}

// AuditEvent is one entry of the append-only audit log.
type AuditEvent struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Remote string    `json:"remote,omitempty"`
	Action string    `json:"action"` // e.g. "device.register", "device.revoke", "cert.issue"
	Target string    `json:"target"` // device ID or certificate serial
	Detail string    `json:"detail,omitempty"`
}

// ChangeKind says what a Change is about.
type ChangeKind string

// Change kinds.
const (
	ChangeDevice ChangeKind = "device"      // a device's status changed
	ChangeCert   ChangeKind = "certificate" // a certificate's status changed
	// ChangeSession: a broker of the cluster admitted the device (etcd
	// only; see ClaimSession). Owner names that broker, Revision orders
	// the claims: the latest one holds the device's only session.
	ChangeSession ChangeKind = "session"
	// ChangeBarrier: a marker that follows every change committed before
	// it (AwaitEnforced). A broker confirms Revision once it has applied
	// them; it names no device.
	ChangeBarrier ChangeKind = "barrier"
)

// Change is one event of the change feed, published after its transaction
// committed.
type Change struct {
	Kind         ChangeKind   `json:"kind"`
	DeviceID     string       `json:"device_id"`
	Serial       string       `json:"serial,omitempty"`        // set for ChangeCert
	DeviceStatus DeviceStatus `json:"device_status,omitempty"` // set for ChangeDevice
	CertStatus   CertStatus   `json:"cert_status,omitempty"`   // set for ChangeCert
	Owner        string       `json:"owner,omitempty"`         // set for ChangeSession
	Revision     int64        `json:"revision,omitempty"`      // set for ChangeSession and ChangeBarrier
	Group        string       `json:"group,omitempty"`         // set for ChangeACL of a group
	Time         time.Time    `json:"time"`
}
