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
}

// BulkRevokeResult is the answer of POST PathRevocations. Selected,
// Revoked and AlreadyRevoked count devices for a group or a device list,
// certificates for an issuer.
type BulkRevokeResult struct {
	Selector       string `json:"selector"` // group:<name>, devices:<count> or issuer:<key ID>
	Selected       int    `json:"selected"`
	Revoked        int    `json:"revoked"`         // by this request
	AlreadyRevoked int    `json:"already_revoked"` // before this request
	Certificates   int    `json:"certificates"`    // certificates revoked by this request
}
