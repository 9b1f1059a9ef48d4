package wire

// BulkRevokeRequest is the body of POST PathRevocations: exactly one of
// Group, Devices and IssuerKeyID, and a reason. All or nothing: an unknown
// group or device ID refuses the whole request (CodeNotFound, naming
// them), and repeating a request revokes nothing new.
type BulkRevokeRequest struct {
	// Group revokes every device of the group, with its certificates.
	Group string `json:"group,omitempty"`
	// Devices revokes these devices, with their certificates.
	Devices []string `json:"devices,omitempty"`
	// IssuerKeyID revokes every certificate signed by the CA whose
	// SubjectKeyId is this (lower-case hex); the devices stay registered
	// and may enroll again.
	IssuerKeyID string `json:"issuer_key_id,omitempty"`
	Reason      string `json:"reason"`
	// WaitMS bounds how long the answer waits for every broker to confirm
	// that it dropped the sessions the revocation ends (Enforcement):
	// absent, DefaultEnforceWaitMS; 0, no wait; at most MaxEnforceWaitMS.
	WaitMS *int64 `json:"wait_ms,omitempty"`
}

// Bounds of BulkRevokeRequest.WaitMS.
const (
	DefaultEnforceWaitMS = 10_000
	MaxEnforceWaitMS     = 600_000
)

// BulkRevokeResult is the answer of POST PathRevocations. Selected,
// Revoked and AlreadyRevoked count devices for a group or a device list,
// certificates for an issuer.
type BulkRevokeResult struct {
	Selector       string `json:"selector"` // group:<name>, devices:<count> or issuer:<key ID>
	Selected       int    `json:"selected"`
	Revoked        int    `json:"revoked"`         // by this request
	AlreadyRevoked int    `json:"already_revoked"` // before this request
	Certificates   int    `json:"certificates"`    // certificates revoked by this request
	// Enforcement: whether the brokers had dropped the sessions the
	// revocation ends when the answer was sent.
	Enforcement *Enforcement `json:"enforcement,omitempty"`
}

// Enforcement says how far the brokers had applied a change when the API
// answered. The API waits, after the change is written, until every broker
// following the registry has applied it (dropped the sessions it ends) or
// until its wait ends (BulkRevokeRequest.WaitMS).
type Enforcement struct {
	Brokers   int      `json:"brokers"`           // following the registry during the wait
	Confirmed int      `json:"confirmed"`         // of them, had applied the change
	Missing   []string `json:"missing,omitempty"` // those that had not: they may still hold sessions
	WaitedMS  float64  `json:"waited_ms"`
	// Error: the API could not learn whether the brokers applied it (the
	// registry did not answer); the revocation stands.
	Error string `json:"error,omitempty"`
}
