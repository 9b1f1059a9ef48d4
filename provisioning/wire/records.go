package wire

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

// Certificate states. Only an active certificate admits its device;
// superseded means the device connected with the certificate that rotated
// it out; revoked is final.
const (
	CertActive     CertStatus = "active"
	CertSuperseded CertStatus = "superseded"
	CertRevoked    CertStatus = "revoked"
)

// Attestation says how the CA convinced itself that a certificate's key
// belongs to the device.
type Attestation string

// Attestation kinds.
const (
	AttestOperator Attestation = "operator" // an operator submitted the CSR
	AttestTPM      Attestation = "tpm"      // the device's TPM certified the key
	AttestToken    Attestation = "token"    // the device presented a one-time token
	AttestForeign  Attestation = "foreign"  // issued by a registered foreign device CA, recorded on first connect
)

// Device is one registered device as the operator routes show it.
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

	// Set by factory pre-registration (EKHash) and TPM enrollment.
	EKHash   string `json:"ek_hash,omitempty"`   // hex SHA-256 of the EK public key
	AKPublic []byte `json:"ak_public,omitempty"` // TPM2B_PUBLIC of the attestation key
}

// Certificate is the record of one issued device certificate, without the
// certificate itself (CertificateDetail adds it as PEM).
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
	// KeyHash is the lower-case hex SHA-256 of the certificate's
	// SubjectPublicKeyInfo DER.
	KeyHash string `json:"key_hash,omitempty"`
	// Supersedes is the serial of the certificate this one replaced by
	// rotation.
	Supersedes string `json:"supersedes,omitempty"`
	// IssuerKeyID names the intermediate that signed the certificate: the
	// lower-case hex of its subject key identifier (the certificate's
	// authority key identifier), as the CRL URLs name it and as
	// `cert revoke --issuer` and the certificate count select by. Empty
	// when the server cannot tell.
	IssuerKeyID string `json:"issuer_key_id,omitempty"`
}

// Group is a group's enrollment policy. A group without a record has the
// default policy: no TPM requirement, no tokens.
type Group struct {
	Name string `json:"name"`
	// RequireTPM admits only TPM-attested certificates of the group's
	// devices at the broker.
	RequireTPM bool `json:"require_tpm"`
	// AllowTokens lets one-time tokens with software keys enroll devices
	// into the group.
	AllowTokens bool `json:"allow_tokens"`
	// Publish and Subscribe are ACL templates every device of the group
	// gets: topic filters with {id}, {group} and {meta.KEY}.
	Publish   []string `json:"publish,omitempty"`
	Subscribe []string `json:"subscribe,omitempty"`
	// Limits override the broker's per-device limits for the group's
	// devices; absent: the broker's defaults.
	Limits    *Limits   `json:"limits,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Limits are a group's per-device limits, the body of PUT PathGroupLimits.
// A zero field keeps the broker's default for it; all zero clears them.
type Limits struct {
	PublishRate      float64 `json:"publish_rate,omitempty"`      // PUBLISH packets per second
	PublishBurst     int     `json:"publish_burst,omitempty"`     // 0: twice the rate
	ByteRate         float64 `json:"byte_rate,omitempty"`         // payload bytes per second
	MaxSubscriptions int     `json:"max_subscriptions,omitempty"` // per session
	// RateAction: "throttle" (the default) or "disconnect" for a device
	// over its publish or byte rate.
	RateAction        string `json:"rate_action,omitempty"`
	MaxInflight       int    `json:"max_inflight,omitempty"`        // unacknowledged QoS 1/2 messages each way
	ConnectsPerMinute int    `json:"connects_per_minute,omitempty"` // CONNECTs per device identity
}

// Token is an enrollment token as listed: its hash and use, never the
// plaintext.
type Token struct {
	Hash      string    `json:"hash"` // SHA-256 of the plaintext, hex
	Group     string    `json:"group"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	UsedBy    string    `json:"used_by,omitempty"` // ID of the device it enrolled
	Serial    string    `json:"serial,omitempty"`  // the certificate it issued
}

// AuditEvent is one entry of the append-only audit log.
type AuditEvent struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"` // operator name, "device:<id>", or "system"
	Remote string    `json:"remote,omitempty"`
	Action string    `json:"action"` // e.g. "device.register", "device.revoke", "cert.issue"
	Target string    `json:"target"` // device ID or certificate serial
	Detail string    `json:"detail,omitempty"`
}
